/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pe-memory.h"
#include "buf.h"

#define DOS_LFANEW_OFFSET 0x3c
#define PE_SIGNATURE_SIZE 4
#define COFF_HEADER_SIZE 20
#define SECTION_HEADER_SIZE 40

/* The 8-byte name field equals name (NUL-padded when shorter). */
static bool section_name_is(const uint8_t field[static 8], const char *name) {
        size_t n = stub_strlen8(name);

        if (n > 8)
                return false;
        for (size_t i = 0; i < 8; i++)
                if (field[i] != (i < n ? (uint8_t) name[i] : 0))
                        return false;
        return true;
}

EFI_STATUS stub_pe_locate_sections(
                const uint8_t *image, size_t image_size,
                const char *const names[], size_t n_names,
                stub_section ret_sections[]) {

        stub_section found[n_names];
        bool seen[n_names];
        uint32_t lfanew;
        uint16_t n_sections, opt_size;
        size_t table;

        if (image_size < DOS_LFANEW_OFFSET + 4 || image[0] != 'M' || image[1] != 'Z')
                return log_error_status(EFI_LOAD_ERROR, L"own image: no MZ header at offset 0");
        lfanew = measure_le32(image + DOS_LFANEW_OFFSET);
        if (lfanew > image_size || image_size - lfanew < PE_SIGNATURE_SIZE + COFF_HEADER_SIZE)
                return log_error_status(EFI_LOAD_ERROR, L"own image: PE header offset 0x%x outside the image", lfanew);
        if (image[lfanew] != 'P' || image[lfanew + 1] != 'E' || image[lfanew + 2] != 0 || image[lfanew + 3] != 0)
                return log_error_status(EFI_LOAD_ERROR, L"own image: no PE signature at offset 0x%x", lfanew);

        n_sections = measure_le16(image + lfanew + PE_SIGNATURE_SIZE + 2);
        opt_size = measure_le16(image + lfanew + PE_SIGNATURE_SIZE + 16);
        if (n_sections > STUB_PE_MAX_SECTIONS)
                return log_error_status(EFI_LOAD_ERROR, L"own image: %d sections (at most %d) at offset 0x%x",
                                        n_sections, STUB_PE_MAX_SECTIONS, lfanew + PE_SIGNATURE_SIZE + 2);
        table = (size_t) lfanew + PE_SIGNATURE_SIZE + COFF_HEADER_SIZE + opt_size;
        if (table > image_size || (image_size - table) / SECTION_HEADER_SIZE < n_sections)
                return log_error_status(EFI_LOAD_ERROR, L"own image: section table at offset 0x%lx outside the image",
                                        (uint64_t) table);

        for (size_t i = 0; i < n_names; i++)
                found[i] = (stub_section) {}, seen[i] = false;

        for (size_t s = 0; s < n_sections; s++) {
                const uint8_t *h = image + table + s * SECTION_HEADER_SIZE;
                uint32_t vsize = measure_le32(h + 8), vaddr = measure_le32(h + 12);

                for (size_t i = 0; i < n_names; i++) {
                        if (!section_name_is(h, names[i]))
                                continue;
                        if (seen[i])
                                return log_error_status(EFI_LOAD_ERROR,
                                                        L"own image: section %a appears twice (second header at offset 0x%lx)",
                                                        names[i], (uint64_t) (table + s * SECTION_HEADER_SIZE));
                        if (vaddr > image_size || image_size - vaddr < vsize)
                                return log_error_status(EFI_LOAD_ERROR,
                                                        L"own image: section %a (0x%x bytes at 0x%x) reaches outside the 0x%lx-byte image",
                                                        names[i], vsize, vaddr, (uint64_t) image_size);
                        seen[i] = true;
                        found[i] = (stub_section) { .data = image + vaddr, .size = vsize };
                }
        }

        for (size_t i = 0; i < n_names; i++)
                ret_sections[i] = found[i];
        return EFI_SUCCESS;
}
