/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "seal.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

/* The TPM response code without its layer and, for format-one codes, without the parameter/handle number. */
static TSS2_RC rc_base(TSS2_RC rc) {
        rc &= 0xffff;
        return (rc & TPM2_RC_FMT1) ? (rc & (0x3f | TPM2_RC_FMT1)) : rc;
}

/* A failed command in a session bound to the sealed object: a wrong PIN shows up as an HMAC failure of
 * whichever command uses the session first. */
static int session_error(char *errbuf, size_t errlen, const char *call, TSS2_RC rc) {
        char what[128];
        TSS2_RC base = rc_base(rc);
        if (base == TPM2_RC_AUTH_FAIL || base == TPM2_RC_BAD_AUTH) {
                snprintf(what, sizeof(what), "wrong PIN: %s", call);
                return attest_tss_error(errbuf, errlen, what, rc, -EACCES);
        }
        if (base == TPM2_RC_LOCKOUT) {
                snprintf(what, sizeof(what), "the TPM is in dictionary attack lockout: %s", call);
                return attest_tss_error(errbuf, errlen, what, rc, -ENOLCK);
        }
        return attest_tss_error(errbuf, errlen, call, rc, -EIO);
}

static void flush(ESYS_CONTEXT *c, ESYS_TR *h) {
        if (*h != ESYS_TR_NONE)
                (void) Esys_FlushContext(c, *h);
        *h = ESYS_TR_NONE;
}

/* Parameter encryption of every session: AES-128 in CFB mode, as systemd uses. */
static const TPMT_SYM_DEF session_symmetric = {
        .algorithm = TPM2_ALG_AES,
        .keyBits.aes = 128,
        .mode.aes = TPM2_ALG_CFB,
};

/* systemd-cryptenroll 252's primary key templates (tpm2_make_primary()): ECC first, RSA as the fallback.
 * Both are restricted AES-128-CFB storage keys with the same attributes; detail names the parameter union's
 * member and the remaining arguments are that key type's own fields. */
#define PRIMARY_TEMPLATE(key_type, detail, ...)                                                                 \
        {                                                                                                       \
                .size = sizeof(TPMT_PUBLIC),                                                                    \
                .publicArea = {                                                                                 \
                        .type = (key_type),                                                                     \
                        .nameAlg = TPM2_ALG_SHA256,                                                             \
                        .objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM | \
                                            TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |         \
                                            TPMA_OBJECT_USERWITHAUTH,                                           \
                        .parameters.detail = {                                                                  \
                                .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,                   \
                                               .mode.aes = TPM2_ALG_CFB },                                      \
                                .scheme.scheme = TPM2_ALG_NULL,                                                 \
                                __VA_ARGS__                                                                     \
                        },                                                                                      \
                },                                                                                              \
        }
static const TPM2B_PUBLIC primary_template_ecc =
        PRIMARY_TEMPLATE(TPM2_ALG_ECC, eccDetail, .curveID = TPM2_ECC_NIST_P256, .kdf.scheme = TPM2_ALG_NULL);
static const TPM2B_PUBLIC primary_template_rsa = PRIMARY_TEMPLATE(TPM2_ALG_RSA, rsaDetail, .keyBits = 2048);

static int make_primary(ESYS_CONTEXT *c, uint16_t alg, ESYS_TR *ret, uint16_t *ret_alg, char *errbuf,
                        size_t errlen) {
        static const TPM2B_SENSITIVE_CREATE sensitive = {};
        static const TPML_PCR_SELECTION creation_pcr = {};
        ESYS_TR primary = ESYS_TR_NONE;
        TSS2_RC rc = TSS2_RC_SUCCESS;

        if (alg == 0 || alg == ATTEST_PRIMARY_ECC) {
                rc = Esys_CreatePrimary(c, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &sensitive, &primary_template_ecc, NULL, &creation_pcr, &primary, NULL,
                                        NULL, NULL, NULL);
                if (rc == TSS2_RC_SUCCESS) {
                        *ret = primary;
                        *ret_alg = ATTEST_PRIMARY_ECC;
                        return 0;
                }
                if (alg != 0)
                        return attest_tss_error(errbuf, errlen, "Esys_CreatePrimary(ECC)", rc, -EIO);
        }
        rc = Esys_CreatePrimary(c, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                                &primary_template_rsa, NULL, &creation_pcr, &primary, NULL, NULL, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return attest_tss_error(errbuf, errlen, "Esys_CreatePrimary(RSA)", rc, -EIO);
        *ret = primary;
        *ret_alg = ATTEST_PRIMARY_RSA;
        return 0;
}

/* systemd 252: the PIN's authValue is SHA-256 of its bytes, unsalted. */
static int hash_pin(const char *pin, TPM2B_AUTH *auth) {
        const measure_alg *sha256 = measure_alg_by_id(MEASURE_ALG_SHA256);
        size_t len = strnlen(pin, ATTEST_SEAL_PIN_MAX + 1);
        if (len > ATTEST_SEAL_PIN_MAX)
                return -E2BIG;
        auth->size = 32;
        return measure_hash(sha256, pin, len, auth->buffer);
}

/* A salted HMAC session (salt encrypted to the primary key) with parameter encryption both ways, bound to
 * bind (the sealed object, so its authValue keys the session) or unbound. */
static int encryption_session(ESYS_CONTEXT *c, ESYS_TR primary, ESYS_TR bind, ESYS_TR *ret, char *errbuf,
                              size_t errlen) {
        ESYS_TR session = ESYS_TR_NONE;
        TSS2_RC rc;

        rc = Esys_StartAuthSession(c, primary, bind, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, TPM2_SE_HMAC,
                                   &session_symmetric, TPM2_ALG_SHA256, &session);
        if (rc != TSS2_RC_SUCCESS)
                return attest_tss_error(errbuf, errlen, "Esys_StartAuthSession(HMAC)", rc, -EIO);
        rc = Esys_TRSess_SetAttributes(c, session,
                                       TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION,
                                       0xff);
        if (rc != TSS2_RC_SUCCESS) {
                flush(c, &session);
                return attest_tss_error(errbuf, errlen, "Esys_TRSess_SetAttributes", rc, -EIO);
        }
        *ret = session;
        return 0;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != v)
                        return false;
        return true;
}

