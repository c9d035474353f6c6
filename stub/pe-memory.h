/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Finds named sections in a PE image as the firmware loaded it (ImageBase, ImageSize): the headers are
 * read in memory, and a section's bytes are [ImageBase + VirtualAddress, + VirtualSize), which is what
 * systemd-stub measures (the loader zero-fills past SizeOfRawData). */

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct stub_section {
        const uint8_t *data;
        size_t size;            /* VirtualSize */
} stub_section;

/* For each names[i], fills ret_sections[i] (absent: data NULL, size 0; present but empty: data set, size 0). Names match exactly (all 8 bytes
 * of the header field). A section named twice, or reaching outside the image, or headers that do not fit,
 * are refused with a message naming the offset. ret_sections is untouched on failure. */
EFI_STATUS stub_pe_locate_sections(
                const uint8_t *image, size_t image_size,
                const char *const names[], size_t n_names,
                stub_section ret_sections[]);
