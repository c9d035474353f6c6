/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PE/COFF headers (Microsoft "PE Format"), checked field by field. Freestanding: no libc beyond
 * memcmp/memcpy/memset, no allocation. */

#include "pe.h"

#if __STDC_HOSTED__
#  include <errno.h>
#  include <string.h>
#else
#  define ENOENT 2
#  define E2BIG 7
#  define EINVAL 22
#  define EBADMSG 74
int memcmp(const void *a, const void *b, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
#endif

#define DOS_HEADER_SIZE 64
#define DOS_LFANEW_OFFSET 0x3c
#define COFF_HEADER_SIZE 20
#define SECTION_HEADER_SIZE 40
/* Optional header: size of the fixed part (everything before the data directories), per magic. */
#define OPT_FIXED_PE32 96
#define OPT_FIXED_PE32_PLUS 112

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
        return (uint64_t) le32(p + 4) << 32 | le32(p);
}

static int fail(measure_pe_error *error, uint64_t offset, const char *what, int r) {
        if (error) {
                error->offset = offset;
                error->what = what;
        }
        return r;
}

/* True when [a, a+an) and [b, b+bn) share a byte. */
static bool ranges_overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
        return an > 0 && bn > 0 && a < b + bn && b < a + an;
}

static int parse_sections(const uint8_t *p, measure_pe *pe, measure_pe_error *error) {
        for (size_t i = 0; i < pe->n_sections; i++) {
                uint64_t h = pe->section_table_offset + (uint64_t) i * SECTION_HEADER_SIZE;
                measure_pe_section *s = &pe->sections[i];

                memcpy(s->name, p + h, 8);
                s->name[8] = 0;
                s->virtual_size = le32(p + h + 8);
                s->virtual_address = le32(p + h + 12);
                s->size_of_raw_data = le32(p + h + 16);
                s->pointer_to_raw_data = le32(p + h + 20);
                s->characteristics = le32(p + h + 36);

                if ((uint64_t) s->virtual_address + s->virtual_size > UINT32_MAX)
                        return fail(error, h + 8, "section's VirtualAddress + VirtualSize overflows", -EBADMSG);
                if (s->virtual_size > 0 && s->virtual_address < pe->size_of_headers)
                        return fail(error, h + 12, "section's VirtualAddress lies inside the headers", -EBADMSG);
                if (pe->layout == MEASURE_PE_FILE && s->size_of_raw_data > 0) {
                        if (s->pointer_to_raw_data < pe->size_of_headers)
                                return fail(error, h + 20, "section data overlaps the headers", -EBADMSG);
                        if ((uint64_t) s->pointer_to_raw_data + s->size_of_raw_data > pe->size)
                                return fail(error, h + 16, "section data extends past the end of the file",
                                            -EBADMSG);
                }
                if (pe->layout == MEASURE_PE_LOADED &&
                    (uint64_t) s->virtual_address + s->virtual_size > pe->size)
                        return fail(error, h + 8, "section extends past the end of the loaded image", -EBADMSG);

                for (size_t j = 0; j < i; j++) {
                        const measure_pe_section *o = &pe->sections[j];
                        if (ranges_overlap(s->virtual_address, s->virtual_size, o->virtual_address,
                                           o->virtual_size))
                                return fail(error, h + 12, "section overlaps an earlier section in memory",
                                            -EBADMSG);
                        if (pe->layout == MEASURE_PE_FILE &&
                            ranges_overlap(s->pointer_to_raw_data, s->size_of_raw_data, o->pointer_to_raw_data,
                                           o->size_of_raw_data))
                                return fail(error, h + 20, "section data overlaps an earlier section's data",
                                            -EBADMSG);
                }
        }
        return 0;
}