/* systemd's choice of bank (tpm2_get_best_pcr_bank()): sha256 when active and one of the selected PCRs is
 * initialized (neither all zeros nor all ones); else sha1 if that holds for sha1; else sha256 if active; else
 * sha1. */
static int pick_bank(attest_tpm *tpm, uint32_t mask, const measure_alg **ret, char *errbuf, size_t errlen) {
        const measure_alg *active[8], *sha1 = NULL, *sha256 = NULL;
        bool good1 = false, good256 = false;
        size_t n;
        int r;

        r = attest_tpm_active_banks(tpm, active, 8, &n, errbuf, errlen);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const measure_alg *a = active[i];
                uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
                uint32_t got;
                bool good = false;

                if (a->id != MEASURE_ALG_SHA1 && a->id != MEASURE_ALG_SHA256)
                        continue;
                r = attest_tpm_pcr_read(tpm, a, mask, values, &got, errbuf, errlen);
                if (r < 0)
                        return r;
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                        if ((got & (UINT32_C(1) << pcr)) && !all_bytes(values[pcr], a->size, 0) &&
                            !all_bytes(values[pcr], a->size, 0xff))
                                good = true;
                if (a->id == MEASURE_ALG_SHA256) {
                        sha256 = a;
                        good256 = good;
                } else {
                        sha1 = a;
                        good1 = good;
                }
        }
        if (sha256 && good256)
                *ret = sha256;
        else if (sha1 && good1)
                *ret = sha1;
        else if (sha256 || sha1)
                *ret = sha256 ? sha256 : sha1;
        else {
                attest_set_error(errbuf, errlen, "the TPM has neither a sha256 nor a sha1 PCR bank");
                return -EOPNOTSUPP;
        }
        return 0;
}

static TPML_PCR_SELECTION selection(const measure_alg *bank, uint32_t mask) {
        return (TPML_PCR_SELECTION) {
                .count = 1,
                .pcrSelections[0] = {
                        .hash = bank->id,
                        .sizeofSelect = 3,
                        .pcrSelect = { mask & 0xff, (mask >> 8) & 0xff, (mask >> 16) & 0xff },
                },
        };
}

/* The PEM public key as OpenSSL key and as the TPM2B_PUBLIC systemd loads (RSA, nameAlg SHA-256,
 * decrypt|sign|userWithAuth, no scheme, exponent spelled out). */
static int parse_pubkey(const char *pem, size_t size, EVP_PKEY **ret_pkey, TPM2B_PUBLIC *ret_public, char *errbuf,
                        size_t errlen) {
        BIGNUM *n = NULL, *e = NULL;
        EVP_PKEY *pk = NULL;
        BIO *bio = NULL;
        int r = -EINVAL;

        if (size > ATTEST_SEAL_PUBKEY_MAX) {
                attest_set_error(errbuf, errlen, "public key is larger than %u bytes", ATTEST_SEAL_PUBKEY_MAX);
                return -EFBIG;
        }
        bio = BIO_new_mem_buf(pem, (int) size);
        if (!bio)
                return -ENOMEM;
        pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!pk) {
                attest_set_error(errbuf, errlen, "not a PEM public key");
                return -EINVAL;
        }
        if (EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
                attest_set_error(errbuf, errlen,
                                 "the public key is not an RSA key (systemd's signed policies are RSA)");
                goto fail;
        }
        if (!EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) ||
            !EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e)) {
                attest_set_error(errbuf, errlen, "cannot read the RSA key's modulus and exponent");
                goto fail;
        }
        int n_bytes = BN_num_bytes(n);
        if (n_bytes <= 0 || (size_t) n_bytes > sizeof(ret_public->publicArea.unique.rsa.buffer) ||
            BN_num_bits(e) > 32) {
                attest_set_error(errbuf, errlen, "RSA key of %d bits does not fit a TPM key", BN_num_bits(n));
                goto fail;
        }
        *ret_public = (TPM2B_PUBLIC) {
                .size = sizeof(TPMT_PUBLIC),
                .publicArea = {
                        .type = TPM2_ALG_RSA,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_DECRYPT | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH,
                        .parameters.rsaDetail = {
                                .scheme = { .scheme = TPM2_ALG_NULL, .details.anySig.hashAlg = TPM2_ALG_NULL },
                                .symmetric = { .algorithm = TPM2_ALG_NULL, .mode.sym = TPM2_ALG_NULL },
                                .keyBits = (TPMI_RSA_KEY_BITS) (n_bytes * 8),
                                .exponent = (UINT32) BN_get_word(e),
                        },
                        .unique.rsa.size = (UINT16) n_bytes,
                },
        };
        if (BN_bn2bin(n, ret_public->publicArea.unique.rsa.buffer) != n_bytes) {
                attest_set_error(errbuf, errlen, "cannot convert the RSA modulus");
                goto fail;
        }
        BN_free(n);
        BN_free(e);
        *ret_pkey = pk;
        return 0;
