/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pe-build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define SECTION_HEADER_SIZE 40
#define DIR_DEBUG 6
/* IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ: what objcopy gives an added data section. */
#define NEW_SECTION_CHARACTERISTICS UINT32_C(0x40000040)

static uint64_t align_up(uint64_t v, uint64_t a) {
        return (v + a - 1) / a * a;
}

int install_pe_parse_new(const void *data, size_t size, measure_pe_error *error, measure_pe **ret) {
        measure_pe *pe = malloc(sizeof(*pe));
        int r;

        if (!pe)
                return -ENOMEM;
        r = measure_pe_parse(data, size, MEASURE_PE_FILE, error, pe);
        if (r < 0) {
                free(pe);
                return r;
        }
        *ret = pe;
        return 0;
}

uint32_t install_pe_checksum(const uint8_t *data, size_t size, uint64_t checksum_offset) {
        uint64_t sum = 0;
        for (size_t i = 0; i < size; i += 2) {
                uint32_t w;
                if (i >= checksum_offset && i < checksum_offset + 4)
                        w = 0;
                else
                        w = data[i] | (i + 1 < size ? (uint32_t) data[i + 1] << 8 : 0);
                sum += w;
                sum = (sum & 0xffff) + (sum >> 16);
        }
        sum = (sum & 0xffff) + (sum >> 16);
        return (uint32_t) (sum + size);
}

static int fail(measure_pe_error *error, uint64_t offset, const char *what, int r) {
        if (error) {
                error->offset = offset;
                error->what = what;
        }
        return r;
}