int measure_pe_parse(const void *data, size_t size, measure_pe_layout layout, measure_pe_error *error,
                     measure_pe *ret) {
        const uint8_t *p = data;
        measure_pe pe;
        uint64_t coff, opt, fixed, dirs_end, table_end;

        if ((!data && size > 0) || !ret || (layout != MEASURE_PE_FILE && layout != MEASURE_PE_LOADED))
                return fail(error, 0, "invalid arguments", -EINVAL);

        memset(&pe, 0, sizeof(pe));
        pe.layout = layout;
        pe.size = size;

        /* DOS header: "MZ", and e_lfanew at 0x3c pointing at the PE signature. */
        if (size < DOS_HEADER_SIZE)
                return fail(error, size, "file too short for a DOS header (64 bytes)", -EBADMSG);
        if (p[0] != 'M' || p[1] != 'Z')
                return fail(error, 0, "no MZ signature", -EBADMSG);
        pe.pe_offset = le32(p + DOS_LFANEW_OFFSET);
        if (pe.pe_offset < DOS_HEADER_SIZE)
                return fail(error, DOS_LFANEW_OFFSET, "e_lfanew points into the DOS header", -EBADMSG);
        if ((uint64_t) pe.pe_offset + 4 + COFF_HEADER_SIZE > size)
                return fail(error, DOS_LFANEW_OFFSET, "e_lfanew points past the end of the file", -EBADMSG);
        if (memcmp(p + pe.pe_offset, "PE\0\0", 4) != 0)
                return fail(error, pe.pe_offset, "no PE signature at e_lfanew", -EBADMSG);

        /* COFF file header. */
        coff = (uint64_t) pe.pe_offset + 4;
        pe.machine = le16(p + coff);
        pe.n_sections = le16(p + coff + 2);
        pe.optional_header_size = le16(p + coff + 16);
        pe.characteristics = le16(p + coff + 18);
        if (pe.n_sections > MEASURE_PE_MAX_SECTIONS)
                return fail(error, coff + 2, "NumberOfSections is larger than 96", -E2BIG);

        /* Optional header. */
        opt = coff + COFF_HEADER_SIZE;
        pe.optional_header_offset = opt;
        if (pe.optional_header_size < 2)
                return fail(error, coff + 16, "SizeOfOptionalHeader is too small", -EBADMSG);
        if (opt + pe.optional_header_size > size)
                return fail(error, coff + 16, "optional header extends past the end of the file", -EBADMSG);
        pe.magic = le16(p + opt);
        if (pe.magic == MEASURE_PE_MAGIC_PE32)
                fixed = OPT_FIXED_PE32;
        else if (pe.magic == MEASURE_PE_MAGIC_PE32_PLUS)
                fixed = OPT_FIXED_PE32_PLUS;
        else
                return fail(error, opt, "unknown optional header magic (not PE32 or PE32+)", -EBADMSG);
        if (pe.optional_header_size < fixed)
                return fail(error, coff + 16, "SizeOfOptionalHeader is too small for its magic", -EBADMSG);

        pe.entry_point = le32(p + opt + 16);
        pe.image_base = pe.magic == MEASURE_PE_MAGIC_PE32 ? le32(p + opt + 28) : le64(p + opt + 24);
        pe.section_alignment = le32(p + opt + 32);
        pe.file_alignment = le32(p + opt + 36);
        pe.size_of_image = le32(p + opt + 56);
        pe.size_of_headers = le32(p + opt + 60);
        pe.checksum_offset = opt + 64;
        pe.checksum = le32(p + opt + 64);
        pe.subsystem = le16(p + opt + 68);
        pe.n_data_dirs = le32(p + opt + fixed - 4);
        pe.data_dirs_offset = opt + fixed;
        if (pe.n_data_dirs > MEASURE_PE_MAX_DATA_DIRS)
                return fail(error, opt + fixed - 4, "NumberOfRvaAndSizes is larger than 16", -E2BIG);
        dirs_end = fixed + 8 * (uint64_t) pe.n_data_dirs;
        if (dirs_end > pe.optional_header_size)
                return fail(error, opt + fixed - 4, "data directories do not fit in the optional header",
                            -EBADMSG);
        for (uint32_t i = 0; i < pe.n_data_dirs; i++) {
                pe.data_dirs[i].virtual_address = le32(p + opt + fixed + 8 * i);
                pe.data_dirs[i].size = le32(p + opt + fixed + 8 * i + 4);
        }

        /* Section table, which SizeOfHeaders must cover. */
        pe.section_table_offset = opt + pe.optional_header_size;
        table_end = pe.section_table_offset + (uint64_t) pe.n_sections * SECTION_HEADER_SIZE;
        if (table_end > size)
                return fail(error, pe.section_table_offset, "section table extends past the end of the file",
                            -EBADMSG);
        if (pe.size_of_headers < table_end)
                return fail(error, opt + 60, "SizeOfHeaders does not cover the section table", -EBADMSG);
        if (pe.size_of_headers > size)
                return fail(error, opt + 60, "SizeOfHeaders is larger than the file", -EBADMSG);

        int r = parse_sections(p, &pe, error);
        if (r < 0)
                return r;

        /* The certificate table is not loaded into memory; in a file it must lie after the headers. */
        if (layout == MEASURE_PE_FILE && pe.n_data_dirs > MEASURE_PE_DIR_SECURITY &&
            pe.data_dirs[MEASURE_PE_DIR_SECURITY].size > 0) {
                const measure_pe_data_dir *d = &pe.data_dirs[MEASURE_PE_DIR_SECURITY];
                uint64_t at = pe.data_dirs_offset + 8 * MEASURE_PE_DIR_SECURITY;
                if (d->virtual_address < pe.size_of_headers)
                        return fail(error, at, "certificate table overlaps the headers", -EBADMSG);
                if ((uint64_t) d->virtual_address + d->size > size)
                        return fail(error, at, "certificate table extends past the end of the file", -EBADMSG);
                for (size_t i = 0; i < pe.n_sections; i++)
                        if (ranges_overlap(d->virtual_address, d->size, pe.sections[i].pointer_to_raw_data,
                                           pe.sections[i].size_of_raw_data))
                                return fail(error, at, "certificate table overlaps section data", -EBADMSG);
        }

        memcpy(ret, &pe, sizeof(pe));
        return 0;
}