fail:
        BN_free(n);
        BN_free(e);
        EVP_PKEY_free(pk);
        return r;
}

/* systemd's "pkfp": SHA-256 of i2d_PublicKey() (for RSA the PKCS#1 RSAPublicKey DER). */
static int pubkey_fingerprint(EVP_PKEY *pk, uint8_t ret[32]) {
        unsigned char *der = NULL;
        int len = i2d_PublicKey(pk, &der);
        if (len <= 0)
                return -EINVAL;
        int r = measure_hash(measure_alg_by_id(MEASURE_ALG_SHA256), der, (size_t) len, ret);
        OPENSSL_free(der);
        return r;
}

static int unbase64(const char *s, uint8_t **ret, size_t *ret_size) {
        size_t len = strlen(s);
        if (len == 0 || len % 4 != 0 || len > 65536)
                return -EINVAL;
        uint8_t *out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        int n = EVP_DecodeBlock(out, (const unsigned char *) s, (int) len);
        if (n < 0) {
                free(out);
                return -EINVAL;
        }
        /* EVP_DecodeBlock counts padding as zero bytes. */
        if (s[len - 1] == '=')
                n--;
        if (s[len - 2] == '=')
                n--;
        *ret = out;
        *ret_size = (size_t) n;
        return 0;
}

static bool json_pcr_mask(json_object *a, uint32_t *ret) {
        uint32_t mask = 0;
        if (!json_object_is_type(a, json_type_array))
                return false;
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (!json_object_is_type(e, json_type_int))
                        return false;
                int64_t v = json_object_get_int64(e);
                if (v < 0 || v >= MEASURE_PCR_COUNT)
                        return false;
                mask |= UINT32_C(1) << v;
        }
        *ret = mask;
        return true;
}

/* Finds the signature of the approved policy in systemd-measure's JSON: the entry of this bank whose pcrs,
 * pkfp and pol match (find_signature() in systemd). -ENXIO when there is none. */
static int find_signature(const char *json, const measure_alg *bank, uint32_t mask, EVP_PKEY *pk,
                          const uint8_t *policy, size_t policy_size, TPMT_SIGNATURE *ret, char *errbuf,
                          size_t errlen) {
        uint8_t fp[32];
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        json_object *root, *entries;
        int r;

        if (strnlen(json, ATTEST_SEAL_SIGNATURE_MAX + 1) > ATTEST_SEAL_SIGNATURE_MAX) {
                attest_set_error(errbuf, errlen, "signature JSON is larger than %u bytes", ATTEST_SEAL_SIGNATURE_MAX);
                return -EFBIG;
        }
        r = pubkey_fingerprint(pk, fp);
        if (r < 0) {
                attest_set_error(errbuf, errlen, "cannot compute the public key's fingerprint");
                return r;
        }
        root = json_tokener_parse(json);
        if (!root || !json_object_is_type(root, json_type_object)) {
                json_object_put(root);
                attest_set_error(errbuf, errlen, "the signature is not a JSON object");
                return -EINVAL;
        }
        if (!json_object_object_get_ex(root, bank->name, &entries) ||
            !json_object_is_type(entries, json_type_array)) {
                json_object_put(root);
                attest_set_error(errbuf, errlen, "the signature JSON has no array for bank %s", bank->name);
                return -ENXIO;
        }
        size_t n = json_object_array_length(entries);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(entries, i), *v;
                uint32_t m;
                uint8_t *sig;
                size_t sig_size;

                if (!json_object_is_type(e, json_type_object))
                        continue;
                if (!json_object_object_get_ex(e, "pcrs", &v) || !json_pcr_mask(v, &m) || m != mask)
                        continue;
                if (!json_object_object_get_ex(e, "pkfp", &v) || !json_object_is_type(v, json_type_string) ||
                    strcasecmp(json_object_get_string(v), measure_hex(fp, 32, hex)) != 0)
                        continue;
                if (!json_object_object_get_ex(e, "pol", &v) || !json_object_is_type(v, json_type_string) ||
                    strcasecmp(json_object_get_string(v), measure_hex(policy, policy_size, hex)) != 0)
                        continue;
                if (!json_object_object_get_ex(e, "sig", &v) || !json_object_is_type(v, json_type_string))
                        continue;
                r = unbase64(json_object_get_string(v), &sig, &sig_size);
                if (r < 0) {
                        json_object_put(root);
                        attest_set_error(errbuf, errlen, "signature entry %zu of bank %s: invalid base64", i,
                                         bank->name);
                        return -EINVAL;
                }
                if (sig_size > sizeof(ret->signature.rsassa.sig.buffer)) {
                        free(sig);
                        json_object_put(root);
                        attest_set_error(errbuf, errlen, "signature entry %zu of bank %s: %zu bytes, too large", i,
                                         bank->name, sig_size);
                        return -EINVAL;
                }
                /* systemd 252 verifies every signature as RSASSA with SHA-256. */
                *ret = (TPMT_SIGNATURE) {
                        .sigAlg = TPM2_ALG_RSASSA,
                        .signature.rsassa = { .hash = TPM2_ALG_SHA256, .sig.size = (UINT16) sig_size },
                };
                memcpy(ret->signature.rsassa.sig.buffer, sig, sig_size);
                free(sig);
                json_object_put(root);
                return 0;
        }
        json_object_put(root);
        attest_set_error(errbuf, errlen,
                         "no signed policy matches this boot: the signature JSON lists no %s entry for this key "
                         "with policy %s (the signed PCRs' current values)",
                         bank->name, measure_hex(policy, policy_size, hex));
        return -ENXIO;
}

