/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the PE/COFF parser in both layouts, section lookup, and the Authenticode hash. */
#include <stddef.h>
#include <stdint.h>

#include "authenticode.h"
#include "pe.h"

static volatile uint8_t sink;

/* Reads every byte the parser says a section holds, so ASan sees any range outside the input. */
static void touch_sections(const measure_pe *pe, const uint8_t *data) {
        uint8_t x = 0;
        for (size_t i = 0; i < pe->n_sections; i++) {
                uint64_t off = measure_pe_section_offset(pe, &pe->sections[i]);
                uint32_t n = measure_pe_section_stored(pe, &pe->sections[i]);
                for (uint32_t k = 0; k < n; k += 511)
                        x ^= data[off + k];
                if (n > 0)
                        x ^= data[off + n - 1];
        }
        sink = x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const names[] = { ".linux", ".initrd", ".sdmagic", ".text", ".l" };
        measure_pe pe;
        measure_pe_error err;

        if (measure_pe_parse(data, size, MEASURE_PE_FILE, &err, &pe) == 0) {
                const measure_alg *algs[2] = { measure_alg_by_name("sha256"), measure_alg_by_name("sha1") };
                uint8_t d[2][MEASURE_DIGEST_MAX];
                uint32_t off, sz;

                touch_sections(&pe, data);
                for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                        (void) measure_pe_find_section(&pe, names[i], MEASURE_PE_MATCH_PREFIX_LAST, 0, pe.n_sections);
                        (void) measure_pe_find_section(&pe, names[i], MEASURE_PE_MATCH_EXACT_FIRST, 0, pe.n_sections);
                }
                measure_pe_cert_table(&pe, &off, &sz);
                if (sz > 0)
                        sink = data[off] ^ data[(uint64_t) off + sz - 1];
                (void) measure_authenticode_hash(&pe, data, size, algs, 2, d);
        }
        if (measure_pe_parse(data, size, MEASURE_PE_LOADED, &err, &pe) == 0)
                touch_sections(&pe, data);
        return 0;
}