static size_t name_length(const char *name) {
        size_t n = 0;
        while (n < 9 && name[n])
                n++;
        return n;
}

int measure_pe_find_section(const measure_pe *pe, const char *name, measure_pe_match match, size_t first,
                            size_t end) {
        size_t len = name_length(name);
        int found = -ENOENT;

        if (len == 0 || len > 8)
                return -EINVAL;
        if (end > pe->n_sections)
                end = pe->n_sections;
        for (size_t i = first; i < end; i++) {
                const char *n = pe->sections[i].name;
                if (memcmp(n, name, len) != 0)
                        continue;
                if (match == MEASURE_PE_MATCH_PREFIX_LAST) {
                        found = (int) i; /* systemd-stub <= 256: keep looking, the last one wins */
                        continue;
                }
                if (len == 8 || n[len] == 0)
                        return (int) i;
        }
        return found;
}

uint64_t measure_pe_section_offset(const measure_pe *pe, const measure_pe_section *s) {
        /* A section with no stored bytes (SizeOfRawData 0: all zero fill) has no meaningful position; its
         * PointerToRawData is unchecked, so never hand it out. */
        if (measure_pe_section_stored(pe, s) == 0)
                return 0;
        return pe->layout == MEASURE_PE_LOADED ? s->virtual_address : s->pointer_to_raw_data;
}

uint32_t measure_pe_section_stored(const measure_pe *pe, const measure_pe_section *s) {
        if (pe->layout == MEASURE_PE_LOADED)
                return s->virtual_size;
        return s->virtual_size < s->size_of_raw_data ? s->virtual_size : s->size_of_raw_data;
}

void measure_pe_cert_table(const measure_pe *pe, uint32_t *ret_offset, uint32_t *ret_size) {
        uint32_t off = 0, sz = 0;
        if (pe->layout == MEASURE_PE_FILE && pe->n_data_dirs > MEASURE_PE_DIR_SECURITY) {
                off = pe->data_dirs[MEASURE_PE_DIR_SECURITY].virtual_address;
                sz = pe->data_dirs[MEASURE_PE_DIR_SECURITY].size;
        }
        if (ret_offset)
                *ret_offset = sz ? off : 0;
        if (ret_size)
                *ret_size = sz;
}

const char *measure_pe_format_name(const measure_pe *pe) {
        return pe->magic == MEASURE_PE_MAGIC_PE32 ? "PE32" : "PE32+";
}
