/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCR 4, 7, 9 and 12 of one boot entry started by systemd-boot through the Lantern stub, after the firmware
 * part read from an event log (predict-firmware.h):
 *   PCR 4  firmware part, then the Authenticode hashes of the boot manager and of the entry's stub, then,
 *          with Secure Boot off, of the kernel the stub starts with LoadImage() (under Secure Boot the stub's
 *          security override keeps the firmware from measuring it, as with systemd-stub 252);
 *   PCR 7  the firmware part (the stub is assumed signed by the db certificate that verified the boot
 *          manager, which the firmware logs only once);
 *   PCR 12 systemd-boot 252-254 measures the entry's .cmdline (as it converts it, predict-loadoptions.h) and
 *          passes it as LoadOptions; the stub uses and measures them again when Secure Boot is off; systemd-boot
 *          255 and later neither measure nor pass them, so nothing goes to PCR 12;
 *   PCR 9  Linux measures the LoadOptions it got from the stub, then the initrd it receives via LoadFile2. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "predict-filehash.h"
#include "predict-firmware.h"

/* systemd-boot assumed when its version is not known (Debian 12's). */
#define PREDICT_SDBOOT_DEFAULT_VERSION 252

typedef struct predict_boot_inputs {
        const predict_firmware *firmware;
        unsigned sdboot_version;                              /* systemd-boot major version */
        const uint8_t (*boot_manager)[MEASURE_DIGEST_MAX];    /* Authenticode per bank; NULL: as in the log */
        const uint8_t (*stub)[MEASURE_DIGEST_MAX];            /* Authenticode per bank; NULL: PCR 4 unknown */
        const uint8_t (*kernel)[MEASURE_DIGEST_MAX];          /* Authenticode per bank; NULL: not a PE */
        const uint8_t (*initrd)[MEASURE_DIGEST_MAX];          /* digest of the initrd bytes; NULL: none */
        const char *cmdline;                                  /* the stub's .cmdline bytes */
        size_t cmdline_size;
} predict_boot_inputs;

typedef struct predict_boot_pcrs {
        uint8_t pcr4[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint8_t pcr7[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint8_t pcr9[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint8_t pcr12[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        const char *pcr4_unknown; /* why PCR 4 is not predicted, or NULL */
} predict_boot_pcrs;

int predict_boot_compute(const predict_boot_inputs *in, const measure_alg *const *banks, size_t n_banks,
                         predict_boot_pcrs *ret);

/* The systemd-boot major version in a .sdmagic identity ("systemd-boot 252.39"), 0 when it is not one. */
unsigned predict_sdboot_version(const char *ident);
