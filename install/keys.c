/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "keys.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <libgen.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "fileio.h"

static int errf(char *errbuf, size_t errlen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define GUID_INIT(d1, d2, d3, ...)                                                                    \
        { { (d1) & 0xff, ((d1) >> 8) & 0xff, ((d1) >> 16) & 0xff, ((d1) >> 24) & 0xff, (d2) & 0xff, \
            ((d2) >> 8) & 0xff, (d3) & 0xff, ((d3) >> 8) & 0xff, __VA_ARGS__ } }

const install_guid install_guid_global_variable =
        GUID_INIT(0x8be4df61u, 0x93ca, 0x11d2, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c);
const install_guid install_guid_image_security =
        GUID_INIT(0xd719b2cbu, 0x3d3a, 0x4596, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f);
const install_guid install_guid_cert_x509 =
        GUID_INIT(0xa5c059a1u, 0x94e4, 0x4aa7, 0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72);
const install_guid install_guid_cert_pkcs7 =
        GUID_INIT(0x4aafd29du, 0x68df, 0x49ee, 0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7);

const install_guid install_guid_microsoft_owner =
        GUID_INIT(0x77fa9abdu, 0x0359, 0x4d32, 0xbd, 0x60, 0x28, 0xf4, 0xe7, 0x8f, 0x78, 0x4b);

/* Byte positions of the 32 hex digits in the text form, in wire order. */
static const uint8_t guid_text_pos[16] = { 6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34 };

int install_guid_parse(const char *s, install_guid *ret) {
        install_guid g;
        if (!s || strlen(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
                return -EINVAL;
        for (size_t i = 0; i < 16; i++) {
                unsigned v;
                char two[3] = { s[guid_text_pos[i]], s[guid_text_pos[i] + 1], 0 };
                char *end;
                if (two[0] == '-' || two[1] == '-' || two[0] == '+' || two[0] == ' ')
                        return -EINVAL;
                v = (unsigned) strtoul(two, &end, 16);
                if (*end)
                        return -EINVAL;
                g.b[i] = (uint8_t) v;
        }
        *ret = g;
        return 0;
}

char *install_guid_format(const install_guid *g, char buf[static 37]) {
        static const char hex[] = "0123456789abcdef";
        memset(buf, '-', 36);
        buf[36] = 0;
        for (size_t i = 0; i < 16; i++) {
                buf[guid_text_pos[i]] = hex[g->b[i] >> 4];
                buf[guid_text_pos[i] + 1] = hex[g->b[i] & 15];
        }
        return buf;
}

int install_guid_random(install_guid *ret) {
        install_guid g;
        if (RAND_bytes(g.b, sizeof(g.b)) != 1)
                return -EIO;
        g.b[7] = (uint8_t) ((g.b[7] & 0x0f) | 0x40); /* version 4 (Data3's high nibble, stored little-endian) */
        g.b[8] = (uint8_t) ((g.b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        *ret = g;
        return 0;
}

static const char *const key_names[INSTALL_KEY_MAX] = { "PK", "KEK", "db" };
static const char *const key_subjects[INSTALL_KEY_MAX] = { "Platform Key", "Key Exchange Key", "Signature Database Key" };

const char *install_key_name(install_key_kind kind) {
        return kind < INSTALL_KEY_MAX ? key_names[kind] : NULL;
}

const install_guid *install_key_vendor(install_key_kind kind) {
        return kind == INSTALL_KEY_DB ? &install_guid_image_security : &install_guid_global_variable;
}

install_key_kind install_key_signer(install_key_kind kind) {
        return kind == INSTALL_KEY_DB ? INSTALL_KEY_KEK : INSTALL_KEY_PK;
}

int install_esl_from_cert(X509 *cert, const install_guid *owner, uint8_t **ret, size_t *ret_len) {
        int der_len = i2d_X509(cert, NULL);
        if (der_len <= 0)
                return -EINVAL;
        /* EFI_SIGNATURE_LIST: type GUID, ListSize, HeaderSize (0), SignatureSize; then one EFI_SIGNATURE_DATA:
         * owner GUID + the certificate. */
        size_t sig_size = 16 + (size_t) der_len, total = 16 + 12 + sig_size;
        uint8_t *buf = malloc(total), *p;
        if (!buf)
                return -ENOMEM;
        memcpy(buf, install_guid_cert_x509.b, 16);
        measure_put_le32(buf + 16, (uint32_t) total);
        measure_put_le32(buf + 20, 0);
        measure_put_le32(buf + 24, (uint32_t) sig_size);
        memcpy(buf + 28, owner->b, 16);
        p = buf + 44;
        if (i2d_X509(cert, &p) != der_len) {
                free(buf);
                return -EIO;
        }
        *ret = buf;
        *ret_len = total;
        return 0;
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int install_esl_validate(const uint8_t *data, size_t len, size_t *ret_bad_offset) {
        size_t pos = 0;
        if (len == 0)
                goto bad;
        while (pos < len) {
                /* EFI_SIGNATURE_LIST: SignatureType, SignatureListSize, SignatureHeaderSize, SignatureSize. */
                if (len - pos < 28)
                        goto bad;
                uint32_t list = get_le32(data + pos + 16), hdr = get_le32(data + pos + 20), sig = get_le32(data + pos + 24);
                if (list < 28 || list > len - pos || sig < 16 || hdr > list - 28 || (list - 28 - hdr) % sig != 0)
                        goto bad;
                pos += list;
        }
        return 0;
bad:
        if (ret_bad_offset)
                *ret_bad_offset = pos;
        return -EBADMSG;
}

void install_esl_foreach_cert(const uint8_t *data, size_t len, install_esl_cert_fn cb, void *userdata) {
        size_t pos = 0;
        if (install_esl_validate(data, len, NULL) < 0)
                return;
        while (pos < len) {
                uint32_t list = get_le32(data + pos + 16), hdr = get_le32(data + pos + 20), sig = get_le32(data + pos + 24);
                if (memcmp(data + pos, install_guid_cert_x509.b, 16) == 0)
                        for (size_t e = pos + 28 + hdr; e + sig <= pos + list; e += sig) {
                                install_guid owner;
                                memcpy(owner.b, data + e, 16);
                                cb(data + e + 16, sig - 16, &owner, userdata);
                        }
                pos += list;
        }
}

int install_esl_load(const char *path, const install_guid *owner, uint8_t **ret, size_t *ret_len, char *errbuf,
                     size_t errlen) {
        FILE *f = fopen(path, "rbe");
        uint8_t *buf = NULL;
        size_t n;
        X509 *cert = NULL;
        int r;
        if (!f)
                return errf(errbuf, errlen, -errno, "%s: %s", path, strerror(errno));
        buf = malloc((1u << 20) + 1);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        n = fread(buf, 1, (1u << 20) + 1, f);
        fclose(f);
        if (n > (1u << 20)) {
                free(buf);
                return errf(errbuf, errlen, -EFBIG, "%s: larger than 1 MiB", path);
        }
        if (install_esl_validate(buf, n, NULL) == 0) {
                *ret = buf;
                *ret_len = n;
                return 0;
        }
        BIO *bio = BIO_new_mem_buf(buf, (int) n);
        if (bio)
                cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        BIO_free(bio);
        if (!cert) {
                const unsigned char *p = buf;
                cert = d2i_X509(NULL, &p, (long) n);
                if (cert && p != buf + n) {
                        X509_free(cert);
                        cert = NULL;
                }
        }
        free(buf);
        if (!cert)
                return errf(errbuf, errlen, -EBADMSG,
                            "%s: neither an EFI signature list nor an X.509 certificate (PEM or DER)", path);
        r = install_esl_from_cert(cert, owner, ret, ret_len);
        X509_free(cert);
        if (r < 0)
                return errf(errbuf, errlen, r, "%s: cannot build a signature list", path);
        return 0;
}

/* EFI_TIME (16 bytes): Year u16, Month, Day, Hour, Minute, Second, Pad1, Nanosecond u32, TimeZone i16,
 * Daylight, Pad2. Nanosecond, TimeZone and Daylight must be zero in an authenticated variable's timestamp. */
static void efi_time(const struct tm *tm, uint8_t out[16]) {
        unsigned year = (unsigned) tm->tm_year + 1900;
        memset(out, 0, 16);
        out[0] = (uint8_t) year;
        out[1] = (uint8_t) (year >> 8);
        out[2] = (uint8_t) (tm->tm_mon + 1);
        out[3] = (uint8_t) tm->tm_mday;
        out[4] = (uint8_t) tm->tm_hour;
        out[5] = (uint8_t) tm->tm_min;
        out[6] = (uint8_t) tm->tm_sec;
}

int install_auth_payload(const char *varname, const install_guid *vendor, uint32_t attrs, const struct tm *when,
                         const uint8_t *data, size_t len, uint8_t **ret, size_t *ret_len) {
        size_t name_len = strlen(varname), total = 2 * name_len + 16 + 4 + 16 + len;
        uint8_t *buf = malloc(total ? total : 1), *p = buf;
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < name_len; i++) { /* UTF-16LE without the NUL; names are ASCII */
                *p++ = (uint8_t) varname[i];
                *p++ = 0;
        }
        memcpy(p, vendor->b, 16);
        p += 16;
        measure_put_le32(p, attrs);
        p += 4;
        efi_time(when, p);
        p += 16;
        if (len)
                memcpy(p, data, len);
        *ret = buf;
        *ret_len = total;
        return 0;
}

int install_auth_build(const char *varname, const install_guid *vendor, uint32_t attrs, const struct tm *when,
                       const uint8_t *data, size_t len, EVP_PKEY *key, X509 *cert, uint8_t **ret,
                       size_t *ret_len) {
        uint8_t *payload = NULL, *out = NULL, *p;
        size_t payload_len;
        BIO *bio = NULL;
        PKCS7 *p7 = NULL;
        int r = install_auth_payload(varname, vendor, attrs, when, data, len, &payload, &payload_len);
        if (r < 0)
                return r;
        r = -EIO;
        bio = BIO_new_mem_buf(payload, (int) payload_len);
        if (!bio)
                goto finish;
        /* Detached SignedData, SHA-256, with the standard signed attributes: OVMF's AuthVariableLib refuses a
         * self-signed PK update whose SignedData carries no signed attributes (seen on a real boot). */
        p7 = PKCS7_sign(NULL, NULL, NULL, bio, PKCS7_BINARY | PKCS7_DETACHED | PKCS7_PARTIAL);
        if (!p7 || !PKCS7_sign_add_signer(p7, cert, key, EVP_sha256(), PKCS7_BINARY | PKCS7_DETACHED) ||
            PKCS7_final(p7, bio, PKCS7_BINARY | PKCS7_DETACHED) != 1)
                goto finish;
        /* UEFI 2.10 8.2.2: CertData is the DER SignedData itself, not wrapped in a ContentInfo. OVMF refuses a
         * wrapped one for PK (seen on a real boot), though it takes it for KEK and db in Setup Mode. */
        PKCS7_SIGNED *sd = p7->d.sign;
        int sig_len = i2d_PKCS7_SIGNED(sd, NULL);
        if (sig_len <= 0)
                goto finish;
        /* EFI_VARIABLE_AUTHENTICATION_2 = EFI_TIME + WIN_CERTIFICATE_UEFI_GUID { dwLength, wRevision 0x0200,
         * wCertificateType WIN_CERT_TYPE_EFI_GUID (0x0EF1), CertType, CertData }. */
        size_t hdr = 16 + 8 + 16, total = hdr + (size_t) sig_len + len;
        out = malloc(total);
        if (!out) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(out, payload + payload_len - len - 16, 16); /* the same EFI_TIME that was signed */
        measure_put_le32(out + 16, (uint32_t) (8 + 16 + sig_len));
        out[20] = 0x00;
        out[21] = 0x02;
        out[22] = 0xf1;
        out[23] = 0x0e;
        memcpy(out + 24, install_guid_cert_pkcs7.b, 16);
        p = out + hdr;
        if (i2d_PKCS7_SIGNED(sd, &p) != sig_len)
                goto finish;
        if (len)
                memcpy(out + hdr + sig_len, data, len);
        *ret = out;
        *ret_len = total;
        out = NULL;
        r = 0;
finish:
        free(out);
        PKCS7_free(p7);
        BIO_free(bio);
        free(payload);
        return r;
}

static int errf(char *errbuf, size_t errlen, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
        return r;
}

static X509 *make_cert(EVP_PKEY *key, const char *cn, unsigned days, bool code_signing) {
        X509 *x = X509_new();
        X509V3_CTX ctx;
        uint8_t serial[16];
        BIGNUM *bn = NULL;
        if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
                goto fail;
        serial[0] &= 0x7f; /* positive */
        bn = BN_bin2bn(serial, sizeof(serial), NULL);
        if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
                goto fail;
        X509_NAME *name = X509_get_subject_name(x);
        if (X509_set_version(x, 2) != 1 ||
            !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0) ||
            X509_set_issuer_name(x, name) != 1 || !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), (long) days * 86400) || X509_set_pubkey(x, key) != 1)
                goto fail;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        const char *exts[][2] = {
                { "basicConstraints", "critical,CA:FALSE" },
                { "keyUsage", "critical,digitalSignature" },
                { "subjectKeyIdentifier", "hash" },
                { "extendedKeyUsage", "codeSigning" },
        };
        for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
                if (i == 3 && !code_signing)
                        continue;
                X509_EXTENSION *e = X509V3_EXT_conf(NULL, &ctx, exts[i][0], exts[i][1]);
                if (!e || X509_add_ext(x, e, -1) != 1) {
                        X509_EXTENSION_free(e);
                        goto fail;
                }
                X509_EXTENSION_free(e);
        }
        if (X509_sign(x, key, EVP_sha256()) <= 0)
                goto fail;
        BN_free(bn);
        return x;
fail:
        BN_free(bn);
        X509_free(x);
        return NULL;
}

static int write_bio_file(const char *dir, const char *name, BIO *bio, mode_t mode) {
        char *data = NULL, path[4096];
        long n = BIO_get_mem_data(bio, &data);
        if (n < 0 || (size_t) snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
                return -ENAMETOOLONG;
        return install_write_file_atomic(path, data, (size_t) n, mode);
}

static int write_buf_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode) {
        char path[4096];
        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
                return -ENAMETOOLONG;
        return install_write_file_atomic(path, data, len, mode);
}

static void remove_tree_flat(const char *dir) {
        DIR *d = opendir(dir);
        if (d) {
                struct dirent *de;
                while ((de = readdir(d))) {
                        char path[4096];
                        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                                continue;
                        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
                                unlink(path);
                }
                closedir(d);
        }
        rmdir(dir);
}

static int dir_is_missing_or_empty(const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 1 : -errno;
        struct dirent *de;
        int empty = 1;
        while ((de = readdir(d)))
                if (!(de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2]))))
                        empty = 0;
        closedir(d);
        return empty;
}

