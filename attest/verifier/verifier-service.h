/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What lanternd does for each request, apart from HTTP: every handler takes the request body and fills a
 * status code and a JSON response ({"error": "..."} on failure). Thread-safe: the service holds only
 * read-only configuration, the store serialises its own access. */

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/x509_vfy.h>

#include "verifier-store.h"

typedef struct verifier_service {
        verifier_store *store;
        X509_STORE *ek_roots; /* CAs an EK certificate must chain to */
        int64_t nonce_ttl;    /* seconds */
        int64_t enroll_ttl;   /* seconds */
} verifier_service;

typedef struct verifier_response {
        int status;
        json_object *body;
} verifier_response;

/* Loads PEM certificates (one or more per file) as trust anchors. */
int verifier_service_load_cas(verifier_service *svc, const char *const *files, size_t n, char *errbuf,
                              size_t errlen);

void verifier_nonce(verifier_service *svc, verifier_response *ret);
void verifier_enroll(verifier_service *svc, const char *body, size_t size, verifier_response *ret);
void verifier_activate(verifier_service *svc, const char *body, size_t size, verifier_response *ret);
void verifier_attest(verifier_service *svc, const char *body, size_t size, verifier_response *ret);
void verifier_machine_status(verifier_service *svc, const char *machine, verifier_response *ret);
void verifier_set_golden(verifier_service *svc, const char *machine, const char *body, size_t size,
                         verifier_response *ret);
void verifier_set_secret(verifier_service *svc, const char *machine, const char *body, size_t size,
                         verifier_response *ret);
/* {"error": "<printf>"} with status. */
void verifier_error(verifier_response *ret, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