/* The pcrDigest of TPM2_PolicyPCR (sha256 session) over values[pcr] for the PCRs in mask of bank, concatenated
 * in ascending PCR order. */
static int pcr_values_digest(const measure_alg *bank, uint32_t mask, const uint8_t (*values)[MEASURE_DIGEST_MAX],
                             uint8_t ret[ATTEST_SEAL_POLICY_SIZE]) {
        uint8_t concat[MEASURE_PCR_COUNT * MEASURE_DIGEST_MAX];
        size_t len = 0;

        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                if (mask & (UINT32_C(1) << pcr)) {
                        memcpy(concat + len, values[pcr], bank->size);
                        len += bank->size;
                }
        return measure_policy_pcr_values_digest(measure_alg_by_id(MEASURE_ALG_SHA256), concat, len, ret);
}

static ssize_t find_digest(const uint8_t (*list)[MEASURE_DIGEST_MAX], size_t n, const uint8_t *digest) {
        for (size_t i = 0; i < n; i++)
                if (memcmp(list[i], digest, ATTEST_SEAL_POLICY_SIZE) == 0)
                        return (ssize_t) i;
        return -1;
}

static int get_digest(ESYS_CONTEXT *c, ESYS_TR session, uint8_t ret[ATTEST_SEAL_POLICY_SIZE], char *errbuf,
                      size_t errlen) {
        TPM2B_DIGEST *digest = NULL;
        TSS2_RC rc = Esys_PolicyGetDigest(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest);
        if (rc != TSS2_RC_SUCCESS)
                return attest_tss_error(errbuf, errlen, "Esys_PolicyGetDigest", rc, -EIO);
        if (digest->size != ATTEST_SEAL_POLICY_SIZE) {
                attest_set_error(errbuf, errlen, "policy digest of %u bytes, expected 32", (unsigned) digest->size);
                Esys_Free(digest);
                return -EBADMSG;
        }
        memcpy(ret, digest->buffer, ATTEST_SEAL_POLICY_SIZE);
        Esys_Free(digest);
        return 0;
}

/* Satisfies a PolicyOR tree after the PolicyPCR: the session's digest must be one of the leaves (else the
 * TPM's PCRs are none of the allowed value sets: -EPERM, before any PolicyOR); then TPM2_PolicyOR over the
 * group of up to 8 entries holding it, level by level (measure_policy_tree_build()'s grouping: a group of one
 * entry lists it twice), which leaves the root in the session. A trial session starts from the sealed value
 * set's PolicyPCR, whose digest the TPM computed: not finding it among the leaves computed in software is an
 * internal error. */
static int policy_or_walk(ESYS_CONTEXT *c, ESYS_TR session, TPM2_SE type, const measure_policy_tree *t,
                          char *errbuf, size_t errlen) {
        uint8_t digest[ATTEST_SEAL_POLICY_SIZE];
        char hex1[2 * MEASURE_DIGEST_MAX + 1], hex2[2 * MEASURE_DIGEST_MAX + 1];
        TSS2_RC rc;
        int r;

        r = get_digest(c, session, digest, errbuf, errlen);
        if (r < 0)
                return r;
        ssize_t found = find_digest((const uint8_t (*)[MEASURE_DIGEST_MAX]) t->level[0], t->n[0], digest);
        if (found < 0) {
                if (type == TPM2_SE_TRIAL) {
                        attest_set_error(errbuf, errlen,
                                         "the TPM's PolicyPCR digest %s of the value set to seal is none of the "
                                         "PolicyOR tree's leaves", measure_hex(digest, sizeof(digest), hex1));
                        return -EIO;
                }
                attest_set_error(errbuf, errlen,
                                 "the PCRs match none of the %zu sealed generations (this boot gives PolicyPCR "
                                 "digest %s)", t->n[0], measure_hex(digest, sizeof(digest), hex1));
                return -EPERM;
        }
        size_t i = (size_t) found;
        for (size_t l = 0; l + 1 < t->n_levels; l++) {
                size_t first = i / MEASURE_POLICY_OR_MAX * MEASURE_POLICY_OR_MAX;
                size_t k = t->n[l] - first < MEASURE_POLICY_OR_MAX ? t->n[l] - first : MEASURE_POLICY_OR_MAX;
                TPML_DIGEST list = { .count = k == 1 ? 2 : (UINT32) k };

                for (size_t j = 0; j < list.count; j++) {
                        list.digests[j].size = ATTEST_SEAL_POLICY_SIZE;
                        memcpy(list.digests[j].buffer, t->level[l][first + (k == 1 ? 0 : j)], ATTEST_SEAL_POLICY_SIZE);
                }
                rc = Esys_PolicyOR(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list);
                if (rc != TSS2_RC_SUCCESS)
                        return attest_tss_error(errbuf, errlen, "Esys_PolicyOR", rc,
                                                rc_base(rc) == TPM2_RC_VALUE ? -EPERM : -EIO);
                i /= MEASURE_POLICY_OR_MAX;
        }
        r = get_digest(c, session, digest, errbuf, errlen);
        if (r < 0)
                return r;
        if (memcmp(digest, measure_policy_tree_root(t), ATTEST_SEAL_POLICY_SIZE) != 0) {
                attest_set_error(errbuf, errlen, "the TPM's PolicyOR digest %s is not the tree's root %s",
                                 measure_hex(digest, sizeof(digest), hex1),
                                 measure_hex(measure_policy_tree_root(t), ATTEST_SEAL_POLICY_SIZE, hex2));
                return -EIO;
        }
        return 0;
}

/* Runs the policy commands in a new session of the given type and returns its digest (and the session when
 * ret_session is given). */
