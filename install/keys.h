/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Secure Boot keys: PK, KEK and db key pairs with self-signed certificates, EFI signature lists (.esl) and
 * signed time-based authenticated variable updates (.auth) that firmware in Setup Mode (or holding the
 * previous key) accepts through SetVariable / efivarfs. Formats: UEFI 2.10 sections 8.2.2 (time-based
 * authenticated variables, EFI_VARIABLE_AUTHENTICATION_2) and 32.4.1 (EFI_SIGNATURE_LIST). */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct install_guid {
        uint8_t b[16]; /* wire order: Data1..3 little-endian, Data4 as is */
} install_guid;

extern const install_guid install_guid_global_variable; /* 8be4df61-93ca-11d2-aa0d-00e098032b8c: PK, KEK */
extern const install_guid install_guid_image_security;  /* d719b2cb-3d3a-4596-a3bc-dad00e67656f: db, dbx */
extern const install_guid install_guid_cert_x509;       /* a5c059a1-94e4-4aa7-87b5-ab155c2bf072 */
extern const install_guid install_guid_cert_pkcs7;      /* 4aafd29d-68df-49ee-8aa9-347d375665a7 */

int install_guid_parse(const char *s, install_guid *ret);
/* 36 characters + NUL, lowercase. */
char *install_guid_format(const install_guid *g, char buf[static 37]);
int install_guid_random(install_guid *ret);

/* NV | BS | RT | TIME_BASED_AUTHENTICATED_WRITE_ACCESS */
#define INSTALL_SECURE_VAR_ATTRS UINT32_C(0x27)

typedef enum install_key_kind {
        INSTALL_KEY_PK,
        INSTALL_KEY_KEK,
        INSTALL_KEY_DB,
        INSTALL_KEY_MAX,
} install_key_kind;

/* "PK", "KEK", "db": the EFI variable name and the file name stem. */
const char *install_key_name(install_key_kind kind);
/* PK and KEK live under the global-variable GUID, db under the image-security GUID. */
const install_guid *install_key_vendor(install_key_kind kind);
/* Who signs the update of this variable: PK signs PK and KEK, KEK signs db. */
install_key_kind install_key_signer(install_key_kind kind);

/* An EFI_SIGNATURE_LIST holding one X.509 certificate (DER) owned by owner. */
int install_esl_from_cert(X509 *cert, const install_guid *owner, uint8_t **ret, size_t *ret_len);

/* Microsoft's signature owner GUID, 77fa9abd-0359-4d32-bd60-28f4e78f784b, for certificates loaded from files. */
extern const install_guid install_guid_microsoft_owner;

/* Checks an EFI signature database (one or more EFI_SIGNATURE_LISTs back to back): every list's sizes consistent
 * and inside the buffer. Returns 0, or -EBADMSG with *ret_bad_offset at the list that is wrong. */
int install_esl_validate(const uint8_t *data, size_t len, size_t *ret_bad_offset);

/* Calls cb for every X.509 certificate (DER) in a validated signature database; other signature types are skipped. */
typedef void (*install_esl_cert_fn)(const uint8_t *der, size_t len, const install_guid *owner, void *userdata);
void install_esl_foreach_cert(const uint8_t *data, size_t len, install_esl_cert_fn cb, void *userdata);

/* Loads a file as signature lists: an ESL file as is, or a certificate (PEM or DER) wrapped into a one-entry
 * list owned by owner. At most 1 MiB. */
int install_esl_load(const char *path, const install_guid *owner, uint8_t **ret, size_t *ret_len, char *errbuf,
                     size_t errlen);

/* EFI_VARIABLE_AUTHENTICATION_2 header (timestamp, WIN_CERTIFICATE_UEFI_GUID with a detached PKCS#7 SignedData
 * over name||vendor||attrs||timestamp||data, SHA-256, stored as the bare SignedData) followed by data. when is UTC. */
int install_auth_build(const char *varname, const install_guid *vendor, uint32_t attrs, const struct tm *when,
                       const uint8_t *data, size_t len, EVP_PKEY *key, X509 *cert, uint8_t **ret,
                       size_t *ret_len);

/* The bytes the .auth signature covers, for checking with an outside verifier. */
int install_auth_payload(const char *varname, const install_guid *vendor, uint32_t attrs, const struct tm *when,
                         const uint8_t *data, size_t len, uint8_t **ret, size_t *ret_len);

/* A signed update of variable kind holding KEYDIR/<kind>.esl followed by extra (other signature lists, e.g.
 * Microsoft's certificates), signed with the signer's key and certificate from KEYDIR, time-stamped when. */
int install_keys_build_update(const char *keydir, install_key_kind kind, const uint8_t *extra, size_t extra_len,
                              const struct tm *when, uint8_t **ret, size_t *ret_len, char *errbuf, size_t errlen);

typedef struct install_keys_options {
        unsigned rsa_bits;           /* 2048 (every firmware) or 3072/4096 */
        const char *subject_prefix;  /* CN = "<prefix> Platform Key" etc. */
        unsigned validity_days;
        const install_guid *owner;   /* NULL: random, written to DIR/GUID */
        const struct tm *timestamp;  /* NULL: now */
} install_keys_options;

/* Creates DIR with PK/KEK/db .key .crt .esl .auth and GUID. DIR must not exist or be empty; everything is built in
 * a temporary sibling directory and renamed into place, so a failure leaves nothing behind. */
int install_keys_create(const char *dir, const install_keys_options *opts, char *errbuf, size_t errlen);
