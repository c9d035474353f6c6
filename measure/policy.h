/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TPM 2.0 policy digest math (TPM 2.0 Part 3, "Enhanced Authorization"): the policyDigest a trial session
 * reaches after a sequence of policy commands, computed without a TPM. A policy digest is a buffer of the
 * session's hash size (session->size bytes); it starts as zeros. TPM structures that go into the hashes are
 * marshalled with tss2-mu. */

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

/* TPM2_PolicyOR takes between 2 and 8 branch digests. */
#define MEASURE_POLICY_OR_MIN 2
#define MEASURE_POLICY_OR_MAX 8
/* A PolicyOR tree has at most this many levels above its leaves (8^8 leaves). */
#define MEASURE_POLICY_TREE_MAX_LEVELS 8
/* PCR selections are over PCRs 0-23 (three bytes of selection bits, as TPMs and tpm2-tools use). */
#define MEASURE_POLICY_PCR_SELECT_SIZE 3

/* The pcrDigest of TPM2_PolicyPCR: H_session(the selected PCR values concatenated, in selection order:
 * ascending PCR index). values holds len bytes. */
int measure_policy_pcr_values_digest(const measure_alg *session, const void *values, size_t len,
                                     uint8_t *ret_digest);

/* TPM2_PolicyPCR: policy = H(policy || TPM_CC_PolicyPCR || TPML_PCR_SELECTION{bank, mask} || pcr_digest).
 * mask selects PCRs 0-23 (bit i = PCR i) of the bank with TPM_ALG_ID bank_alg_id; pcr_digest has
 * session->size bytes. policy is updated in place. */
int measure_policy_pcr(const measure_alg *session, uint8_t *policy, uint16_t bank_alg_id, uint32_t mask,
                       const uint8_t *pcr_digest);

/* TPM2_PolicyOR: policy = H(zeros || TPM_CC_PolicyOR || branch digests concatenated), for 2 to 8 branches
 * of session->size bytes each. The result does not depend on the digest before the command. */
int measure_policy_or(const measure_alg *session, const uint8_t (*branches)[MEASURE_DIGEST_MAX], size_t n,
                      uint8_t *ret_policy);

/* TPM2_PolicyAuthorize: policy = H(zeros || TPM_CC_PolicyAuthorize || key_name), then
 * policy = H(policy || policy_ref). key_name is the TPM name of the signing key (nameAlg + digest). */
int measure_policy_authorize(const measure_alg *session, const uint8_t *key_name, size_t key_name_size,
                             const void *policy_ref, size_t policy_ref_size, uint8_t *ret_policy);

/* A tree of PolicyORs over any number of branches: level 0 holds the leaves; each level above holds one
 * PolicyOR digest per group of 8 consecutive entries of the level below (a group of one entry lists it
 * twice, since TPM2_PolicyOR needs two), until a level has a single entry, the root. Every leaf is at the
 * same depth, so a session satisfies the tree by TPM2_PolicyOR over its group at each level in turn. A
 * single leaf still gets one PolicyOR level. */
typedef struct measure_policy_tree {
        const measure_alg *session;
        size_t n_levels;                                     /* levels including the leaves */
        size_t n[MEASURE_POLICY_TREE_MAX_LEVELS + 1];        /* entries per level */
        uint8_t (*level[MEASURE_POLICY_TREE_MAX_LEVELS + 1])[MEASURE_DIGEST_MAX];
} measure_policy_tree;

/* Builds the tree over n leaves (1 <= n <= 8^8). Returns 0, -EINVAL or -ENOMEM. */
int measure_policy_tree_build(const measure_alg *session, const uint8_t (*leaves)[MEASURE_DIGEST_MAX], size_t n,
                              measure_policy_tree **ret);
/* The root digest (session->size bytes). */
const uint8_t *measure_policy_tree_root(const measure_policy_tree *t);
measure_policy_tree *measure_policy_tree_free(measure_policy_tree *t);