static int policy_session(ESYS_CONTEXT *c, const attest_seal_policy *p, const measure_alg *bank, ESYS_TR primary,
                          ESYS_TR parent_session, TPM2_SE type, ESYS_TR *ret_session,
                          uint8_t ret_digest[ATTEST_SEAL_POLICY_SIZE], char *errbuf, size_t errlen) {
        ESYS_TR session = ESYS_TR_NONE, key = ESYS_TR_NONE;
        EVP_PKEY *pk = NULL;
        TSS2_RC rc;
        int r;

        rc = Esys_StartAuthSession(c, primary, ESYS_TR_NONE, parent_session, ESYS_TR_NONE, ESYS_TR_NONE, NULL, type,
                                   &session_symmetric, TPM2_ALG_SHA256, &session);
        if (rc != TSS2_RC_SUCCESS)
                return session_error(errbuf, errlen, "Esys_StartAuthSession(policy)", rc);

        if (p->pubkey_pcr_mask != 0) {
                TPM2B_PUBLIC pub;
                TPM2B_NAME *name = NULL;
                TPM2B_DIGEST *approved = NULL;
                TPMT_TK_VERIFIED *ticket = NULL;
                static const TPMT_TK_VERIFIED null_ticket = { .tag = TPM2_ST_VERIFIED, .hierarchy = TPM2_RH_OWNER };
                TPML_PCR_SELECTION sel = selection(bank, p->pubkey_pcr_mask);

                if (!p->pubkey_pem) {
                        attest_set_error(errbuf, errlen, "a signed PCR policy needs a public key");
                        r = -EINVAL;
                        goto finish;
                }
                r = parse_pubkey(p->pubkey_pem, p->pubkey_pem_size, &pk, &pub, errbuf, errlen);
                if (r < 0)
                        goto finish;
                rc = Esys_LoadExternal(c, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, &pub, ESYS_TR_RH_OWNER,
                                       &key);
                if (rc != TSS2_RC_SUCCESS) {
                        r = attest_tss_error(errbuf, errlen, "Esys_LoadExternal(public key)", rc, -EIO);
                        goto finish;
                }
                rc = Esys_TR_GetName(c, key, &name);
                if (rc != TSS2_RC_SUCCESS) {
                        r = attest_tss_error(errbuf, errlen, "Esys_TR_GetName", rc, -EIO);
                        goto finish;
                }
                rc = Esys_PolicyPCR(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, &sel);
                if (rc == TSS2_RC_SUCCESS)
                        rc = Esys_PolicyGetDigest(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &approved);
                if (rc != TSS2_RC_SUCCESS) {
                        Esys_Free(name);
                        r = attest_tss_error(errbuf, errlen, "Esys_PolicyPCR(signed PCRs)", rc, -EIO);
                        goto finish;
                }
                if (p->signature_json) {
                        TPMT_SIGNATURE sig;
                        TPM2B_DIGEST sig_digest = { .size = 32 };

                        r = find_signature(p->signature_json, bank, p->pubkey_pcr_mask, pk, approved->buffer,
                                           approved->size, &sig, errbuf, errlen);
                        if (r == 0)
                                r = measure_hash(measure_alg_by_id(MEASURE_ALG_SHA256), approved->buffer,
                                                 approved->size, sig_digest.buffer);
                        if (r < 0) {
                                if (r == -ENXIO)
                                        r = -EPERM;
                                Esys_Free(name);
                                Esys_Free(approved);
                                goto finish;
                        }
                        rc = Esys_VerifySignature(c, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sig_digest, &sig,
                                                  &ticket);
                        if (rc != TSS2_RC_SUCCESS) {
                                Esys_Free(name);
                                Esys_Free(approved);
                                r = attest_tss_error(errbuf, errlen, "Esys_VerifySignature(signed PCR policy)", rc,
                                                     -EPERM);
                                goto finish;
                        }
                }
                rc = Esys_PolicyAuthorize(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, approved,
                                          &(const TPM2B_NONCE) {}, name, ticket ? ticket : &null_ticket);
                Esys_Free(name);
                Esys_Free(approved);
                Esys_Free(ticket);
                if (rc != TSS2_RC_SUCCESS) {
                        r = attest_tss_error(errbuf, errlen, "Esys_PolicyAuthorize", rc, -EIO);
                        goto finish;
                }
        }

        if (p->pcr_mask != 0) {
                TPML_PCR_SELECTION sel = selection(bank, p->pcr_mask);
                TPM2B_DIGEST pcr_digest = {};

                if (p->have_values) {
                        /* The digest of the values to seal to. Only a trial session takes it as given; a real
                         * one compares it with the PCRs. */
                        pcr_digest.size = 32;
                        r = pcr_values_digest(bank, p->pcr_mask, (const uint8_t (*)[MEASURE_DIGEST_MAX]) p->values,
                                              pcr_digest.buffer);
                        if (r < 0) {
                                attest_set_error(errbuf, errlen, "cannot hash the PCR values");
                                goto finish;
                        }
                }
                rc = Esys_PolicyPCR(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    p->have_values ? &pcr_digest : NULL, &sel);
                if (rc != TSS2_RC_SUCCESS) {
                        r = attest_tss_error(errbuf, errlen, "Esys_PolicyPCR", rc, -EIO);
                        goto finish;
                }
        }

        if (p->tree) {
                r = policy_or_walk(c, session, type, p->tree, errbuf, errlen);
                if (r < 0)
                        goto finish;
        }

        if (p->pin) {
                rc = Esys_PolicyAuthValue(c, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
                if (rc != TSS2_RC_SUCCESS) {
                        r = attest_tss_error(errbuf, errlen, "Esys_PolicyAuthValue", rc, -EIO);
                        goto finish;
                }
        }

        r = get_digest(c, session, ret_digest, errbuf, errlen);
        if (r < 0)
                goto finish;
        if (ret_session) {
                *ret_session = session;
                session = ESYS_TR_NONE;
        }
        r = 0;
finish:
        EVP_PKEY_free(pk);
        flush(c, &key);
        flush(c, &session);
        return r;
}

static int check_policy(const attest_seal_policy *p, char *errbuf, size_t errlen) {
        const uint32_t all = (UINT32_C(1) << MEASURE_PCR_COUNT) - 1;
        if (!p || (p->pcr_mask & ~all) || (p->pubkey_pcr_mask & ~all)) {
                attest_set_error(errbuf, errlen, "invalid PCR selection");
                return -EINVAL;
        }
        if (p->have_values && !p->bank) {
                attest_set_error(errbuf, errlen, "PCR values to seal to need their bank");
                return -EINVAL;
        }
        if (p->pubkey_pcr_mask && !p->pubkey_pem) {
                attest_set_error(errbuf, errlen, "a signed PCR policy needs a public key");
                return -EINVAL;
        }
        if (p->bank && p->bank->size > MEASURE_DIGEST_MAX) {
                attest_set_error(errbuf, errlen, "invalid bank");
                return -EINVAL;
        }
        if (p->tree && (p->pcr_mask == 0 || p->pubkey_pcr_mask || !p->tree->session ||
                        p->tree->session->id != MEASURE_ALG_SHA256 || p->tree->n_levels < 2)) {
                attest_set_error(errbuf, errlen,
                                 "a PolicyOR tree needs a sha256 tree, PCRs to seal to and no signed policy");
                return -EINVAL;
        }
        return 0;
}

int attest_seal_pcr_leaf(const measure_alg *bank, uint32_t mask, const uint8_t (*values)[MEASURE_DIGEST_MAX],
                         uint8_t ret[ATTEST_SEAL_POLICY_SIZE]) {
        const measure_alg *sha256 = measure_alg_by_id(MEASURE_ALG_SHA256);
        uint8_t pcr_digest[MEASURE_DIGEST_MAX], policy[MEASURE_DIGEST_MAX] = {};
        int r;

        if (!bank || !values || !ret || mask == 0 || (mask >> MEASURE_PCR_COUNT) != 0 ||
            bank->size > MEASURE_DIGEST_MAX)
                return -EINVAL;
        /* The same pcrDigest as policy_session()'s for the values. */
        r = pcr_values_digest(bank, mask, values, pcr_digest);
        if (r >= 0)
                r = measure_policy_pcr(sha256, policy, bank->id, mask, pcr_digest);
        if (r < 0)
                return r;
        memcpy(ret, policy, ATTEST_SEAL_POLICY_SIZE);
        return 0;
}

static int resolve_bank(attest_tpm *tpm, const attest_seal_policy *p, const measure_alg **ret, char *errbuf,
                        size_t errlen) {
        if (p->bank) {
                *ret = p->bank;
                return 0;
        }
        return pick_bank(tpm, p->pcr_mask | p->pubkey_pcr_mask, ret, errbuf, errlen);
}

int attest_seal_policy_digest(attest_tpm *tpm, const attest_seal_policy *p,
                              uint8_t ret_digest[ATTEST_SEAL_POLICY_SIZE], const measure_alg **ret_bank,
                              char *errbuf, size_t errlen) {
        ESYS_CONTEXT *c = attest_tpm_esys(tpm);
        ESYS_TR primary = ESYS_TR_NONE;
        const measure_alg *bank;
        uint8_t digest[ATTEST_SEAL_POLICY_SIZE];
        uint16_t alg;
        int r;

        if (!c || !ret_digest)
                return -EINVAL;
        r = check_policy(p, errbuf, errlen);
        if (r < 0)
                return r;
        r = resolve_bank(tpm, p, &bank, errbuf, errlen);
        if (r < 0)
                return r;
        r = make_primary(c, 0, &primary, &alg, errbuf, errlen);
        if (r < 0)
                return r;
        r = policy_session(c, p, bank, primary, ESYS_TR_NONE, TPM2_SE_TRIAL, NULL, digest, errbuf, errlen);
        flush(c, &primary);
        if (r < 0)
                return r;
        memcpy(ret_digest, digest, sizeof(digest));
        if (ret_bank)
                *ret_bank = bank;
        return 0;
}

void attest_sealed_done(attest_sealed *s) {
        if (!s)
                return;
        free(s->blob);
        s->blob = NULL;
        s->blob_size = 0;
}

int attest_seal(attest_tpm *tpm, const attest_seal_policy *p, uint8_t ret_secret[ATTEST_SEAL_SECRET_SIZE],
                attest_sealed *ret, char *errbuf, size_t errlen) {
        static const TPML_PCR_SELECTION creation_pcr = {};
        ESYS_CONTEXT *c = attest_tpm_esys(tpm);
        ESYS_TR primary = ESYS_TR_NONE, session = ESYS_TR_NONE;
        TPM2B_PRIVATE *priv = NULL;
        TPM2B_PUBLIC *pub = NULL;
        TPM2B_SENSITIVE_CREATE sensitive = {};
        TPM2B_PUBLIC template;
        const measure_alg *bank;
        uint8_t policy[ATTEST_SEAL_POLICY_SIZE];
        uint8_t *blob = NULL;
        size_t blob_size = 0;
        uint16_t alg;
        TSS2_RC rc;
        int r;

        if (!c || !ret_secret || !ret)
                return -EINVAL;
        r = check_policy(p, errbuf, errlen);
        if (r < 0)
                return r;
        if (p->pcr_mask == 0 && p->pubkey_pcr_mask == 0) {
                attest_set_error(errbuf, errlen, "no PCRs to seal to");
                return -EINVAL;
        }
        r = resolve_bank(tpm, p, &bank, errbuf, errlen);
        if (r < 0)
                return r;

        r = make_primary(c, 0, &primary, &alg, errbuf, errlen);
        if (r < 0)
                return r;
        r = encryption_session(c, primary, ESYS_TR_NONE, &session, errbuf, errlen);
        if (r < 0)
                goto finish;
        r = policy_session(c, p, bank, primary, session, TPM2_SE_TRIAL, NULL, policy, errbuf, errlen);
        if (r < 0)
                goto finish;

        /* A keyed-hash object is the universally supported container for a sealed blob of bytes. */
        template = (TPM2B_PUBLIC) {
                .size = sizeof(TPMT_PUBLIC),
                .publicArea = {
                        .type = TPM2_ALG_KEYEDHASH,
                        .nameAlg = TPM2_ALG_SHA256,
                        .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT,
                        .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
                        .unique.keyedHash.size = 32,
                        .authPolicy.size = ATTEST_SEAL_POLICY_SIZE,
                },
        };
        memcpy(template.publicArea.authPolicy.buffer, policy, sizeof(policy));
        sensitive.size = sizeof(sensitive.sensitive);
        sensitive.sensitive.data.size = ATTEST_SEAL_SECRET_SIZE;
        if (p->pin) {
                r = hash_pin(p->pin, &sensitive.sensitive.userAuth);
                if (r < 0) {
                        attest_set_error(errbuf, errlen, "cannot hash the PIN");
                        goto finish;
                }
        }
        if (RAND_priv_bytes(sensitive.sensitive.data.buffer, ATTEST_SEAL_SECRET_SIZE) != 1) {
                attest_set_error(errbuf, errlen, "cannot generate random bytes");
                r = -EIO;
                goto finish;
        }
        rc = Esys_Create(c, primary, session, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &template, NULL, &creation_pcr,
                         &priv, &pub, NULL, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                r = attest_tss_error(errbuf, errlen, "Esys_Create(sealed object)", rc, -EIO);
                goto finish;
        }

        blob = malloc(sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_PUBLIC));
        if (!blob) {
                r = -ENOMEM;
                goto finish;
        }
        rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, blob, sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_PUBLIC), &blob_size);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, blob, sizeof(TPM2B_PRIVATE) + sizeof(TPM2B_PUBLIC),
                                                  &blob_size);
        if (rc != TSS2_RC_SUCCESS) {
                r = attest_tss_error(errbuf, errlen, "Tss2_MU_TPM2B_PRIVATE/PUBLIC_Marshal", rc, -EIO);
                goto finish;
        }

        memcpy(ret_secret, sensitive.sensitive.data.buffer, ATTEST_SEAL_SECRET_SIZE);
        *ret = (attest_sealed) { .blob = blob, .blob_size = blob_size, .bank = bank, .primary_alg = alg };
        memcpy(ret->policy_hash, policy, sizeof(policy));
        blob = NULL;
        r = 0;
