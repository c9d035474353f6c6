/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verifier-credential.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "tpm.h"

static void be32(uint8_t *p, uint32_t v) {
        p[0] = v >> 24;
        p[1] = v >> 16;
        p[2] = v >> 8;
        p[3] = v;
}

/* HMAC-SHA256 over the concatenation of a few small pieces. */
static int hmac_sha256(const uint8_t *key, size_t key_size, const uint8_t *const *parts, const size_t *sizes,
                       size_t n, uint8_t ret[32]) {
        uint8_t msg[512];
        size_t len = 0, out = 0;

        for (size_t i = 0; i < n; i++) {
                if (sizes[i] > sizeof(msg) - len)
                        return -E2BIG;
                if (sizes[i])
                        memcpy(msg + len, parts[i], sizes[i]);
                len += sizes[i];
        }
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_size, msg, len, ret, 32, &out) || out != 32)
                return -EIO;
        return 0;
}

int verifier_kdfa_sha256(const uint8_t *key, size_t key_size, const char *label, const uint8_t *context_u,
                         size_t u_size, const uint8_t *context_v, size_t v_size, uint32_t bits, uint8_t *ret) {
        size_t want = (bits + 7) / 8, done = 0;
        uint8_t counter[4], len[4], block[32];
        int r;

        if (!key || !label || !ret || bits == 0 || bits > 8192)
                return -EINVAL;
        be32(len, bits);
        for (uint32_t i = 1; done < want; i++) {
                be32(counter, i);
                /* The label is hashed with its terminating NUL. */
                const uint8_t *parts[] = { counter, (const uint8_t *) label, context_u, context_v, len };
                const size_t sizes[] = { 4, strlen(label) + 1, context_u ? u_size : 0, context_v ? v_size : 0, 4 };
                r = hmac_sha256(key, key_size, parts, sizes, 5, block);
                if (r < 0)
                        return r;
                size_t take = want - done < sizeof(block) ? want - done : sizeof(block);
                memcpy(ret + done, block, take);
                done += take;
        }
        OPENSSL_cleanse(block, sizeof(block));
        return 0;
}

static int oaep_encrypt(EVP_PKEY *ek, const uint8_t *seed, size_t seed_size, TPM2B_ENCRYPTED_SECRET *ret,
                        char *errbuf, size_t errlen) {
        static const char label[] = "IDENTITY"; /* with its NUL */
        EVP_PKEY_CTX *ctx;
        unsigned char *l;
        size_t out = sizeof(ret->secret);
        int r = -EIO;

        if (EVP_PKEY_get_base_id(ek) != EVP_PKEY_RSA) {
                attest_set_error(errbuf, errlen, "the EK is not an RSA key (only RSA EKs are handled)");
                return -EOPNOTSUPP;
        }
        ctx = EVP_PKEY_CTX_new(ek, NULL);
        if (!ctx)
                return -ENOMEM;
        l = OPENSSL_memdup(label, sizeof(label));
        if (!l || EVP_PKEY_encrypt_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0 ||
            EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, sizeof(label)) <= 0) {
                OPENSSL_free(l);
                attest_set_error(errbuf, errlen, "cannot set up RSA-OAEP for the EK");
                goto finish;
        }
        if (EVP_PKEY_encrypt(ctx, ret->secret, &out, seed, seed_size) <= 0) {
                attest_set_error(errbuf, errlen, "RSA-OAEP encryption to the EK failed");
                goto finish;
        }
        ret->size = (UINT16) out;
        r = 0;
finish:
        EVP_PKEY_CTX_free(ctx);
        return r;
}

int verifier_make_credential(EVP_PKEY *ek, const TPM2B_NAME *ak_name, const uint8_t *credential,
                             size_t credential_size, TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret,
                             char *errbuf, size_t errlen) {
        uint8_t seed[32], sym_key[16], hmac_key[32], iv[16] = {};
        uint8_t plain[sizeof(TPM2B_DIGEST)], enc[sizeof(TPM2B_DIGEST)];
        TPM2B_DIGEST cred = {}, integrity = {};
        TPM2B_ENCRYPTED_SECRET secret = {};
        TPM2B_ID_OBJECT blob = {};
        EVP_CIPHER_CTX *c = NULL;
        size_t plain_size = 0, off = 0;
        unsigned hmac_size = 0;
        int n1 = 0, n2 = 0, r;

        if (!ek || !ak_name || !credential || !ret_blob || !ret_secret)
                return -EINVAL;
        if (credential_size == 0 || credential_size > sizeof(cred.buffer) || ak_name->size > sizeof(ak_name->name))
                return -EINVAL;
        memcpy(cred.buffer, credential, credential_size);
        cred.size = (UINT16) credential_size;

        if (RAND_bytes(seed, sizeof(seed)) != 1)
                return -EIO;
        r = oaep_encrypt(ek, seed, sizeof(seed), &secret, errbuf, errlen);
        if (r < 0)
                goto finish;
        r = verifier_kdfa_sha256(seed, sizeof(seed), "STORAGE", ak_name->name, ak_name->size, NULL, 0, 128, sym_key);
        if (r >= 0)
                r = verifier_kdfa_sha256(seed, sizeof(seed), "INTEGRITY", NULL, 0, NULL, 0, 256, hmac_key);
        if (r < 0)
                goto finish;

        /* encIdentity: the marshalled TPM2B_DIGEST credential, AES-128-CFB with a zero IV. */
        if (Tss2_MU_TPM2B_DIGEST_Marshal(&cred, plain, sizeof(plain), &plain_size) != TSS2_RC_SUCCESS) {
                r = -EINVAL;
                goto finish;
        }
        c = EVP_CIPHER_CTX_new();
        if (!c || EVP_EncryptInit_ex(c, EVP_aes_128_cfb128(), NULL, sym_key, iv) != 1 ||
            EVP_EncryptUpdate(c, enc, &n1, plain, (int) plain_size) != 1 || EVP_EncryptFinal_ex(c, enc + n1, &n2) != 1 ||
            (size_t) (n1 + n2) != plain_size) {
                r = -EIO;
                goto finish;
        }
        /* outerHMAC = HMAC(INTEGRITY key, encIdentity || name). */
        const uint8_t *parts[] = { enc, ak_name->name };
        const size_t sizes[] = { plain_size, ak_name->size };
        r = hmac_sha256(hmac_key, sizeof(hmac_key), parts, sizes, 2, integrity.buffer);
        if (r < 0)
                goto finish;
        hmac_size = 32;
        integrity.size = (UINT16) hmac_size;

        /* TPMS_ID_OBJECT: integrityHMAC as a TPM2B, then encIdentity without a size of its own. */
        if (Tss2_MU_TPM2B_DIGEST_Marshal(&integrity, blob.credential, sizeof(blob.credential), &off) !=
                    TSS2_RC_SUCCESS || off + plain_size > sizeof(blob.credential)) {
                r = -EINVAL;
                goto finish;
        }
        memcpy(blob.credential + off, enc, plain_size);
        blob.size = (UINT16) (off + plain_size);
        *ret_blob = blob;
        *ret_secret = secret;
        r = 0;
finish:
        EVP_CIPHER_CTX_free(c);
        OPENSSL_cleanse(seed, sizeof(seed));
        OPENSSL_cleanse(sym_key, sizeof(sym_key));
        OPENSSL_cleanse(hmac_key, sizeof(hmac_key));
        OPENSSL_cleanse(plain, sizeof(plain));
        OPENSSL_cleanse(&cred, sizeof(cred));
        return r;
}
