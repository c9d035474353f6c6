/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The firmware's part of a boot, read from an event log of this machine: everything measured before the
 * boot manager starts. The boot manager is the image of the first EV_EFI_BOOT_SERVICES_APPLICATION event in
 * PCR 4; PCR 4 and PCR 7 are replayed from the events before it (the "Calling EFI Application from Boot
 * Option" action, the separators, and, under Secure Boot, the db certificate that verified the boot manager).
 * The same firmware, variables and boot option give the same prefix on the next boot. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "predict-error.h"
#include "predict-filehash.h"

typedef struct predict_firmware {
        size_t n_banks;
        uint8_t pcr4[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];         /* before the boot manager */
        uint8_t pcr7[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint8_t boot_manager[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX]; /* its digest in the log */
        char boot_manager_path[1024];                                /* "\EFI\BOOT\BOOTX64.EFI", "" if none */
        bool secure_boot;                                            /* SecureBoot variable as measured */
} predict_firmware;

/* Reads the log in data[0..size) (origin names it in errors) for the banks given; every bank must be in
 * the log. Errors name the origin and the event or offset. */
int predict_firmware_from_log(const uint8_t *data, size_t size, const char *origin, const measure_alg *const *banks,
                              size_t n_banks, predict_error *err, predict_firmware *ret);
