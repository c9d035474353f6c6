/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The measurement contract between the stub and the predictor: the PE sections a UKI stub measures into
 * PCR 11, in the canonical order systemd-stub measures them (its UnifiedSection enum), whatever their order
 * in the PE section table. Header-only and freestanding, so the UEFI stub compiles it too.
 *
 * PLEASE DO NOT REORDER: the enum order IS the measurement order. */

#include <stdint.h>

typedef enum measure_uki_section {
        MEASURE_UKI_LINUX,
        MEASURE_UKI_OSREL,
        MEASURE_UKI_CMDLINE,
        MEASURE_UKI_INITRD,
        MEASURE_UKI_UCODE,
        MEASURE_UKI_SPLASH,
        MEASURE_UKI_DTB,
        MEASURE_UKI_UNAME,
        MEASURE_UKI_SBAT,
        MEASURE_UKI_PCRSIG, /* never measured: it signs the PCR 11 value itself */
        MEASURE_UKI_PCRPKEY,
        MEASURE_UKI_PROFILE,
        MEASURE_UKI_DTBAUTO,
        MEASURE_UKI_HWIDS,
        MEASURE_UKI_EFIFW,
        MEASURE_UKI_SECTION_MAX,
} measure_uki_section;

typedef struct measure_uki_section_info {
        const char *name;   /* PE section name, at most 8 bytes */
        uint16_t since;     /* first systemd-stub version that knows (and measures) the section */
} measure_uki_section_info;

static const measure_uki_section_info measure_uki_sections[MEASURE_UKI_SECTION_MAX] = {
        [MEASURE_UKI_LINUX] = { ".linux", 252 },
        [MEASURE_UKI_OSREL] = { ".osrel", 252 },
        [MEASURE_UKI_CMDLINE] = { ".cmdline", 252 },
        [MEASURE_UKI_INITRD] = { ".initrd", 252 },
        [MEASURE_UKI_UCODE] = { ".ucode", 256 },
        [MEASURE_UKI_SPLASH] = { ".splash", 252 },
        [MEASURE_UKI_DTB] = { ".dtb", 252 },
        [MEASURE_UKI_UNAME] = { ".uname", 254 },
        [MEASURE_UKI_SBAT] = { ".sbat", 254 },
        [MEASURE_UKI_PCRSIG] = { ".pcrsig", 252 },
        [MEASURE_UKI_PCRPKEY] = { ".pcrpkey", 252 },
        [MEASURE_UKI_PROFILE] = { ".profile", 257 },
        [MEASURE_UKI_DTBAUTO] = { ".dtbauto", 257 },
        [MEASURE_UKI_HWIDS] = { ".hwids", 257 },
        [MEASURE_UKI_EFIFW] = { ".efifw", 258 },
};

/* Lantern stub (thin layout) sections that carry no payload and are never measured: the ESP paths' hashes.
 * In the thin layout .linux/.initrd hold ESP paths, and what is measured is the file content they name. */
#define MEASURE_UKI_LINUX_HASH_SECTION ".linuxh"
#define MEASURE_UKI_INITRD_HASH_SECTION ".initrdh"
