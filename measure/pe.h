/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PE/COFF header parser: DOS header, PE signature, COFF header, optional header (PE32 and PE32+), data
 * directories and the section table. It only reads and checks headers; it never allocates and fills a
 * caller-provided struct, so the same file builds freestanding for the UEFI stub (needs memcmp/memcpy/memset
 * only) and hosted for the tools.
 *
 * Two layouts can be parsed:
 *   MEASURE_PE_FILE:   the bytes of a PE file as stored on disk (sections at PointerToRawData);
 *   MEASURE_PE_LOADED: an image as a UEFI loader placed it in memory (sections at VirtualAddress, the buffer
 *                      is SizeOfImage bytes long), which is what the stub sees of itself. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* systemd's MAX_SECTIONS: more sections than this is refused as absurd. */
#define MEASURE_PE_MAX_SECTIONS 96
#define MEASURE_PE_MAX_DATA_DIRS 16

#define MEASURE_PE_MAGIC_PE32 0x10b
#define MEASURE_PE_MAGIC_PE32_PLUS 0x20b

/* Data directory indices (PE/COFF spec "Optional Header Data Directories"). */
enum {
        MEASURE_PE_DIR_EXPORT = 0,
        MEASURE_PE_DIR_IMPORT = 1,
        MEASURE_PE_DIR_SECURITY = 4, /* the certificate table; its VirtualAddress is a file offset */
        MEASURE_PE_DIR_BASERELOC = 5,
};

typedef enum measure_pe_layout {
        MEASURE_PE_FILE,
        MEASURE_PE_LOADED,
} measure_pe_layout;

/* How a section name is matched: systemd-stub <= 256 compares strlen(name) bytes (so ".linux" also matches
 * ".linuxh") and the last matching section wins; newer systemd-stub compares the whole 8-byte name and the
 * first match wins. */
typedef enum measure_pe_match {
        MEASURE_PE_MATCH_PREFIX_LAST,
        MEASURE_PE_MATCH_EXACT_FIRST,
} measure_pe_match;

typedef struct measure_pe_section {
        char name[9];                 /* the 8 raw name bytes, NUL-terminated */
        uint32_t virtual_size;
        uint32_t virtual_address;
        uint32_t size_of_raw_data;
        uint32_t pointer_to_raw_data;
        uint32_t characteristics;
} measure_pe_section;

typedef struct measure_pe_data_dir {
        uint32_t virtual_address;
        uint32_t size;
} measure_pe_data_dir;

typedef struct measure_pe {
        measure_pe_layout layout;
        uint64_t size;                  /* size of the parsed buffer */
        uint32_t pe_offset;             /* e_lfanew: offset of "PE\0\0" */
        uint16_t machine;
        uint16_t characteristics;
        uint16_t magic;                 /* MEASURE_PE_MAGIC_PE32 or _PE32_PLUS */
        uint16_t subsystem;
        uint64_t image_base;
        uint32_t entry_point;
        uint32_t section_alignment;
        uint32_t file_alignment;
        uint32_t size_of_image;
        uint32_t size_of_headers;
        uint32_t checksum;
        uint64_t optional_header_offset;
        uint16_t optional_header_size;
        uint64_t checksum_offset;       /* file offset of the CheckSum field */
        uint32_t n_data_dirs;           /* NumberOfRvaAndSizes */
        uint64_t data_dirs_offset;      /* file offset of data directory 0 */
        measure_pe_data_dir data_dirs[MEASURE_PE_MAX_DATA_DIRS];
        uint64_t section_table_offset;
        uint16_t n_sections;
        measure_pe_section sections[MEASURE_PE_MAX_SECTIONS];
} measure_pe;

/* Where and why parsing failed. what is a static string. */
typedef struct measure_pe_error {
        uint64_t offset;
        const char *what;
} measure_pe_error;

/* Parses and checks the headers of the PE in data[0..size). On failure returns -EBADMSG (malformed),
 * -E2BIG (absurd counts) or -EINVAL (bad arguments), fills *error (if not NULL) and leaves *ret untouched. */
int measure_pe_parse(const void *data, size_t size, measure_pe_layout layout, measure_pe_error *error,
                     measure_pe *ret);

/* Looks up a section in sections [first, end) of the table the way match says. name has at most 8
 * characters. Returns the section index or -ENOENT. */
int measure_pe_find_section(const measure_pe *pe, const char *name, measure_pe_match match, size_t first,
                            size_t end);

/* Offset of a section's first byte in the parsed buffer (PointerToRawData or VirtualAddress by layout),
 * and how many bytes of it the buffer holds (MIN(VirtualSize, SizeOfRawData) for files, VirtualSize for
 * loaded images). Bytes from there up to VirtualSize are zeros in memory. The offset is 0 when nothing is
 * stored. */
uint64_t measure_pe_section_offset(const measure_pe *pe, const measure_pe_section *s);
uint32_t measure_pe_section_stored(const measure_pe *pe, const measure_pe_section *s);

/* The certificate table (data directory 4) as a file range; *ret_size = 0 when the file is not signed. */
void measure_pe_cert_table(const measure_pe *pe, uint32_t *ret_offset, uint32_t *ret_size);

/* "PE32", "PE32+". */
const char *measure_pe_format_name(const measure_pe *pe);
