/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ak.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "digest.h"

#define NV_CHUNK 512

/* The TCG EK Credential Profile's default RSA 2048 EK template (L-1): its policy is
 * PolicySecret(TPM_RH_ENDORSEMENT). */
static const TPM2B_PUBLIC ek_template = {
        .publicArea = {
                .type = TPM2_ALG_RSA,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
                .authPolicy = {
                        .size = 32,
                        .buffer = { 0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
                                    0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
                                    0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa },
                },
                .parameters.rsaDetail = {
                        .symmetric = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB },
                        .scheme = { .scheme = TPM2_ALG_NULL },
                        .keyBits = 2048,
                        .exponent = 0,
                },
                .unique.rsa.size = 256,
        },
};

static const TPM2B_PUBLIC ak_template = {
        .publicArea = {
                .type = TPM2_ALG_ECC,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT,
                .parameters.eccDetail = {
                        .symmetric = { .algorithm = TPM2_ALG_NULL },
                        .scheme = { .scheme = TPM2_ALG_ECDSA, .details.ecdsa.hashAlg = TPM2_ALG_SHA256 },
                        .curveID = TPM2_ECC_NIST_P256,
                        .kdf = { .scheme = TPM2_ALG_NULL },
                },
        },
};

int attest_ek_cert_read(attest_tpm *tpm, uint8_t **ret, size_t *ret_size, char *errbuf, size_t errlen) {
        ESYS_CONTEXT *ctx = attest_tpm_esys(tpm);
        TPM2B_NV_PUBLIC *nv_public = NULL;
        ESYS_TR nv = ESYS_TR_NONE;
        uint8_t *cert = NULL;
        size_t size;
        TSS2_RC rc;
        int r;

        if (!ctx || !ret || !ret_size)
                return -EINVAL;
        rc = Esys_TR_FromTPMPublic(ctx, ATTEST_EK_CERT_RSA_NV, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
        if (rc != TSS2_RC_SUCCESS) {
                attest_set_error(errbuf, errlen,
                                 "no EK certificate in NV index 0x%08x: Esys_TR_FromTPMPublic(0x%x) - %s",
                                 ATTEST_EK_CERT_RSA_NV, (unsigned) rc, Tss2_RC_Decode(rc));
                return -ENOENT;
        }
        rc = Esys_NV_ReadPublic(ctx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv_public, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                r = attest_tss_error(errbuf, errlen, "Esys_NV_ReadPublic", rc, -EIO);
                goto finish;
        }
        size = nv_public->nvPublic.dataSize;
        if (size == 0 || size > ATTEST_EK_CERT_MAX) {
                attest_set_error(errbuf, errlen, "NV index 0x%08x holds %zu bytes, not an EK certificate (at most %d)",
                                 ATTEST_EK_CERT_RSA_NV, size, ATTEST_EK_CERT_MAX);
                r = -EBADMSG;
                goto finish;
        }
        cert = malloc(size);
        if (!cert) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t off = 0; off < size;) {
                TPM2B_MAX_NV_BUFFER *chunk = NULL;
                UINT16 n = (UINT16) (size - off < NV_CHUNK ? size - off : NV_CHUNK);
                rc = Esys_NV_Read(ctx, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n, (UINT16) off, &chunk);
                if (rc != TSS2_RC_SUCCESS) {
                        r = attest_tss_error(errbuf, errlen, "Esys_NV_Read", rc, -EIO);
                        goto finish;
                }
                if (chunk->size != n) {
                        Esys_Free(chunk);
                        attest_set_error(errbuf, errlen, "Esys_NV_Read returned %u bytes at offset %zu, asked %u",
                                         (unsigned) chunk->size, off, (unsigned) n);
                        r = -EBADMSG;
                        goto finish;
                }
                memcpy(cert + off, chunk->buffer, n);
                Esys_Free(chunk);
                off += n;
        }
        *ret = cert;
        *ret_size = size;
        cert = NULL;
        r = 0;
finish:
        free(cert);
        Esys_Free(nv_public);
        Esys_TR_Close(ctx, &nv);
        return r;
}

