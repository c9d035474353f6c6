/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pcr.h"

#include <errno.h>
#include <string.h>

void measure_bank_init(measure_bank *bank, const measure_alg *alg, uint8_t locality) {
        memset(bank, 0, sizeof(*bank));
        bank->alg = alg;
        for (unsigned i = 17; i <= 22; i++)
                memset(bank->pcr[i], 0xff, alg->size);
        /* TCG PC Client PFP 10.4.5.3: H-CRTM at locality 3 or 4 leaves PCR 0 = 0...0<locality>. */
        bank->pcr[0][alg->size - 1] = locality;
}

int measure_bank_extend(measure_bank *bank, unsigned pcr, const uint8_t *digest) {
        uint8_t buf[2 * MEASURE_DIGEST_MAX];
        size_t n = bank->alg->size;

        if (pcr >= MEASURE_PCR_COUNT)
                return -EINVAL;
        memcpy(buf, bank->pcr[pcr], n);
        memcpy(buf + n, digest, n);
        int r = measure_hash(bank->alg, buf, 2 * n, bank->pcr[pcr]);
        if (r < 0)
                return r;
        bank->extended |= UINT32_C(1) << pcr;
        return 0;
}

int measure_bank_extend_data(measure_bank *bank, unsigned pcr, const void *data, size_t len) {
        uint8_t d[MEASURE_DIGEST_MAX];
        int r = measure_hash(bank->alg, data, len, d);
        if (r < 0)
                return r;
        return measure_bank_extend(bank, pcr, d);
}

int measure_pcr_fold(const measure_alg *alg, const uint8_t *const *digests, size_t n, uint8_t *ret_value) {
        measure_bank bank;
        measure_bank_init(&bank, alg, 0);
        for (size_t i = 0; i < n; i++) {
                int r = measure_bank_extend(&bank, 0, digests[i]);
                if (r < 0)
                        return r;
        }
        memcpy(ret_value, bank.pcr[0], alg->size);
        return 0;
}

bool measure_bank_equal(const measure_bank *bank, unsigned pcr, const uint8_t *value) {
        return pcr < MEASURE_PCR_COUNT && memcmp(bank->pcr[pcr], value, bank->alg->size) == 0;
}
