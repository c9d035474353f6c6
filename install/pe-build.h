/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Adding sections to a PE image, like `objcopy --add-section NAME=FILE --change-section-vma NAME=ADDR`:
 * each new section goes page-aligned (SectionAlignment) above the last one in memory and at the end of the
 * file, with VirtualSize = the exact data length (what a stub measures) and SizeOfRawData padded to
 * FileAlignment. NumberOfSections, SizeOfImage, SizeOfInitializedData, SizeOfHeaders and CheckSum are fixed
 * up. This is how the installer turns the Lantern stub into one boot entry (.osrel, .cmdline, .linux,
 * .linuxh, .initrd, .initrdh). */

#include <stddef.h>
#include <stdint.h>

#include "pe.h"

/* Largest image the builder produces. */
#define INSTALL_PE_MAX_SIZE (UINT32_C(1) << 30)

typedef struct install_pe_section {
        const char *name; /* 1 to 8 bytes */
        const void *data;
        size_t size;      /* > 0 */
} install_pe_section;

/* Builds a copy of the unsigned PE file data[0..size) with n sections appended. When the headers have no
 * room for the new section headers, SizeOfHeaders grows and the raw data of every section moves down by a
 * multiple of FileAlignment (refused with -ENOTSUP when the image has a debug directory, whose file offsets
 * would go stale). Data behind the sections (the COFF symbol and string tables) moves behind the new
 * sections and PointerToSymbolTable follows, as objcopy does it. Returns 0, -EBADMSG (data is not a well-formed PE; *error
 * says where), -EINVAL (a signed image: sign after building; a bad section name or size), -E2BIG (too many
 * sections or too large) or -ENOMEM. *ret is malloc'd. */
int install_pe_add_sections(const void *data, size_t size, const install_pe_section *sections, size_t n,
                            measure_pe_error *error, uint8_t **ret, size_t *ret_size);

/* measure_pe_parse() of a whole PE file into a measure_pe allocated here (it is large): 0 with *ret to free,
 * -ENOMEM, or the parse error (described in *error when given), *ret untouched. */
int install_pe_parse_new(const void *data, size_t size, measure_pe_error *error, measure_pe **ret);

/* The PE optional header CheckSum of a file (ImageHlp's CheckSumMappedFile): the 16-bit one's-complement
 * style sum of the file, the CheckSum field itself read as zero, plus the file length. */
uint32_t install_pe_checksum(const uint8_t *data, size_t size, uint64_t checksum_offset);