int install_keys_create(const char *dir, const install_keys_options *opts, char *errbuf, size_t errlen) {
        EVP_PKEY *keys[INSTALL_KEY_MAX] = { 0 };
        X509 *certs[INSTALL_KEY_MAX] = { 0 };
        install_guid owner;
        struct tm now_tm;
        char tmp[4096], guid_text[37];
        int r;

        r = dir_is_missing_or_empty(dir);
        if (r < 0)
                return errf(errbuf, errlen, r, "%s: %s", dir, strerror(-r));
        if (r == 0)
                return errf(errbuf, errlen, -EEXIST, "%s: exists and is not empty; refusing to overwrite keys", dir);
        if (opts->rsa_bits != 2048 && opts->rsa_bits != 3072 && opts->rsa_bits != 4096)
                return errf(errbuf, errlen, -EINVAL, "RSA key size must be 2048, 3072 or 4096, not %u", opts->rsa_bits);
        if (opts->owner)
                owner = *opts->owner;
        else if ((r = install_guid_random(&owner)) < 0)
                return errf(errbuf, errlen, r, "cannot generate an owner GUID");
        if (opts->timestamp)
                now_tm = *opts->timestamp;
        else {
                time_t t = time(NULL);
                gmtime_r(&t, &now_tm);
        }

        if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", dir) >= sizeof(tmp))
                return errf(errbuf, errlen, -ENAMETOOLONG, "%s: path too long", dir);
        if (!mkdtemp(tmp))
                return errf(errbuf, errlen, -errno, "cannot create a directory next to %s: %s", dir, strerror(errno));

        r = -EIO;
        for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                char cn[256];
                snprintf(cn, sizeof(cn), "%s %s", opts->subject_prefix ? opts->subject_prefix : "Lantern",
                         key_subjects[k]);
                keys[k] = EVP_RSA_gen(opts->rsa_bits);
                if (!keys[k]) {
                        errf(errbuf, errlen, r, "RSA key generation failed");
                        goto fail;
                }
                certs[k] = make_cert(keys[k], cn, opts->validity_days ? opts->validity_days : 3650 * 2,
                                     k == INSTALL_KEY_DB);
                if (!certs[k]) {
                        errf(errbuf, errlen, r, "certificate creation failed for %s", key_names[k]);
                        goto fail;
                }
        }
        for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                char name[32];
                BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
                uint8_t *esl = NULL, *auth = NULL;
                size_t esl_len = 0, auth_len = 0;
                install_key_kind signer = install_key_signer((install_key_kind) k);

                r = -EIO;
                if (kb && cb && PEM_write_bio_PrivateKey(kb, keys[k], NULL, NULL, 0, NULL, NULL) == 1 &&
                    PEM_write_bio_X509(cb, certs[k]) == 1) {
                        snprintf(name, sizeof(name), "%s.key", key_names[k]);
                        r = write_bio_file(tmp, name, kb, 0600);
                        if (r >= 0) {
                                snprintf(name, sizeof(name), "%s.crt", key_names[k]);
                                r = write_bio_file(tmp, name, cb, 0644);
                        }
                }
                if (r >= 0)
                        r = install_esl_from_cert(certs[k], &owner, &esl, &esl_len);
                if (r >= 0) {
                        snprintf(name, sizeof(name), "%s.esl", key_names[k]);
                        r = write_buf_file(tmp, name, esl, esl_len, 0644);
                }
                if (r >= 0)
                        r = install_auth_build(key_names[k], install_key_vendor((install_key_kind) k),
                                               INSTALL_SECURE_VAR_ATTRS, &now_tm, esl, esl_len, keys[signer],
                                               certs[signer], &auth, &auth_len);
                if (r >= 0) {
                        snprintf(name, sizeof(name), "%s.auth", key_names[k]);
                        r = write_buf_file(tmp, name, auth, auth_len, 0644);
                }
                free(esl);
                free(auth);
                BIO_free(kb);
                BIO_free(cb);
                if (r < 0) {
                        errf(errbuf, errlen, r, "writing %s files failed: %s", key_names[k], strerror(-r));
                        goto fail;
                }
        }
        install_guid_format(&owner, guid_text);
        guid_text[36] = '\n';
        r = write_buf_file(tmp, "GUID", guid_text, 37, 0644);
        if (r < 0) {
                errf(errbuf, errlen, r, "writing GUID failed: %s", strerror(-r));
                goto fail;
        }
        /* rename() replaces an empty directory atomically; a missing one is simply created. */
        if (rename(tmp, dir) < 0) {
                r = -errno;
                errf(errbuf, errlen, r, "cannot move keys into %s: %s", dir, strerror(errno));
                goto fail;
        }
        if (chmod(dir, 0700) < 0) {
                r = -errno;
                errf(errbuf, errlen, r, "%s: chmod: %s", dir, strerror(errno));
        }
        for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                EVP_PKEY_free(keys[k]);
                X509_free(certs[k]);
        }
        return r < 0 ? r : 0;