int install_pe_add_sections(const void *data, size_t size, const install_pe_section *sections, size_t n,
                            measure_pe_error *error, uint8_t **ret, size_t *ret_size) {
        measure_pe *pe;
        uint32_t cert_off, cert_size;
        int r;

        if (!data || (n > 0 && !sections) || !ret || !ret_size)
                return -EINVAL;
        r = install_pe_parse_new(data, size, error, &pe);
        if (r < 0)
                return r;
        measure_pe_cert_table(pe, &cert_off, &cert_size);
        if (cert_size > 0) {
                r = fail(error, pe->data_dirs_offset + 8 * MEASURE_PE_DIR_SECURITY,
                         "the image is signed; sections must be added before signing", -EINVAL);
                goto finish;
        }
        if ((size_t) pe->n_sections + n > MEASURE_PE_MAX_SECTIONS) {
                r = fail(error, pe->section_table_offset, "too many sections", -E2BIG);
                goto finish;
        }
        if (pe->file_alignment == 0 || pe->section_alignment == 0) {
                r = fail(error, pe->optional_header_offset, "zero FileAlignment or SectionAlignment", -EBADMSG);
                goto finish;
        }

        /* Where the sections' raw data and the image's memory end, and where the first section's data starts.
         * Anything after the sections' raw data (the COFF symbol and string tables objcopy leaves in the
         * stub) is trailer: it moves behind the new sections, as objcopy moves it. */
        uint64_t raw_end = pe->size_of_headers, mem_end = pe->size_of_image, first_raw = UINT64_MAX;
        for (size_t i = 0; i < pe->n_sections; i++) {
                const measure_pe_section *s = &pe->sections[i];
                uint64_t vs = s->virtual_size > s->size_of_raw_data ? s->virtual_size : s->size_of_raw_data;
                if (s->virtual_address + vs > mem_end)
                        mem_end = s->virtual_address + vs;
                if (s->size_of_raw_data == 0)
                        continue;
                if (s->pointer_to_raw_data + (uint64_t) s->size_of_raw_data > raw_end)
                        raw_end = s->pointer_to_raw_data + (uint64_t) s->size_of_raw_data;
                if (s->pointer_to_raw_data < first_raw)
                        first_raw = s->pointer_to_raw_data;
        }
        if (raw_end > size) {
                r = fail(error, pe->section_table_offset, "section data extends past the end of the file", -EBADMSG);
                goto finish;
        }
        uint64_t trailer = size - raw_end;
        uint32_t sym = measure_le32((const uint8_t *) data + pe->pe_offset + 12);
        if (sym != 0 && (sym < raw_end || sym > size)) {
                r = fail(error, pe->pe_offset + 12, "the COFF symbol table is not behind the section data", -ENOTSUP);
                goto finish;
        }
        mem_end = align_up(mem_end, pe->section_alignment);

        /* Room for the new section headers. */
        uint64_t table_end = pe->section_table_offset + (uint64_t) (pe->n_sections + n) * SECTION_HEADER_SIZE;
        uint64_t headers = pe->size_of_headers, shift = 0;
        if (table_end > headers) {
                headers = align_up(table_end, pe->file_alignment);
                if (first_raw != UINT64_MAX && headers > first_raw) {
                        bool debug = pe->n_data_dirs > DIR_DEBUG && pe->data_dirs[DIR_DEBUG].size > 0;
                        if (debug) {
                                r = fail(error, pe->section_table_offset,
                                         "no room for more section headers, and the raw data cannot move "
                                         "(debug directory)", -ENOTSUP);
                                goto finish;
                        }
                        shift = headers - first_raw;
                }
        }

        /* Lay out the new sections: their raw data right behind the old sections' (FileAlignment apart). */
        uint64_t new_raw = align_up(raw_end + shift, pe->file_alignment), added = 0, vma = mem_end;
        for (size_t i = 0; i < n; i++) {
                size_t len = sections[i].name ? strlen(sections[i].name) : 0;
                if (len == 0 || len > 8 || sections[i].size == 0 || !sections[i].data) {
                        r = fail(error, 0, "bad section name or empty section data", -EINVAL);
                        goto finish;
                }
                if (sections[i].size > INSTALL_PE_MAX_SIZE) {
                        r = fail(error, 0, "section data too large", -E2BIG);
                        goto finish;
                }
                added += align_up(sections[i].size, pe->file_alignment);
                vma = align_up(vma + sections[i].size, pe->section_alignment);
                if (new_raw + added + trailer > INSTALL_PE_MAX_SIZE || vma > UINT32_MAX) {
                        r = fail(error, 0, "the image would be too large", -E2BIG);
                        goto finish;
                }
        }
        /* With sections added, the file ends 8-byte aligned, so that signing (which appends the certificate
         * table at an 8-byte boundary) pads nothing and leaves the Authenticode hash as it is. */
        uint64_t out_size = n > 0 ? align_up(new_raw + added + trailer, 8) : size + shift;

        uint8_t *out = calloc(1, out_size);
        if (!out) {
                r = -ENOMEM;
                goto finish;
        }
        /* Headers stay in place; old section data moves down by shift; the trailer goes behind the new data. */
        memcpy(out, data, pe->size_of_headers);
        memcpy(out + pe->size_of_headers + shift, (const uint8_t *) data + pe->size_of_headers,
               raw_end - pe->size_of_headers);
        uint64_t trailer_at = n > 0 ? new_raw + added : raw_end + shift;
        memcpy(out + trailer_at, (const uint8_t *) data + raw_end, trailer);
        for (size_t i = 0; shift > 0 && i < pe->n_sections; i++) {
                uint8_t *h = out + pe->section_table_offset + i * SECTION_HEADER_SIZE;
                if (pe->sections[i].size_of_raw_data > 0)
                        measure_put_le32(h + 20, pe->sections[i].pointer_to_raw_data + (uint32_t) shift);
        }
        if (sym != 0)
                measure_put_le32(out + pe->pe_offset + 12, (uint32_t) (sym - raw_end + trailer_at));

        uint64_t raw = new_raw;
        vma = mem_end;
        uint32_t added_raw = (uint32_t) added;
        for (size_t i = 0; i < n; i++) {
                uint8_t *h = out + pe->section_table_offset + (pe->n_sections + i) * SECTION_HEADER_SIZE;
                uint32_t raw_size = (uint32_t) align_up(sections[i].size, pe->file_alignment);
                memset(h, 0, SECTION_HEADER_SIZE);
                memcpy(h, sections[i].name, strlen(sections[i].name));
                measure_put_le32(h + 8, (uint32_t) sections[i].size);   /* VirtualSize: exactly the data */
                measure_put_le32(h + 12, (uint32_t) vma);               /* VirtualAddress */
                measure_put_le32(h + 16, raw_size);                     /* SizeOfRawData */
                measure_put_le32(h + 20, (uint32_t) raw);               /* PointerToRawData */
                measure_put_le32(h + 36, NEW_SECTION_CHARACTERISTICS);
                memcpy(out + raw, sections[i].data, sections[i].size);
                raw += raw_size;
                vma = align_up(vma + sections[i].size, pe->section_alignment);
        }

        uint64_t opt = pe->optional_header_offset;
        measure_put_le16(out + pe->pe_offset + 6, (uint16_t) (pe->n_sections + n));
        measure_put_le32(out + opt + 8, measure_le32(out + opt + 8) + added_raw); /* SizeOfInitializedData */
        measure_put_le32(out + opt + 56, (uint32_t) vma);                 /* SizeOfImage */
        measure_put_le32(out + opt + 60, (uint32_t) headers);             /* SizeOfHeaders */
        measure_put_le32(out + pe->checksum_offset, install_pe_checksum(out, out_size, pe->checksum_offset));

        *ret = out;
        *ret_size = out_size;
        r = 0;
finish:
        free(pe);
        return r;
}
