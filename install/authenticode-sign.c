/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "authenticode-sign.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include "authenticode.h"
#include "buf.h"
#include "digest.h"
#include "pe-build.h"

#define OID_SPC_INDIRECT_DATA "1.3.6.1.4.1.311.2.1.4"
#define OID_SPC_PE_IMAGE_DATA "1.3.6.1.4.1.311.2.1.15"
#define OID_SPC_SP_OPUS_INFO "1.3.6.1.4.1.311.2.1.12"

#define WIN_CERT_REVISION_2_0 0x0200
#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002
#define WIN_CERT_HEADER 8

/* The ASN.1 of "Windows Authenticode Portable Executable Signature Format":
 *   SpcIndirectDataContent ::= SEQUENCE { data SpcAttributeTypeAndOptionalValue, messageDigest DigestInfo }
 *   SpcAttributeTypeAndOptionalValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY OPTIONAL }
 *   DigestInfo ::= SEQUENCE { digestAlgorithm AlgorithmIdentifier, digest OCTET STRING }
 *   SpcPeImageData ::= SEQUENCE { flags BIT STRING, file [0] EXPLICIT SpcLink OPTIONAL }
 *   SpcLink ::= CHOICE { url [0] IMPLICIT IA5String, moniker [1] IMPLICIT ..., file [2] EXPLICIT SpcString }
 *   SpcString ::= CHOICE { unicode [0] IMPLICIT BMPString, ascii [1] IMPLICIT IA5String } */
typedef struct spc_string {
        int type;
        union {
                ASN1_BMPSTRING *unicode;
                ASN1_IA5STRING *ascii;
        } value;
} SPC_STRING;
ASN1_CHOICE(SPC_STRING) = {
        ASN1_IMP(SPC_STRING, value.unicode, ASN1_BMPSTRING, 0),
        ASN1_IMP(SPC_STRING, value.ascii, ASN1_IA5STRING, 1),
} static_ASN1_CHOICE_END(SPC_STRING)

typedef struct spc_link {
        int type;
        union {
                ASN1_IA5STRING *url;
                ASN1_TYPE *moniker;
                SPC_STRING *file;
        } value;
} SPC_LINK;
ASN1_CHOICE(SPC_LINK) = {
        ASN1_IMP(SPC_LINK, value.url, ASN1_IA5STRING, 0),
        ASN1_IMP(SPC_LINK, value.moniker, ASN1_ANY, 1),
        ASN1_EXP(SPC_LINK, value.file, SPC_STRING, 2),
} static_ASN1_CHOICE_END(SPC_LINK)

typedef struct spc_pe_image_data {
        ASN1_BIT_STRING *flags;
        SPC_LINK *file;
} SPC_PE_IMAGE_DATA;
ASN1_SEQUENCE(SPC_PE_IMAGE_DATA) = {
        ASN1_SIMPLE(SPC_PE_IMAGE_DATA, flags, ASN1_BIT_STRING),
        ASN1_EXP_OPT(SPC_PE_IMAGE_DATA, file, SPC_LINK, 0),
} static_ASN1_SEQUENCE_END(SPC_PE_IMAGE_DATA)

typedef struct spc_attribute {
        ASN1_OBJECT *type;
        ASN1_TYPE *value;
} SPC_ATTRIBUTE;
ASN1_SEQUENCE(SPC_ATTRIBUTE) = {
        ASN1_SIMPLE(SPC_ATTRIBUTE, type, ASN1_OBJECT),
        ASN1_OPT(SPC_ATTRIBUTE, value, ASN1_ANY),
} static_ASN1_SEQUENCE_END(SPC_ATTRIBUTE)