fail:
        remove_tree_flat(tmp);
        for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                EVP_PKEY_free(keys[k]);
                X509_free(certs[k]);
        }
        return r < 0 ? r : -EIO;
}

static int read_small(const char *path, uint8_t **ret, size_t *ret_len) {
        FILE *f = fopen(path, "rbe");
        if (!f)
                return -errno;
        uint8_t *buf = malloc((1u << 20) + 1);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        size_t n = fread(buf, 1, (1u << 20) + 1, f);
        fclose(f);
        if (n > (1u << 20)) {
                free(buf);
                return -EFBIG;
        }
        *ret = buf;
        *ret_len = n;
        return 0;
}

int install_keys_build_update(const char *keydir, install_key_kind kind, const uint8_t *extra, size_t extra_len,
                              const struct tm *when, uint8_t **ret, size_t *ret_len, char *errbuf, size_t errlen) {
        install_key_kind signer = install_key_signer(kind);
        char path[4096];
        uint8_t *esl = NULL, *all = NULL;
        size_t esl_len = 0;
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        FILE *f;
        int r;

        snprintf(path, sizeof(path), "%s/%s.esl", keydir, key_names[kind]);
        r = read_small(path, &esl, &esl_len);
        if (r < 0)
                return errf(errbuf, errlen, r, "%s: %s", path, strerror(-r));
        if (install_esl_validate(esl, esl_len, NULL) < 0) {
                r = errf(errbuf, errlen, -EBADMSG, "%s: not an EFI signature list", path);
                goto finish;
        }
        snprintf(path, sizeof(path), "%s/%s.key", keydir, key_names[signer]);
        if (!(f = fopen(path, "re"))) {
                r = errf(errbuf, errlen, -errno, "%s: %s", path, strerror(errno));
                goto finish;
        }
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        snprintf(path, sizeof(path), "%s/%s.crt", keydir, key_names[signer]);
        if (key && (f = fopen(path, "re"))) {
                cert = PEM_read_X509(f, NULL, NULL, NULL);
                fclose(f);
        }
        if (!key || !cert) {
                r = errf(errbuf, errlen, -EBADMSG, "%s/%s.key or .crt: not a PEM key and certificate", keydir,
                         key_names[signer]);
                goto finish;
        }
        if (X509_check_private_key(cert, key) != 1) {
                r = errf(errbuf, errlen, -EBADMSG, "%s/%s.key does not belong to %s.crt", keydir, key_names[signer],
                         key_names[signer]);
                goto finish;
        }
        if (extra_len > (8u << 20)) {
                r = errf(errbuf, errlen, -EFBIG, "additional signature lists larger than 8 MiB");
                goto finish;
        }
        all = malloc(esl_len + extra_len);
        if (!all) {
                r = -ENOMEM;
                goto finish;
        }
        memcpy(all, esl, esl_len);
        if (extra_len)
                memcpy(all + esl_len, extra, extra_len);
        r = install_auth_build(key_names[kind], install_key_vendor(kind), INSTALL_SECURE_VAR_ATTRS, when, all,
                               esl_len + extra_len, key, cert, ret, ret_len);
        if (r < 0)
                errf(errbuf, errlen, r, "signing the %s update failed", key_names[kind]);
finish:
        free(all);
        free(esl);
        EVP_PKEY_free(key);
        X509_free(cert);
        return r;
}