finish:
        OPENSSL_cleanse(&sensitive, sizeof(sensitive));
        free(blob);
        Esys_Free(priv);
        Esys_Free(pub);
        flush(c, &session);
        flush(c, &primary);
        return r;
}

static int unmarshal_blob(const uint8_t *blob, size_t blob_size, TPM2B_PRIVATE *priv, TPM2B_PUBLIC *pub,
                          char *errbuf, size_t errlen) {
        size_t off = 0;
        TSS2_RC rc;

        if (!blob || blob_size == 0 || blob_size > ATTEST_SEAL_BLOB_MAX) {
                attest_set_error(errbuf, errlen, "sealed blob of %zu bytes (expected 1 to %u)", blob_size,
                                 ATTEST_SEAL_BLOB_MAX);
                return -EBADMSG;
        }
        rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, blob_size, &off, priv);
        if (rc != TSS2_RC_SUCCESS) {
                attest_set_error(errbuf, errlen, "sealed blob: no TPM2B_PRIVATE at offset 0: %s", Tss2_RC_Decode(rc));
                return -EBADMSG;
        }
        size_t pub_off = off;
        rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, blob_size, &off, pub);
        if (rc != TSS2_RC_SUCCESS) {
                attest_set_error(errbuf, errlen, "sealed blob: no TPM2B_PUBLIC at offset %zu: %s", pub_off,
                                 Tss2_RC_Decode(rc));
                return -EBADMSG;
        }
        if (off != blob_size) {
                attest_set_error(errbuf, errlen, "sealed blob: %zu trailing bytes at offset %zu", blob_size - off, off);
                return -EBADMSG;
        }
        if (pub->publicArea.type != TPM2_ALG_KEYEDHASH) {
                attest_set_error(errbuf, errlen,
                                 "sealed blob: the object at offset %zu is of type 0x%x, not a keyed hash", pub_off,
                                 (unsigned) pub->publicArea.type);
                return -EBADMSG;
        }
        return 0;
}

