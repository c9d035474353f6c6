/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: stub identification and the UKI measurement plan in both layouts, and the PCR 11 fold. */
#include <stddef.h>
#include <stdint.h>

#include "pe.h"
#include "uki.h"

static volatile uint8_t sink;

/* Hashing gigabytes of zero fill is correct but too slow for a fuzzer iteration. */
#define MAX_ZERO_FILL (1u << 20)

static void run(const uint8_t *data, size_t size, measure_pe_layout layout) {
        const measure_alg *algs[2] = { measure_alg_by_name("sha1"), measure_alg_by_name("sha256") };
        uint8_t v[2][MEASURE_DIGEST_MAX];
        measure_pe_error err;
        measure_uki_plan plan;
        measure_pe pe;
        uint64_t fill = 0;
        /* Thin-layout files: stand-in content, so the external path of the fold runs too. */
        measure_uki_external ext[MEASURE_UKI_SECTION_MAX];
        for (size_t i = 0; i < MEASURE_UKI_SECTION_MAX; i++)
                ext[i] = (measure_uki_external) { .data = data, .size = size < 64 ? size : 64 };

        if (measure_pe_parse(data, size, layout, &err, &pe) < 0)
                return;
        if (measure_uki_plan_build(&pe, data, size, &err, &plan) < 0)
                return;
        for (size_t i = 0; i < plan.n; i++) {
                /* Every planned range must lie inside the input. */
                if (plan.m[i].offset > size || plan.m[i].length > size - plan.m[i].offset)
                        __builtin_trap();
                fill += plan.m[i].zero_fill;
                if (plan.m[i].external) {
                        char p[MEASURE_UKI_THIN_PATH_MAX + 1];
                        const uint8_t *sha;
                        if (measure_uki_thin_file(&pe, data, size, &plan.m[i], p, &sha) < 0)
                                __builtin_trap();
                        sink = sha[0] ^ sha[MEASURE_UKI_THIN_HASH_SIZE - 1];
                }
        }
        if (fill <= MAX_ZERO_FILL && measure_uki_plan_fold(&plan, data, size, ext, algs, 2, v) < 0)
                __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        run(data, size, MEASURE_PE_FILE);
        run(data, size, MEASURE_PE_LOADED);
        return 0;
}
