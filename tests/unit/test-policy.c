/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TPM2 policy digest math against trial sessions of a TPM. Every expected digest below was printed by
 * tpm2-tools 5.4 against swtpm 0.7.1 (tpm2_startauthsession, default trial session with SHA-256), with the
 * command written next to it; tests/cases/policy-digest.sh re-runs such commands live. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "policy.h"
#include "tap.h"

static bool hex_is(const uint8_t *d, size_t n, const char *want) {
        char buf[2 * MEASURE_DIGEST_MAX + 1];
        return strcmp(measure_hex(d, n, buf), want) == 0;
}

static void unhex(const char *hex, uint8_t *out, size_t n) {
        measure_unhex(hex, out, n);
}

int main(void) {
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        uint8_t values[96], d[MEASURE_DIGEST_MAX], policy[MEASURE_DIGEST_MAX];
        uint8_t branches[3][MEASURE_DIGEST_MAX] = {};

        /* tpm2_policypcr -l sha256:11 -f <bytes 00..1f> */
        for (int i = 0; i < 32; i++)
                values[i] = (uint8_t) i;
        memset(policy, 0, sizeof(policy));
        CHECK(measure_policy_pcr_values_digest(sha256, values, 32, d) == 0, "pcr digest");
        CHECK(measure_policy_pcr(sha256, policy, MEASURE_ALG_SHA256, 1u << 11, d) == 0, "PolicyPCR sha256:11");
        CHECK(hex_is(policy, 32, "da84d8d403a56fdda35bc4589b01abc563f1b1edf9c76e3a500dd1b04c1e4ad8"),
              "PolicyPCR sha256:11 = tpm2_policypcr");
        memcpy(branches[0], policy, 32);

        /* tpm2_policypcr -l sha256:4,7,11 -f <32 x 04><32 x 07><00..1f> */
        memset(values, 4, 32);
        memset(values + 32, 7, 32);
        for (int i = 0; i < 32; i++)
                values[64 + i] = (uint8_t) i;
        memset(policy, 0, sizeof(policy));
        measure_policy_pcr_values_digest(sha256, values, 96, d);
        CHECK(measure_policy_pcr(sha256, policy, MEASURE_ALG_SHA256, (1u << 4) | (1u << 7) | (1u << 11), d) == 0,
              "PolicyPCR sha256:4,7,11");
        CHECK(hex_is(policy, 32, "49c76d0e35885dcec5a53cffe87dca1d20f6c6d3ae7456120514419f32159af2"),
              "PolicyPCR sha256:4,7,11 = tpm2_policypcr");
        memcpy(branches[1], policy, 32);

        /* tpm2_policypcr -l sha1:11 -f <bytes 00..13>: the SHA-1 bank in a SHA-256 session */
        for (int i = 0; i < 20; i++)
                values[i] = (uint8_t) i;
        memset(policy, 0, sizeof(policy));
        measure_policy_pcr_values_digest(sha256, values, 20, d);
        CHECK(measure_policy_pcr(sha256, policy, MEASURE_ALG_SHA1, 1u << 11, d) == 0, "PolicyPCR sha1:11");
        CHECK(hex_is(policy, 32, "97533a4241f17fb3aa3122b71fbad7b1032556e064b2c313e3fae6553b0d1d69"),
              "PolicyPCR sha1:11 = tpm2_policypcr");
        memcpy(branches[2], policy, 32);

        /* tpm2_policyor -l sha256:p1,p2,p3 over the three digests above */
        CHECK(measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, 3, policy) == 0,
              "PolicyOR of three");
        CHECK(hex_is(policy, 32, "15c00a035f8c7e7c629363c9a9418bd9edbcd4ee5934136cf61f8203b7986b55"),
              "PolicyOR = tpm2_policyor");
        CHECK(measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, 1, policy) == -EINVAL,
              "PolicyOR of one branch is refused");
        CHECK(measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, 9, policy) == -EINVAL,
              "PolicyOR of nine branches is refused");
        CHECK(measure_policy_pcr(sha256, policy, MEASURE_ALG_SHA256, 1u << 24, d) == -EINVAL,
              "PolicyPCR beyond PCR 23 is refused");

        /* tpm2_loadexternal -G rsa -C n -u pub.pem -n key.name; tpm2_policyauthorize -n key.name [-q ref] */
        uint8_t name[34];
        unhex("000b0cb5058a74edc608f1b6aab3728f1cf36cb66f27d5e185a6cbce3b941bce9b0b", name, sizeof(name));
        CHECK(measure_policy_authorize(sha256, name, sizeof(name), NULL, 0, policy) == 0, "PolicyAuthorize");
        CHECK(hex_is(policy, 32, "87e844dedae838ce388ab67ae7e93a0a0fcc96c4601e15582197141d4d4f737d"),
              "PolicyAuthorize without policyRef = tpm2_policyauthorize");
        CHECK(measure_policy_authorize(sha256, name, sizeof(name), "ref", 3, policy) == 0, "PolicyAuthorize ref");
        CHECK(hex_is(policy, 32, "faba190787d2535d70e8226dc05bf2128fc4b7958cd3f20e7ae01df6ce088721"),
              "PolicyAuthorize with policyRef = tpm2_policyauthorize -q");

        /* Trees: shape and consistency with measure_policy_or. */
        measure_policy_tree *t = NULL;
        CHECK(measure_policy_tree_build(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, 3, &t) == 0,
              "tree of three");
        CHECK(t && t->n_levels == 2 && t->n[1] == 1, "three leaves: one PolicyOR level");
        measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, 3, policy);
        CHECK(t && memcmp(measure_policy_tree_root(t), policy, 32) == 0, "three leaves: root = PolicyOR of them");
        measure_policy_tree_free(t);

        CHECK(measure_policy_tree_build(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, 1, &t) == 0,
              "tree of one");
        uint8_t pair[2][MEASURE_DIGEST_MAX];
        memcpy(pair[0], branches[0], sizeof(pair[0]));
        memcpy(pair[1], branches[0], sizeof(pair[1]));
        measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) pair, 2, policy);
        CHECK(t && t->n_levels == 2 && memcmp(measure_policy_tree_root(t), policy, 32) == 0,
              "one leaf: PolicyOR listing it twice");
        measure_policy_tree_free(t);

        uint8_t (*many)[MEASURE_DIGEST_MAX] = calloc(17, sizeof(*many));
        for (int i = 0; i < 17; i++)
                many[i][0] = (uint8_t) i;
        CHECK(measure_policy_tree_build(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) many, 17, &t) == 0,
              "tree of seventeen");
        CHECK(t && t->n_levels == 3 && t->n[1] == 3 && t->n[2] == 1, "seventeen leaves: 3 groups, then the root");
        uint8_t groups[3][MEASURE_DIGEST_MAX];
        measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) many, 8, groups[0]);
        measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) (many + 8), 8, groups[1]);
        memcpy(pair[0], many[16], sizeof(pair[0]));
        memcpy(pair[1], many[16], sizeof(pair[1]));
        measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) pair, 2, groups[2]);
        measure_policy_or(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) groups, 3, policy);
        CHECK(t && memcmp(t->level[1][2], groups[2], 32) == 0 && memcmp(measure_policy_tree_root(t), policy, 32) == 0,
              "seventeen leaves: groups of 8, 8, 1 and the root over them");
        measure_policy_tree_free(t);
        free(many);
        CHECK(measure_policy_tree_build(sha256, (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, 0, &t) == -EINVAL,
              "an empty tree is refused");

        return tap_done();
}