int attest_machine_id(const uint8_t *cert_der, size_t size, char ret[ATTEST_MACHINE_ID_LEN + 1], char *errbuf,
                      size_t errlen) {
        const unsigned char *p = cert_der;
        unsigned char *spki = NULL;
        uint8_t digest[32];
        X509 *x;
        int n, r;

        if (!cert_der || size == 0 || size > ATTEST_EK_CERT_MAX) {
                attest_set_error(errbuf, errlen, "EK certificate: empty or larger than %d bytes", ATTEST_EK_CERT_MAX);
                return -EINVAL;
        }
        x = d2i_X509(NULL, &p, (long) size);
        if (!x || p != cert_der + size) {
                X509_free(x);
                attest_set_error(errbuf, errlen, "EK certificate: not one DER X.509 certificate");
                return -EBADMSG;
        }
        n = i2d_PUBKEY(X509_get0_pubkey(x), &spki);
        X509_free(x);
        if (n <= 0) {
                attest_set_error(errbuf, errlen, "EK certificate: no public key");
                return -EBADMSG;
        }
        r = measure_hash(measure_alg_by_id(MEASURE_ALG_SHA256), spki, (size_t) n, digest);
        OPENSSL_free(spki);
        if (r < 0)
                return r;
        measure_hex(digest, sizeof(digest), ret);
        return 0;
}

static int create_primary(ESYS_CONTEXT *ctx, ESYS_TR hierarchy, const TPM2B_PUBLIC *template, attest_key *ret,
                          char *errbuf, size_t errlen) {
        TPM2B_SENSITIVE_CREATE sensitive = {};
        TPM2B_DATA outside = {};
        TPML_PCR_SELECTION pcrs = {};
        TPM2B_PUBLIC *pub = NULL;
        TPM2B_NAME *name = NULL;
        ESYS_TR handle;
        TSS2_RC rc;
        int r;

        rc = Esys_CreatePrimary(ctx, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, template,
                                &outside, &pcrs, &handle, &pub, NULL, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS)
                return attest_tss_error(errbuf, errlen, "Esys_CreatePrimary", rc, -EIO);
        rc = Esys_TR_GetName(ctx, handle, &name);
        if (rc != TSS2_RC_SUCCESS) {
                r = attest_tss_error(errbuf, errlen, "Esys_TR_GetName", rc, -EIO);
                Esys_FlushContext(ctx, handle);
                Esys_Free(pub);
                return r;
        }
        *ret = (attest_key) { .handle = handle, .transient = 1, .public = *pub, .name = *name };
        Esys_Free(pub);
        Esys_Free(name);
        return 0;
}

int attest_ek_load(attest_tpm *tpm, attest_key *ret, char *errbuf, size_t errlen) {
        ESYS_CONTEXT *ctx = attest_tpm_esys(tpm);
        TPM2B_PUBLIC *pub = NULL;
        TPM2B_NAME *name = NULL;
        ESYS_TR handle = ESYS_TR_NONE;
        TSS2_RC rc;

        if (!ctx || !ret)
                return -EINVAL;
        /* swtpm_setup and most provisioning tools persist the EK; else it is recreated from the template. */
        rc = Esys_TR_FromTPMPublic(ctx, ATTEST_EK_RSA_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &handle);
        if (rc == TSS2_RC_SUCCESS)
                rc = Esys_ReadPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, &name, NULL);
        if (rc == TSS2_RC_SUCCESS && pub->publicArea.type == TPM2_ALG_RSA &&
            pub->publicArea.objectAttributes == ek_template.publicArea.objectAttributes) {
                *ret = (attest_key) { .handle = handle, .transient = 0, .public = *pub, .name = *name };
                Esys_Free(pub);
                Esys_Free(name);
                return 0;
        }
        Esys_Free(pub);
        Esys_Free(name);
        if (handle != ESYS_TR_NONE)
                Esys_TR_Close(ctx, &handle);
        return create_primary(ctx, ESYS_TR_RH_ENDORSEMENT, &ek_template, ret, errbuf, errlen);
}

int attest_ak_create(attest_tpm *tpm, attest_key *ret, char *errbuf, size_t errlen) {
        ESYS_CONTEXT *ctx = attest_tpm_esys(tpm);

        if (!ctx || !ret)
                return -EINVAL;
        return create_primary(ctx, ESYS_TR_RH_OWNER, &ak_template, ret, errbuf, errlen);
}

void attest_key_release(attest_tpm *tpm, attest_key *key) {
        ESYS_CONTEXT *ctx = attest_tpm_esys(tpm);
        ESYS_TR h;

        if (!ctx || !key || key->handle == 0 || key->handle == ESYS_TR_NONE)
                return;
        h = key->handle;
        if (key->transient)
                Esys_FlushContext(ctx, h);
        else
                Esys_TR_Close(ctx, &h);
        key->handle = ESYS_TR_NONE;
}

