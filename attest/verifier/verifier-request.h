/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The JSON bodies lanternd accepts, parsed and bounded: at most VERIFIER_BODY_MAX bytes, nesting at most
 * VERIFIER_JSON_DEPTH, every field decoded into a buffer of fixed size (the event log into one allocation of
 * at most VERIFIER_EVENTLOG_MAX bytes). Errors name the field: "$.quote: ...". Nothing is printed.
 *
 *   enroll    {"ekCert": base64 DER, "akPublic": base64 TPM2B_PUBLIC}
 *   activate  {"enrollment": hex id, "credential": hex}
 *   attest    {"machine": hex id, "nonce": hex, "quote": base64 TPMS_ATTEST, "signature": base64 TPMT_SIGNATURE,
 *              "pcrs": {"sha256": {"<pcr>": hex, ...}}, "eventlog": base64}
 *   secret    {"secret": base64}
 * Unknown members are refused, so a misspelt field is an error rather than ignored. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <tss2/tss2_tpm2_types.h>

#include "ak.h"
#include "quote.h"

#define VERIFIER_BODY_MAX (8u << 20)
#define VERIFIER_EVENTLOG_MAX (4u << 20)
#define VERIFIER_SECRET_MAX 4096
#define VERIFIER_JSON_DEPTH 8
#define VERIFIER_ID_LEN 32 /* hex characters of an enrollment id */

/* Parses one JSON object filling the whole body (depth-limited). */
int verifier_json_parse(const char *body, size_t size, json_object **ret, char *errbuf, size_t errlen);

/* Base64 (RFC 4648, with padding, no line breaks) of at most max decoded bytes. */
int verifier_base64_decode(const char *in, size_t in_size, uint8_t *buf, size_t max, size_t *ret_size);

typedef struct verifier_enroll_request {
        uint8_t ek_cert[ATTEST_EK_CERT_MAX];
        size_t ek_cert_size;
        uint8_t ak_raw[sizeof(TPM2B_PUBLIC)];
        size_t ak_raw_size;
        TPM2B_PUBLIC ak;
} verifier_enroll_request;

typedef struct verifier_activate_request {
        char enrollment[VERIFIER_ID_LEN + 1];
        uint8_t credential[64];
        size_t credential_size;
} verifier_activate_request;

typedef struct verifier_attest_request {
        char machine[ATTEST_MACHINE_ID_LEN + 1];
        uint8_t nonce[ATTEST_NONCE_MAX];
        size_t nonce_size;
        uint8_t message[ATTEST_MESSAGE_MAX];
        size_t message_size;
        uint8_t signature[ATTEST_SIGNATURE_MAX];
        size_t signature_size;
        attest_pcrs pcrs;
        uint8_t *eventlog; /* malloc'd */
        size_t eventlog_size;
} verifier_attest_request;

typedef struct verifier_secret_request {
        uint8_t secret[VERIFIER_SECRET_MAX];
        size_t secret_size;
} verifier_secret_request;

int verifier_enroll_request_parse(const char *body, size_t size, verifier_enroll_request *ret, char *errbuf,
                                  size_t errlen);
int verifier_activate_request_parse(const char *body, size_t size, verifier_activate_request *ret, char *errbuf,
                                    size_t errlen);
int verifier_attest_request_parse(const char *body, size_t size, verifier_attest_request *ret, char *errbuf,
                                  size_t errlen);
void verifier_attest_request_done(verifier_attest_request *r);
int verifier_secret_request_parse(const char *body, size_t size, verifier_secret_request *ret, char *errbuf,
                                  size_t errlen);

/* True when s is exactly len lowercase hex digits. */
bool verifier_is_hex_id(const char *s, size_t len);
