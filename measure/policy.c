/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

/* Hashes the concatenation of up to four byte strings (NULL entries are skipped). */
static int hash_parts(const measure_alg *alg, const void *const *parts, const size_t *sizes, size_t n,
                      uint8_t *ret) {
        measure_hasher *h = NULL;
        int r = measure_hasher_new(alg, &h);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (parts[i] && sizes[i] > 0)
                        r = measure_hasher_update(h, parts[i], sizes[i]);
        if (r >= 0)
                r = measure_hasher_final(h, ret);
        measure_hasher_free(h);
        return r;
}

static int marshal_cc(TPM2_CC cc, uint8_t ret[4]) {
        size_t off = 0;
        return Tss2_MU_UINT32_Marshal(cc, ret, 4, &off) == TSS2_RC_SUCCESS && off == 4 ? 0 : -EINVAL;
}

int measure_policy_pcr_values_digest(const measure_alg *session, const void *values, size_t len,
                                     uint8_t *ret_digest) {
        if (!session || (!values && len > 0) || !ret_digest)
                return -EINVAL;
        return measure_hash(session, values, len, ret_digest);
}

int measure_policy_pcr(const measure_alg *session, uint8_t *policy, uint16_t bank_alg_id, uint32_t mask,
                       const uint8_t *pcr_digest) {
        TPML_PCR_SELECTION sel = {
                .count = 1,
                .pcrSelections[0] = {
                        .hash = bank_alg_id,
                        .sizeofSelect = MEASURE_POLICY_PCR_SELECT_SIZE,
                        .pcrSelect = { mask & 0xff, (mask >> 8) & 0xff, (mask >> 16) & 0xff },
                },
        };
        uint8_t cc[4], sel_buf[sizeof(TPML_PCR_SELECTION)];
        size_t sel_size = 0;
        int r;

        if (!session || !policy || !pcr_digest || (mask >> 24) != 0)
                return -EINVAL;
        r = marshal_cc(TPM2_CC_PolicyPCR, cc);
        if (r < 0)
                return r;
        if (Tss2_MU_TPML_PCR_SELECTION_Marshal(&sel, sel_buf, sizeof(sel_buf), &sel_size) != TSS2_RC_SUCCESS)
                return -EINVAL;
        const void *parts[] = { policy, cc, sel_buf, pcr_digest };
        const size_t sizes[] = { session->size, sizeof(cc), sel_size, session->size };
        return hash_parts(session, parts, sizes, 4, policy);
}

int measure_policy_or(const measure_alg *session, const uint8_t (*branches)[MEASURE_DIGEST_MAX], size_t n,
                      uint8_t *ret_policy) {
        uint8_t zeros[MEASURE_DIGEST_MAX] = {}, cc[4];
        measure_hasher *h = NULL;
        int r;

        if (!session || !branches || !ret_policy || n < MEASURE_POLICY_OR_MIN || n > MEASURE_POLICY_OR_MAX)
                return -EINVAL;
        r = marshal_cc(TPM2_CC_PolicyOR, cc);
        if (r < 0)
                return r;
        r = measure_hasher_new(session, &h);
        if (r < 0)
                return r;
        r = measure_hasher_update(h, zeros, session->size);
        if (r >= 0)
                r = measure_hasher_update(h, cc, sizeof(cc));
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = measure_hasher_update(h, branches[i], session->size);
        if (r >= 0)
                r = measure_hasher_final(h, ret_policy);
        measure_hasher_free(h);
        return r;
}

int measure_policy_authorize(const measure_alg *session, const uint8_t *key_name, size_t key_name_size,
                             const void *policy_ref, size_t policy_ref_size, uint8_t *ret_policy) {
        uint8_t zeros[MEASURE_DIGEST_MAX] = {}, cc[4], p[MEASURE_DIGEST_MAX];
        int r;

        if (!session || !key_name || key_name_size == 0 || key_name_size > sizeof(TPMU_NAME) + 2 ||
            (!policy_ref && policy_ref_size > 0) || policy_ref_size > MEASURE_DIGEST_MAX || !ret_policy)
                return -EINVAL;
        r = marshal_cc(TPM2_CC_PolicyAuthorize, cc);
        if (r < 0)
                return r;
        const void *parts1[] = { zeros, cc, key_name };
        const size_t sizes1[] = { session->size, sizeof(cc), key_name_size };
        r = hash_parts(session, parts1, sizes1, 3, p);
        if (r < 0)
                return r;
        const void *parts2[] = { p, policy_ref };
        const size_t sizes2[] = { session->size, policy_ref_size };
        r = hash_parts(session, parts2, sizes2, 2, p);
        if (r < 0)
                return r;
        memcpy(ret_policy, p, session->size);
        return 0;
}

measure_policy_tree *measure_policy_tree_free(measure_policy_tree *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_levels; i++)
                free(t->level[i]);
        free(t);
        return NULL;
}

const uint8_t *measure_policy_tree_root(const measure_policy_tree *t) {
        return t->level[t->n_levels - 1][0];
}

int measure_policy_tree_build(const measure_alg *session, const uint8_t (*leaves)[MEASURE_DIGEST_MAX], size_t n,
                              measure_policy_tree **ret) {
        size_t max = 1;
        int r;

        for (int i = 0; i < MEASURE_POLICY_TREE_MAX_LEVELS; i++)
                max *= MEASURE_POLICY_OR_MAX;
        if (!session || !leaves || !ret || n == 0 || n > max)
                return -EINVAL;
        measure_policy_tree *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->session = session;
        t->level[0] = malloc(n * sizeof(*t->level[0]));
        if (!t->level[0]) {
                free(t);
                return -ENOMEM;
        }
        memcpy(t->level[0], leaves, n * sizeof(*t->level[0]));
        t->n[0] = n;
        t->n_levels = 1;

        /* One PolicyOR level at least, then until a level has a single entry. */
        do {
                size_t below = t->n[t->n_levels - 1];
                size_t groups = (below + MEASURE_POLICY_OR_MAX - 1) / MEASURE_POLICY_OR_MAX;
                uint8_t (*prev)[MEASURE_DIGEST_MAX] = t->level[t->n_levels - 1];
                uint8_t (*next)[MEASURE_DIGEST_MAX] = calloc(groups, sizeof(*next));
                if (!next) {
                        measure_policy_tree_free(t);
                        return -ENOMEM;
                }
                t->level[t->n_levels] = next;
                t->n[t->n_levels] = groups;
                t->n_levels++;
                for (size_t g = 0; g < groups; g++) {
                        size_t first = g * MEASURE_POLICY_OR_MAX;
                        size_t k = below - first < MEASURE_POLICY_OR_MAX ? below - first : MEASURE_POLICY_OR_MAX;
                        uint8_t pair[2][MEASURE_DIGEST_MAX];
                        if (k == 1) {
                                memcpy(pair[0], prev[first], sizeof(pair[0]));
                                memcpy(pair[1], prev[first], sizeof(pair[1]));
                                r = measure_policy_or(session, (const uint8_t (*)[MEASURE_DIGEST_MAX]) pair, 2,
                                                      next[g]);
                        } else
                                r = measure_policy_or(session, (const uint8_t (*)[MEASURE_DIGEST_MAX]) (prev + first),
                                                      k, next[g]);
                        if (r < 0) {
                                measure_policy_tree_free(t);
                                return r;
                        }
                }
        } while (t->n[t->n_levels - 1] > 1);
        *ret = t;
        return 0;
}