typedef struct spc_digest_info {
        X509_ALGOR *alg;
        ASN1_OCTET_STRING *digest;
} SPC_DIGEST_INFO;
ASN1_SEQUENCE(SPC_DIGEST_INFO) = {
        ASN1_SIMPLE(SPC_DIGEST_INFO, alg, X509_ALGOR),
        ASN1_SIMPLE(SPC_DIGEST_INFO, digest, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(SPC_DIGEST_INFO)

typedef struct spc_indirect_data {
        SPC_ATTRIBUTE *data;
        SPC_DIGEST_INFO *digest;
} SPC_INDIRECT_DATA;
ASN1_SEQUENCE(SPC_INDIRECT_DATA) = {
        ASN1_SIMPLE(SPC_INDIRECT_DATA, data, SPC_ATTRIBUTE),
        ASN1_SIMPLE(SPC_INDIRECT_DATA, digest, SPC_DIGEST_INFO),
} static_ASN1_SEQUENCE_END(SPC_INDIRECT_DATA)

/* DER of the SpcPeImageData every signer writes: no flags, file = unicode "<<<Obsolete>>>". */
static int pe_image_data_der(unsigned char **ret, int *ret_len) {
        static const char obsolete[] = "<<<Obsolete>>>";
        unsigned char bmp[2 * (sizeof(obsolete) - 1)];
        SPC_PE_IMAGE_DATA *pid = (SPC_PE_IMAGE_DATA *) ASN1_item_new(ASN1_ITEM_rptr(SPC_PE_IMAGE_DATA));
        SPC_LINK *link = (SPC_LINK *) ASN1_item_new(ASN1_ITEM_rptr(SPC_LINK));
        SPC_STRING *str = (SPC_STRING *) ASN1_item_new(ASN1_ITEM_rptr(SPC_STRING));
        ASN1_BMPSTRING *uni = ASN1_BMPSTRING_new();
        int r = -ENOMEM, len;

        if (!pid || !link || !str || !uni)
                goto finish;
        for (size_t i = 0; i < sizeof(obsolete) - 1; i++) {
                bmp[2 * i] = 0;
                bmp[2 * i + 1] = (unsigned char) obsolete[i];
        }
        if (!ASN1_STRING_set(uni, bmp, sizeof(bmp)))
                goto finish;
        str->type = 0;
        str->value.unicode = uni;
        uni = NULL;
        link->type = 2;
        link->value.file = str;
        str = NULL;
        pid->file = link;
        link = NULL;
        *ret = NULL;
        len = ASN1_item_i2d((ASN1_VALUE *) pid, ret, ASN1_ITEM_rptr(SPC_PE_IMAGE_DATA));
        if (len <= 0)
                goto finish;
        *ret_len = len;
        r = 0;
finish:
        ASN1_BMPSTRING_free(uni);
        ASN1_item_free((ASN1_VALUE *) str, ASN1_ITEM_rptr(SPC_STRING));
        ASN1_item_free((ASN1_VALUE *) link, ASN1_ITEM_rptr(SPC_LINK));
        ASN1_item_free((ASN1_VALUE *) pid, ASN1_ITEM_rptr(SPC_PE_IMAGE_DATA));
        return r;
}

/* DER of the SpcIndirectDataContent for a SHA-256 image hash. */
static int indirect_data_der(const uint8_t digest[32], unsigned char **ret, int *ret_len) {
        SPC_INDIRECT_DATA *idc = (SPC_INDIRECT_DATA *) ASN1_item_new(ASN1_ITEM_rptr(SPC_INDIRECT_DATA));
        unsigned char *pid = NULL;
        int pid_len = 0, len, r = -ENOMEM;
        ASN1_STRING *seq = NULL;

        if (!idc)
                return -ENOMEM;
        r = pe_image_data_der(&pid, &pid_len);
        if (r < 0)
                goto finish;
        r = -ENOMEM;
        seq = ASN1_STRING_new();
        idc->data->type = OBJ_txt2obj(OID_SPC_PE_IMAGE_DATA, 1);
        idc->data->value = ASN1_TYPE_new();
        if (!seq || !idc->data->type || !idc->data->value || !ASN1_STRING_set(seq, pid, pid_len))
                goto finish;
        ASN1_TYPE_set(idc->data->value, V_ASN1_SEQUENCE, seq);
        seq = NULL;
        if (!X509_ALGOR_set0(idc->digest->alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
            !ASN1_OCTET_STRING_set(idc->digest->digest, digest, 32))
                goto finish;
        *ret = NULL;
        len = ASN1_item_i2d((ASN1_VALUE *) idc, ret, ASN1_ITEM_rptr(SPC_INDIRECT_DATA));
        if (len <= 0)
                goto finish;
        *ret_len = len;
        r = 0;
finish:
        ASN1_STRING_free(seq);
        OPENSSL_free(pid);
        ASN1_item_free((ASN1_VALUE *) idc, ASN1_ITEM_rptr(SPC_INDIRECT_DATA));
        return r;
}

/* The bytes Authenticode's messageDigest covers: the SpcIndirectDataContent SEQUENCE without its tag and
 * length. */
static int content_of(const unsigned char *der, long len, const unsigned char **ret, long *ret_len) {
        const unsigned char *p = der;
        long inner;
        int tag, xclass;
        if (ASN1_get_object(&p, &inner, &tag, &xclass, len) & 0x80 || tag != V_ASN1_SEQUENCE ||
            inner > len - (p - der))
                return -EBADMSG;
        *ret = p;
        *ret_len = inner;
        return 0;
}

/* The PKCS#7 SignedData (DER) over an image hash. */
static int signed_data_der(const uint8_t digest[32], EVP_PKEY *key, X509 *cert, unsigned char **ret, int *ret_len) {
        unsigned char *idc = NULL;
        int idc_len = 0, r;
        const unsigned char *content;
        long content_len;
        PKCS7 *p7 = NULL, *inner = NULL;
        PKCS7_SIGNER_INFO *si;
        ASN1_STRING *seq = NULL;
        X509_ATTRIBUTE *opus = NULL;

        r = indirect_data_der(digest, &idc, &idc_len);
        if (r < 0)
                return r;
        r = content_of(idc, idc_len, &content, &content_len);
        if (r < 0)
                goto finish;
        r = -EIO;
        p7 = PKCS7_new();
        if (!p7 || !PKCS7_set_type(p7, NID_pkcs7_signed))
                goto finish;
        si = PKCS7_add_signature(p7, cert, key, EVP_sha256());
        if (!si)
                goto finish;
        ASN1_OBJECT *ct = OBJ_txt2obj(OID_SPC_INDIRECT_DATA, 1);
        if (!ct || !PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, ct)) {
                ASN1_OBJECT_free(ct);
                goto finish;
        }
        /* SpcSpOpusInfo: an empty SEQUENCE (no program name, no URL), as sbsign and pesign write it. */
        ASN1_OBJECT *opus_oid = OBJ_txt2obj(OID_SPC_SP_OPUS_INFO, 1);
        opus = opus_oid ? X509_ATTRIBUTE_create_by_OBJ(NULL, opus_oid, V_ASN1_SEQUENCE,
                                                       (const unsigned char *) "\x30\x00", 2) : NULL;
        ASN1_OBJECT_free(opus_oid);
        if (!opus || !sk_X509_ATTRIBUTE_push(si->auth_attr, opus))
                goto finish;
        opus = NULL;
        /* messageDigest over the content, then the signature over the attributes. Done here rather than by
         * PKCS7_dataFinal(), which would add a signingTime: without it the signature is a function of the
         * image and the key, so a re-install reproduces the same bytes. */
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned md_len = 0;
        if (!PKCS7_add_certificate(p7, cert) || !EVP_Digest(content, (size_t) content_len, md, &md_len, EVP_sha256(), NULL) ||
            !PKCS7_add1_attrib_digest(si, md, (int) md_len) || PKCS7_SIGNER_INFO_sign(si) <= 0)
                goto finish;

        /* The signed content is the SpcIndirectDataContent, not data. */
        inner = PKCS7_new();
        seq = ASN1_STRING_new();
        if (!inner || !seq || !ASN1_STRING_set(seq, idc, idc_len))
                goto finish;
        inner->type = OBJ_txt2obj(OID_SPC_INDIRECT_DATA, 1);
        inner->d.other = ASN1_TYPE_new();
        if (!inner->type || !inner->d.other)
                goto finish;
        ASN1_TYPE_set(inner->d.other, V_ASN1_SEQUENCE, seq);
        seq = NULL;
        if (!PKCS7_set_content(p7, inner))
                goto finish;
        inner = NULL;
        *ret = NULL;
        *ret_len = i2d_PKCS7(p7, ret);
        r = *ret_len > 0 ? 0 : -EIO;
finish:
        X509_ATTRIBUTE_free(opus);
        ASN1_STRING_free(seq);
        PKCS7_free(inner);
        PKCS7_free(p7);
        OPENSSL_free(idc);
        return r;
}

int install_authenticode_sign(const void *data, size_t size, EVP_PKEY *key, X509 *cert, measure_pe_error *error,
                              uint8_t **ret, size_t *ret_size) {
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        const measure_alg *algs[1] = { sha256 };
        uint8_t digest[1][MEASURE_DIGEST_MAX];
        uint32_t cert_off, cert_size;
        unsigned char *sig = NULL;
        int sig_len = 0, r;
        uint8_t *out = NULL;
        measure_pe *pe;

        if (!data || !key || !cert || !ret || !ret_size)
                return -EINVAL;
        if (X509_check_private_key(cert, key) != 1)
                return -EIO;
        r = install_pe_parse_new(data, size, error, &pe);
        if (r < 0)
                return r;
        if (pe->n_data_dirs <= MEASURE_PE_DIR_SECURITY) {
                r = -EBADMSG;
                if (error) {
                        error->offset = pe->data_dirs_offset;
                        error->what = "no certificate-table directory entry";
                }
                goto finish;
        }
        /* Drop an existing signature: the file ends where its certificate table starts. */
        measure_pe_cert_table(pe, &cert_off, &cert_size);
        size_t body = cert_size > 0 ? cert_off : size;
        if (cert_size > 0 && (uint64_t) cert_off + cert_size != size) {
                r = -EBADMSG;
                if (error) {
                        error->offset = cert_off;
                        error->what = "the certificate table is not at the end of the file";
                }
                goto finish;
        }
        size_t padded = (body + 7) & ~(size_t) 7;
        out = calloc(1, padded);
        if (!out) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(out, data, body);
        memset(out + pe->data_dirs_offset + 8 * MEASURE_PE_DIR_SECURITY, 0, 8);

        /* The hash of the padded, unsigned file (the padding is part of the signed image). */
        r = measure_pe_parse(out, padded, MEASURE_PE_FILE, error, pe);
        if (r < 0)
                goto finish;
        r = measure_authenticode_hash(pe, out, padded, algs, 1, digest);
        if (r < 0)
                goto finish;
        r = signed_data_der(digest[0], key, cert, &sig, &sig_len);
        if (r < 0)
                goto finish;

        size_t entry = (WIN_CERT_HEADER + (size_t) sig_len + 7) & ~(size_t) 7;
        if (padded + entry > INSTALL_PE_MAX_SIZE + (size_t) 65536) {
                r = -E2BIG;
                goto finish;
        }
        uint8_t *grown = realloc(out, padded + entry);
        if (!grown) {
                r = -ENOMEM;
                goto finish;
        }
        out = grown;
        memset(out + padded, 0, entry);
        measure_put_le32(out + padded, (uint32_t) (WIN_CERT_HEADER + sig_len)); /* dwLength: header + signature */
        measure_put_le16(out + padded + 4, WIN_CERT_REVISION_2_0);
        measure_put_le16(out + padded + 6, WIN_CERT_TYPE_PKCS_SIGNED_DATA);
        memcpy(out + padded + WIN_CERT_HEADER, sig, (size_t) sig_len);
        uint8_t *dir = out + pe->data_dirs_offset + 8 * MEASURE_PE_DIR_SECURITY;
        measure_put_le32(dir, (uint32_t) padded);
        measure_put_le32(dir + 4, (uint32_t) entry);
        measure_put_le32(out + pe->checksum_offset, install_pe_checksum(out, padded + entry, pe->checksum_offset));

        *ret = out;
        *ret_size = padded + entry;
        out = NULL;
        r = 0;
finish:
        OPENSSL_free(sig);
        free(out);
        free(pe);
        return r;
}

const char *install_signature_state_name(install_signature_state s) {
        switch (s) {
        case INSTALL_SIGNATURE_VALID:
                return "valid";
        case INSTALL_SIGNATURE_NONE:
                return "unsigned";
        case INSTALL_SIGNATURE_OTHER:
                return "signed by another key";
        case INSTALL_SIGNATURE_BAD:
                return "bad signature";
        }
        return "?";
}

/* The registry's algorithm for a DigestInfo algorithm, or NULL. */
static const measure_alg *alg_of(const X509_ALGOR *a) {
        const ASN1_OBJECT *obj;
        X509_ALGOR_get0(&obj, NULL, NULL, a);
        switch (OBJ_obj2nid(obj)) {
        case NID_sha1:
                return measure_alg_by_name("sha1");
        case NID_sha256:
                return measure_alg_by_name("sha256");
        case NID_sha384:
                return measure_alg_by_name("sha384");
        case NID_sha512:
                return measure_alg_by_name("sha512");
        default:
                return NULL;
        }
}

/* Checks the SignedData p7 against the image hash computed in its own digest algorithm. */
static install_signature_state check_signed_data(PKCS7 *p7, const measure_pe *pe, const void *data, size_t size,
                                                 X509 *cert) {
        install_signature_state state = INSTALL_SIGNATURE_BAD;
        SPC_INDIRECT_DATA *idc = NULL;
        unsigned char *attrs = NULL;
        EVP_MD_CTX *ctx = NULL;

        if (!PKCS7_type_is_signed(p7) || !p7->d.sign || !p7->d.sign->contents)
                return INSTALL_SIGNATURE_BAD;
        PKCS7 *content = p7->d.sign->contents;
        if (!content->d.other || content->d.other->type != V_ASN1_SEQUENCE)
                return INSTALL_SIGNATURE_BAD;
        char oid[64];
        if (OBJ_obj2txt(oid, sizeof(oid), content->type, 1) <= 0 || strcmp(oid, OID_SPC_INDIRECT_DATA) != 0)
                return INSTALL_SIGNATURE_BAD;
        const ASN1_STRING *seq = content->d.other->value.sequence;
        const unsigned char *der = ASN1_STRING_get0_data(seq), *p = der, *inner;
        long der_len = ASN1_STRING_length(seq), inner_len;
        idc = (SPC_INDIRECT_DATA *) ASN1_item_d2i(NULL, &p, der_len, ASN1_ITEM_rptr(SPC_INDIRECT_DATA));
        if (!idc || content_of(der, der_len, &inner, &inner_len) < 0)
                goto finish;

        /* 1. The signed image hash is this file's. */
        const measure_alg *alg = alg_of(idc->digest->alg);
        uint8_t digest[1][MEASURE_DIGEST_MAX];
        if (!alg || ASN1_STRING_length(idc->digest->digest) != (int) alg->size ||
            measure_authenticode_hash(pe, data, size, (const measure_alg *const[]) { alg }, 1, digest) < 0 ||
            memcmp(ASN1_STRING_get0_data(idc->digest->digest), digest[0], alg->size) != 0)
                goto finish;

        /* 2. The signer is cert. */
        STACK_OF(PKCS7_SIGNER_INFO) *infos = PKCS7_get_signer_info(p7);
        PKCS7_SIGNER_INFO *si = infos && sk_PKCS7_SIGNER_INFO_num(infos) == 1 ? sk_PKCS7_SIGNER_INFO_value(infos, 0) : NULL;
        if (!si || !si->issuer_and_serial)
                goto finish;
        if (X509_NAME_cmp(si->issuer_and_serial->issuer, X509_get_issuer_name(cert)) != 0 ||
            ASN1_INTEGER_cmp(si->issuer_and_serial->serial, X509_get0_serialNumber(cert)) != 0) {
                state = INSTALL_SIGNATURE_OTHER;
                goto finish;
        }

        /* 3. messageDigest covers the SpcIndirectDataContent, and the attributes are signed by cert's key. */
        const ASN1_OBJECT *md_obj;
        X509_ALGOR_get0(&md_obj, NULL, NULL, si->digest_alg);
        const EVP_MD *md = EVP_get_digestbyobj(md_obj);
        ASN1_OCTET_STRING *md_attr = PKCS7_digest_from_attributes(si->auth_attr);
        unsigned char mdbuf[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        if (!md || !md_attr || !EVP_Digest(inner, (size_t) inner_len, mdbuf, &mdlen, md, NULL) ||
            ASN1_STRING_length(md_attr) != (int) mdlen || memcmp(ASN1_STRING_get0_data(md_attr), mdbuf, mdlen) != 0)
                goto finish;
        int attrs_len = ASN1_item_i2d((ASN1_VALUE *) si->auth_attr, &attrs, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
        ctx = EVP_MD_CTX_new();
        if (attrs_len <= 0 || !ctx || EVP_DigestVerifyInit(ctx, NULL, md, NULL, X509_get0_pubkey(cert)) != 1 ||
            EVP_DigestVerify(ctx, ASN1_STRING_get0_data(si->enc_digest), (size_t) ASN1_STRING_length(si->enc_digest),
                             attrs, (size_t) attrs_len) != 1)
                goto finish;
        state = INSTALL_SIGNATURE_VALID;
finish:
        EVP_MD_CTX_free(ctx);
        OPENSSL_free(attrs);
        ASN1_item_free((ASN1_VALUE *) idc, ASN1_ITEM_rptr(SPC_INDIRECT_DATA));
        return state;
}

int install_authenticode_check(const void *data, size_t size, X509 *cert, install_signature_state *ret) {
        uint32_t cert_off, cert_size;
        measure_pe *pe;
        int r;

        if (!data || !cert || !ret)
                return -EINVAL;
        r = install_pe_parse_new(data, size, NULL, &pe);
        if (r < 0)
                return r;
        measure_pe_cert_table(pe, &cert_off, &cert_size);
        if (cert_size == 0) {
                *ret = INSTALL_SIGNATURE_NONE;
                goto finish;
        }
        const uint8_t *w = (const uint8_t *) data + cert_off;
        uint32_t len = cert_size >= WIN_CERT_HEADER ? measure_le32(w) : 0;
        if (len <= WIN_CERT_HEADER || len > cert_size || (w[4] | w[5] << 8) != WIN_CERT_REVISION_2_0 ||
            (w[6] | w[7] << 8) != WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
                *ret = INSTALL_SIGNATURE_BAD;
                goto finish;
        }
        const unsigned char *p = w + WIN_CERT_HEADER;
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, len - WIN_CERT_HEADER);
        if (!p7) {
                *ret = INSTALL_SIGNATURE_BAD;
                goto finish;
        }
        *ret = check_signed_data(p7, pe, data, size, cert);
        PKCS7_free(p7);
finish:
        free(pe);
        return r;
}