int attest_ak_activate(attest_tpm *tpm, const attest_key *ak, const attest_key *ek, const uint8_t *blob,
                       size_t blob_size, const uint8_t *secret, size_t secret_size, uint8_t ret[64],
                       size_t *ret_size, char *errbuf, size_t errlen) {
        ESYS_CONTEXT *ctx = attest_tpm_esys(tpm);
        TPM2B_ID_OBJECT id = {};
        TPM2B_ENCRYPTED_SECRET enc = {};
        TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
        TPM2B_NONCE empty_nonce = {};
        TPM2B_DIGEST empty_digest = {};
        TPM2B_DIGEST *cert = NULL;
        ESYS_TR session = ESYS_TR_NONE;
        size_t off = 0;
        TSS2_RC rc;
        int r;

        if (!ctx || !ak || !ek || !blob || !secret || !ret || !ret_size)
                return -EINVAL;
        if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, blob_size, &off, &id) != TSS2_RC_SUCCESS || off != blob_size) {
                attest_set_error(errbuf, errlen, "credential blob: not a TPM2B_ID_OBJECT (%zu bytes)", blob_size);
                return -EBADMSG;
        }
        off = 0;
        if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secret_size, &off, &enc) != TSS2_RC_SUCCESS ||
            off != secret_size) {
                attest_set_error(errbuf, errlen, "credential secret: not a TPM2B_ENCRYPTED_SECRET (%zu bytes)",
                                 secret_size);
                return -EBADMSG;
        }

        rc = Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                                   TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session);
        if (rc != TSS2_RC_SUCCESS)
                return attest_tss_error(errbuf, errlen, "Esys_StartAuthSession", rc, -EIO);
        rc = Esys_PolicySecret(ctx, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               &empty_nonce, &empty_digest, &empty_nonce, 0, NULL, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                r = attest_tss_error(errbuf, errlen, "Esys_PolicySecret", rc, -EIO);
                goto finish;
        }
        rc = Esys_ActivateCredential(ctx, ak->handle, ek->handle, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &id, &enc,
                                     &cert);
        if (rc != TSS2_RC_SUCCESS) {
                r = attest_tss_error(errbuf, errlen, "Esys_ActivateCredential", rc, -EIO);
                goto finish;
        }
        session = ESYS_TR_NONE; /* the TPM closes a policy session that was not continued */
        if (cert->size > 64) {
                attest_set_error(errbuf, errlen, "Esys_ActivateCredential returned %u bytes", (unsigned) cert->size);
                r = -EBADMSG;
                goto finish;
        }
        memcpy(ret, cert->buffer, cert->size);
        *ret_size = cert->size;
        r = 0;
finish:
        if (session != ESYS_TR_NONE)
                Esys_FlushContext(ctx, session);
        if (cert)
                explicit_bzero(cert->buffer, sizeof(cert->buffer));
        Esys_Free(cert);
        return r;
}

int attest_public_parse(const uint8_t *data, size_t size, TPM2B_PUBLIC *ret, char *errbuf, size_t errlen) {
        TPM2B_PUBLIC pub = {};
        size_t off = 0;
        TSS2_RC rc;

        if (!data || !ret)
                return -EINVAL;
        rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(data, size, &off, &pub);
        if (rc != TSS2_RC_SUCCESS) {
                attest_set_error(errbuf, errlen, "not a TPM2B_PUBLIC: Tss2_MU_TPM2B_PUBLIC_Unmarshal(0x%x) - %s",
                                 (unsigned) rc, Tss2_RC_Decode(rc));
                return -EBADMSG;
        }
        if (off != size) {
                attest_set_error(errbuf, errlen, "TPM2B_PUBLIC: %zu trailing bytes at offset %zu", size - off, off);
                return -EBADMSG;
        }
        *ret = pub;
        return 0;
}

int attest_public_marshal(const TPM2B_PUBLIC *pub, uint8_t *buf, size_t max, size_t *ret_size) {
        size_t off = 0;

        if (!pub || !buf || !ret_size)
                return -EINVAL;
        if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, max, &off) != TSS2_RC_SUCCESS)
                return -ENOBUFS;
        *ret_size = off;
        return 0;
}

int attest_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret, char *errbuf, size_t errlen) {
        uint8_t buf[sizeof(TPMT_PUBLIC)];
        size_t off = 0;
        TPM2B_NAME name = {};
        int r;

        if (!pub || !ret)
                return -EINVAL;
        if (pub->publicArea.nameAlg != TPM2_ALG_SHA256) {
                attest_set_error(errbuf, errlen, "key name algorithm 0x%04x is not sha256", pub->publicArea.nameAlg);
                return -EOPNOTSUPP;
        }
        if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS) {
                attest_set_error(errbuf, errlen, "cannot marshal the public area");
                return -EBADMSG;
        }
        name.name[0] = TPM2_ALG_SHA256 >> 8;
        name.name[1] = TPM2_ALG_SHA256 & 0xff;
        r = measure_hash(measure_alg_by_id(MEASURE_ALG_SHA256), buf, off, name.name + 2);
        if (r < 0)
                return r;
        name.size = 34;
        *ret = name;
        return 0;
}

