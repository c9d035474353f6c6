/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Sealing a secret to a TPM policy, interchangeable with systemd-cryptenroll 252 (src/shared/tpm2-util.c):
 *
 *   parent  a transient primary key in the owner hierarchy, created from systemd's template (ECC NIST P-256,
 *           AES-128-CFB, restricted decrypt, fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth; RSA 2048
 *           as the fallback), so the same TPM recreates the same key for both programs;
 *   object  a KEYEDHASH object, nameAlg SHA-256, fixedTPM|fixedParent, holding 32 random bytes, its authPolicy
 *           the policy below and its userAuth SHA-256(PIN) when a PIN is used;
 *   blob    the marshalled TPM2B_PRIVATE followed by the marshalled TPM2B_PUBLIC;
 *   policy  (a SHA-256 policy session, in this order)
 *           TPM2_PolicyAuthorize(public key, empty policyRef) over a TPM2_PolicyPCR of pubkey_pcr_mask, when
 *           a public key is given (systemd's signed PCR policies: the .pcrsig JSON carries the signature);
 *           TPM2_PolicyPCR over pcr_mask in one bank, with either the TPM's current values or given values
 *           (predicted ones, which need never have been in the TPM);
 *           with a PolicyOR tree (measure/policy.h) whose leaves are the PolicyPCR digests of several value
 *           sets (generations): TPM2_PolicyOR over the group holding the session's digest, at each level up
 *           to the root;
 *           TPM2_PolicyAuthValue, when a PIN is used.
 *
 * The policy digest is computed by the TPM in a trial session (PolicyPCR takes the digest of the given
 * values there). Every TPM structure goes through ESAPI and tss2-mu. Errors are negative errnos with a
 * message in errbuf; nothing is printed. Unsealing returns -EPERM when the TPM's PCRs do not satisfy the
 * policy (the fail-closed case) and -EACCES for a wrong PIN. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "pcr.h"
#include "policy.h"
#include "tpm.h"

#define ATTEST_SEAL_SECRET_SIZE 32
#define ATTEST_SEAL_POLICY_SIZE 32 /* SHA-256 policy sessions */
/* TPM2B_PRIVATE + TPM2B_PUBLIC, both bounded by their TPM2B size fields. */
#define ATTEST_SEAL_BLOB_MAX 4096
/* PEM public keys, .pcrsig JSON documents and PINs are bounded too. */
#define ATTEST_SEAL_PUBKEY_MAX (64u << 10)
#define ATTEST_SEAL_SIGNATURE_MAX (1u << 20)
#define ATTEST_SEAL_PIN_MAX 1024

/* Primary key algorithms (TPM_ALG_ID). 0 means "ECC, else RSA" when sealing. */
enum {
        ATTEST_PRIMARY_RSA = 0x0001,
        ATTEST_PRIMARY_ECC = 0x0023,
};

typedef struct attest_seal_policy {
        /* Bank of both PolicyPCRs. NULL when sealing: chosen like systemd (sha256 unless only sha1 has
         * initialized PCRs); NULL when unsealing: sha256. */
        const measure_alg *bank;
        uint32_t pcr_mask;              /* PolicyPCR with literal values */
        bool have_values;               /* values[] holds the values to seal to; else the TPM's current ones */
        uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
        const char *pubkey_pem;         /* PolicyAuthorize key (RSA, PEM SubjectPublicKeyInfo), or NULL */
        size_t pubkey_pem_size;
        uint32_t pubkey_pcr_mask;       /* PCRs of the signed policy (systemd: 11) */
        const char *signature_json;     /* unsealing with a public key: systemd-measure's JSON (.pcrsig) */
        const char *pin;                /* PolicyAuthValue with userAuth SHA-256(pin), or NULL */
        /* PolicyOR tree over the PolicyPCR digests (sha256 session, see attest_seal_pcr_leaf()) of every
         * allowed value set, or NULL. Needs pcr_mask and no public key. Sealing takes values[] (one of the
         * sets, e.g. the first) for the trial session's PolicyPCR; its digest must be one of the leaves. */
        const measure_policy_tree *tree;
} attest_seal_policy;

typedef struct attest_sealed {
        uint8_t *blob;                  /* TPM2B_PRIVATE || TPM2B_PUBLIC; free() it */
        size_t blob_size;
        uint8_t policy_hash[ATTEST_SEAL_POLICY_SIZE];
        const measure_alg *bank;        /* the PolicyPCR bank used */
        uint16_t primary_alg;           /* ATTEST_PRIMARY_ECC or _RSA */
} attest_sealed;

void attest_sealed_done(attest_sealed *s);

/* The PolicyPCR digest (sha256 session, starting from zeros) of values[] for the PCRs in mask of bank: a
 * leaf of a PolicyOR tree. Computed without a TPM (measure/policy.c), as `lantern predict --policy-pcrs`. */
int attest_seal_pcr_leaf(const measure_alg *bank, uint32_t mask,
                         const uint8_t (*values)[MEASURE_DIGEST_MAX], uint8_t ret[ATTEST_SEAL_POLICY_SIZE]);

/* Creates 32 random bytes in the TPM sealed to the policy. ret_secret gets the bytes (wipe them after use).
 * A PolicyPCR needs pcr_mask != 0 or pubkey_pcr_mask != 0 (no PCR binding at all is refused). */
int attest_seal(attest_tpm *tpm, const attest_seal_policy *p, uint8_t ret_secret[ATTEST_SEAL_SECRET_SIZE],
                attest_sealed *ret, char *errbuf, size_t errlen);

/* The policy digest a sealing with p would give, without sealing (TPM trial session). */
int attest_seal_policy_digest(attest_tpm *tpm, const attest_seal_policy *p,
                              uint8_t ret_digest[ATTEST_SEAL_POLICY_SIZE], const measure_alg **ret_bank,
                              char *errbuf, size_t errlen);

/* Unseals a blob. policy_hash (may be NULL) is the digest the token recorded: when the session's digest
 * differs the TPM is not asked to unseal and -EPERM is returned, as when the PolicyPCR digest of the TPM's
 * PCRs is none of p->tree's leaves. *ret_secret is malloc'd (wipe and free it). */
int attest_unseal(attest_tpm *tpm, const attest_seal_policy *p, uint16_t primary_alg, const uint8_t *blob,
                  size_t blob_size, const uint8_t *policy_hash, size_t policy_hash_size, uint8_t **ret_secret,
                  size_t *ret_secret_size, char *errbuf, size_t errlen);

/* Checks that blob is a TPM2B_PRIVATE followed by a TPM2B_PUBLIC of a sealed data object and nothing else;
 * copies the object's authPolicy (up to 64 bytes) when ret_auth_policy is given. */
int attest_seal_blob_check(const uint8_t *blob, size_t blob_size, uint8_t *ret_auth_policy,
                           size_t *ret_auth_policy_size, char *errbuf, size_t errlen);
