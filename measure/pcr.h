/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCR bank math: a software model of one TPM PCR bank (24 PCRs of one algorithm). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define MEASURE_PCR_COUNT 24

/* PCR indices used by the measured-boot chain (TCG PC Client PFP; systemd's tpm-pcr.h). */
enum {
        MEASURE_PCR_BOOT_LOADER_CODE = 4,
        MEASURE_PCR_SECURE_BOOT_POLICY = 7,
        MEASURE_PCR_KERNEL_INITRD = 9,
        MEASURE_PCR_KERNEL_IMAGE = 11, /* the UKI's sections, measured by the stub */
        MEASURE_PCR_KERNEL_CONFIG = 12, /* command line passed at boot, credentials */
};

typedef struct measure_bank {
        const measure_alg *alg;
        uint8_t pcr[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
        uint32_t extended; /* bit i set when PCR i was extended at least once */
} measure_bank;

/* Resets the bank to the power-on values: zeros, except PCR 17-22 (DRTM) which start as all ones.
 * locality is the startup locality of PCR 0 (0, or 3/4 from an EV_NO_ACTION StartupLocality event). */
void measure_bank_init(measure_bank *bank, const measure_alg *alg, uint8_t locality);

/* pcr = H(pcr || digest); digest has bank->alg->size bytes. Returns 0 or -EINVAL/-ENOTSUP. */
int measure_bank_extend(measure_bank *bank, unsigned pcr, const uint8_t *digest);
/* Hashes data in the bank's algorithm, then extends. */
int measure_bank_extend_data(measure_bank *bank, unsigned pcr, const void *data, size_t len);

/* Folds a list of digests into a fresh zero PCR: the value a PCR has after these extends. */
int measure_pcr_fold(const measure_alg *alg, const uint8_t *const *digests, size_t n, uint8_t *ret_value);

bool measure_bank_equal(const measure_bank *bank, unsigned pcr, const uint8_t *value);