int attest_seal_blob_check(const uint8_t *blob, size_t blob_size, uint8_t *ret_auth_policy,
                           size_t *ret_auth_policy_size, char *errbuf, size_t errlen) {
        TPM2B_PRIVATE priv = {};
        TPM2B_PUBLIC pub = {};
        int r = unmarshal_blob(blob, blob_size, &priv, &pub, errbuf, errlen);
        if (r < 0)
                return r;
        if (ret_auth_policy && ret_auth_policy_size) {
                size_t n = pub.publicArea.authPolicy.size;
                if (n > MEASURE_DIGEST_MAX)
                        n = MEASURE_DIGEST_MAX;
                memcpy(ret_auth_policy, pub.publicArea.authPolicy.buffer, n);
                *ret_auth_policy_size = n;
        }
        return 0;
}

int attest_unseal(attest_tpm *tpm, const attest_seal_policy *p, uint16_t primary_alg, const uint8_t *blob,
                  size_t blob_size, const uint8_t *policy_hash, size_t policy_hash_size, uint8_t **ret_secret,
                  size_t *ret_secret_size, char *errbuf, size_t errlen) {
        ESYS_CONTEXT *c = attest_tpm_esys(tpm);
        ESYS_TR primary = ESYS_TR_NONE, object = ESYS_TR_NONE, hmac = ESYS_TR_NONE, session = ESYS_TR_NONE;
        TPM2B_SENSITIVE_DATA *unsealed = NULL;
        TPM2B_PRIVATE priv = {};
        TPM2B_PUBLIC pub = {};
        const measure_alg *bank;
        uint8_t digest[ATTEST_SEAL_POLICY_SIZE];
        char hex1[2 * MEASURE_DIGEST_MAX + 1], hex2[2 * MEASURE_DIGEST_MAX + 1];
        uint16_t alg;
        TSS2_RC rc;
        int r;

        if (!c || !ret_secret || !ret_secret_size || (policy_hash_size && !policy_hash) ||
            policy_hash_size > MEASURE_DIGEST_MAX)
                return -EINVAL;
        if (primary_alg != ATTEST_PRIMARY_ECC && primary_alg != ATTEST_PRIMARY_RSA) {
                attest_set_error(errbuf, errlen, "unknown primary key algorithm 0x%x", (unsigned) primary_alg);
                return -EINVAL;
        }
        r = check_policy(p, errbuf, errlen);
        if (r < 0)
                return r;
        r = unmarshal_blob(blob, blob_size, &priv, &pub, errbuf, errlen);
        if (r < 0)
                return r;
        r = resolve_bank(tpm, p, &bank, errbuf, errlen);
        if (r < 0)
                return r;

        r = make_primary(c, primary_alg, &primary, &alg, errbuf, errlen);
        if (r < 0)
                return r;
        rc = Esys_Load(c, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &object);
        if (rc != TSS2_RC_SUCCESS) {
                TSS2_RC base = rc_base(rc);
                if (base == TPM2_RC_LOCKOUT)
                        r = attest_tss_error(errbuf, errlen, "Esys_Load: the TPM is in dictionary attack lockout", rc,
                                             -ENOLCK);
                else if (base == TPM2_RC_INTEGRITY || base == TPM2_RC_SIZE || base == TPM2_RC_KEY)
                        r = attest_tss_error(errbuf, errlen,
                                             "Esys_Load: the blob was not sealed by this TPM (or under another primary key)",
                                             rc, -EXDEV);
                else
                        r = attest_tss_error(errbuf, errlen, "Esys_Load(sealed object)", rc, -EIO);
                goto finish;
        }
        if (p->pin) {
                TPM2B_AUTH auth = {};
                r = hash_pin(p->pin, &auth);
                if (r < 0) {
                        attest_set_error(errbuf, errlen, "cannot hash the PIN");
                        goto finish;
                }
                rc = Esys_TR_SetAuth(c, object, &auth);
                OPENSSL_cleanse(&auth, sizeof(auth));
                if (rc != TSS2_RC_SUCCESS) {
                        r = attest_tss_error(errbuf, errlen, "Esys_TR_SetAuth", rc, -EIO);
                        goto finish;
                }
        }
        r = encryption_session(c, primary, object, &hmac, errbuf, errlen);
        if (r < 0)
                goto finish;
        r = policy_session(c, p, bank, primary, hmac, TPM2_SE_POLICY, &session, digest, errbuf, errlen);
        if (r < 0)
                goto finish;
        if (policy_hash_size > 0 &&
            (policy_hash_size != sizeof(digest) || memcmp(policy_hash, digest, sizeof(digest)) != 0)) {
                attest_set_error(errbuf, errlen,
                                 "the TPM's PCRs do not satisfy the sealed policy: this boot gives policy %s, the token "
                                 "was sealed to %s", measure_hex(digest, sizeof(digest), hex1),
                                 measure_hex(policy_hash, policy_hash_size, hex2));
                r = -EPERM;
                goto finish;
        }
        rc = Esys_Unseal(c, object, session, hmac, ESYS_TR_NONE, &unsealed);
        if (rc != TSS2_RC_SUCCESS) {
                TSS2_RC base = rc_base(rc);
                if (base == TPM2_RC_POLICY_FAIL || base == TPM2_RC_PCR_CHANGED || base == TPM2_RC_VALUE)
                        r = attest_tss_error(errbuf, errlen, "Esys_Unseal: the TPM refused the policy", rc, -EPERM);
                else
                        r = session_error(errbuf, errlen, "Esys_Unseal", rc);
                goto finish;
        }
        uint8_t *secret = malloc(unsealed->size ? unsealed->size : 1);
        if (!secret) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(secret, unsealed->buffer, unsealed->size);
        *ret_secret = secret;
        *ret_secret_size = unsealed->size;
        r = 0;
finish:
        if (unsealed) {
                OPENSSL_cleanse(unsealed->buffer, unsealed->size);
                Esys_Free(unsealed);
        }
        flush(c, &session);
        flush(c, &hmac);
        flush(c, &object);
        flush(c, &primary);
        return r;
}
