/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The headers are parsed by measure/pe.c (MEASURE_PE_LOADED), the same parser the predictor and
 * `lantern pe` use on files; this file only maps names to in-memory ranges and refuses ambiguity. */

#include "pe-memory.h"
#include "pe.h"

EFI_STATUS stub_pe_locate_sections(
                const uint8_t *image, size_t image_size,
                const char *const names[], size_t n_names,
                stub_section ret_sections[]) {

        static measure_pe pe;   /* a few KiB: kept off the firmware's small stack */
        measure_pe_error error = {};
        stub_section found[n_names];

        if (measure_pe_parse(image, image_size, MEASURE_PE_LOADED, &error, &pe) < 0)
                return log_error_status(EFI_LOAD_ERROR, L"own image: %a at offset 0x%lx",
                                        error.what ? error.what : "malformed PE headers", error.offset);

        for (size_t i = 0; i < n_names; i++) {
                int s = measure_pe_find_section(&pe, names[i], MEASURE_PE_MATCH_EXACT_FIRST, 0, pe.n_sections);
                const measure_pe_section *h;

                found[i] = (stub_section) {};
                if (s < 0)
                        continue;
                if (measure_pe_find_section(&pe, names[i], MEASURE_PE_MATCH_EXACT_FIRST, (size_t) s + 1,
                                            pe.n_sections) >= 0)
                        return log_error_status(EFI_LOAD_ERROR,
                                                L"own image: section %a appears twice (first header at offset 0x%lx)",
                                                names[i], pe.section_table_offset + (uint64_t) s * 40);
                h = &pe.sections[s];
                if (h->virtual_address > image_size || image_size - h->virtual_address < h->virtual_size)
                        return log_error_status(EFI_LOAD_ERROR,
                                                L"own image: section %a (0x%x bytes at 0x%x) reaches outside the 0x%lx-byte image",
                                                names[i], h->virtual_size, h->virtual_address, (uint64_t) image_size);
                found[i] = (stub_section) { .data = image + h->virtual_address, .size = h->virtual_size };
        }

        for (size_t i = 0; i < n_names; i++)
                ret_sections[i] = found[i];
        return EFI_SUCCESS;
}