int attest_ak_check(const TPM2B_PUBLIC *pub, char *errbuf, size_t errlen) {
        const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                 TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
        const TPMT_PUBLIC *p;

        if (!pub)
                return -EINVAL;
        p = &pub->publicArea;
        if (p->type != TPM2_ALG_RSA && p->type != TPM2_ALG_ECC) {
                attest_set_error(errbuf, errlen, "AK: key type 0x%04x is neither RSA nor ECC", p->type);
                return -EPERM;
        }
        if (p->nameAlg != TPM2_ALG_SHA256) {
                attest_set_error(errbuf, errlen, "AK: name algorithm 0x%04x is not sha256", p->nameAlg);
                return -EPERM;
        }
        if ((p->objectAttributes & need) != need || (p->objectAttributes & TPMA_OBJECT_DECRYPT)) {
                attest_set_error(errbuf, errlen,
                                 "AK: attributes 0x%08x are not those of a restricted signing key kept in its TPM "
                                 "(fixedTPM|fixedParent|sensitiveDataOrigin|restricted|sign, no decrypt)",
                                 (unsigned) p->objectAttributes);
                return -EPERM;
        }
        return 0;
}

int attest_public_to_pkey(const TPM2B_PUBLIC *pub, EVP_PKEY **ret, char *errbuf, size_t errlen) {
        const TPMT_PUBLIC *p;
        OSSL_PARAM_BLD *bld = NULL;
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;
        BIGNUM *n = NULL, *e = NULL;
        uint8_t point[1 + 2 * 66];
        const char *type;
        int r = -EBADMSG;

        if (!pub || !ret)
                return -EINVAL;
        p = &pub->publicArea;
        bld = OSSL_PARAM_BLD_new();
        if (!bld)
                return -ENOMEM;
        if (p->type == TPM2_ALG_RSA) {
                const TPM2B_PUBLIC_KEY_RSA *m = &p->unique.rsa;
                uint32_t exp = p->parameters.rsaDetail.exponent ? p->parameters.rsaDetail.exponent : 65537;
                if (m->size == 0 || m->size > sizeof(m->buffer)) {
                        attest_set_error(errbuf, errlen, "RSA key without a modulus");
                        goto finish;
                }
                type = "RSA";
                n = BN_bin2bn(m->buffer, m->size, NULL);
                e = BN_new();
                if (!n || !e || !BN_set_word(e, exp) || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
                    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
                        r = -ENOMEM;
                        goto finish;
                }
        } else if (p->type == TPM2_ALG_ECC) {
                const TPMS_ECC_POINT *q = &p->unique.ecc;
                const char *curve;
                size_t field;
                switch (p->parameters.eccDetail.curveID) {
                case TPM2_ECC_NIST_P256:
                        curve = "prime256v1";
                        field = 32;
                        break;
                case TPM2_ECC_NIST_P384:
                        curve = "secp384r1";
                        field = 48;
                        break;
                default:
                        attest_set_error(errbuf, errlen, "ECC curve 0x%04x is not supported (NIST P-256, P-384 are)",
                                         p->parameters.eccDetail.curveID);
                        r = -EOPNOTSUPP;
                        goto finish;
                }
                if (q->x.size == 0 || q->x.size > field || q->y.size == 0 || q->y.size > field) {
                        attest_set_error(errbuf, errlen,
                                         "ECC point coordinates of %u and %u bytes for a %zu-byte curve",
                                         (unsigned) q->x.size, (unsigned) q->y.size, field);
                        goto finish;
                }
                /* Uncompressed point: 04 || x || y, each left-padded to the field size. */
                memset(point, 0, sizeof(point));
                point[0] = 0x04;
                memcpy(point + 1 + field - q->x.size, q->x.buffer, q->x.size);
                memcpy(point + 1 + 2 * field - q->y.size, q->y.buffer, q->y.size);
                type = "EC";
                if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
                    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * field)) {
                        r = -ENOMEM;
                        goto finish;
                }
        } else {
                attest_set_error(errbuf, errlen, "key type 0x%04x is neither RSA nor ECC", p->type);
                r = -EOPNOTSUPP;
                goto finish;
        }
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        if (!params || !ctx) {
                r = -ENOMEM;
                goto finish;
        }
        if (EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
                attest_set_error(errbuf, errlen, "the %s public key is not valid", type);
                goto finish;
        }
        *ret = pkey;
        r = 0;
finish:
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(n);
        BN_free(e);
        return r;
}
