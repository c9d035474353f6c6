/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* lanternd's storage in SQLite (WAL journal): machines (EK certificate, AK public, golden values, secret),
 * pending enrollments, and issued nonces. One connection shared by the server's threads, serialised by a
 * mutex; every statement is bound, nothing is formatted into SQL. Errors are a negative errno with a message
 * in errbuf. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct verifier_store verifier_store;

int verifier_store_open(const char *path, verifier_store **ret, char *errbuf, size_t errlen);
verifier_store *verifier_store_free(verifier_store *s);

/* At most this many unexpired nonces at once (-EBUSY beyond). */
#define VERIFIER_MAX_NONCES 100000

int verifier_store_nonce_add(verifier_store *s, const uint8_t *nonce, size_t size, int64_t now, int64_t expires);
/* Removes the nonce: 0 when it was issued and has not expired, -ENOENT otherwise (unknown, used, expired). */
int verifier_store_nonce_take(verifier_store *s, const uint8_t *nonce, size_t size, int64_t now);

int verifier_store_enrollment_add(verifier_store *s, const char *id, const char *machine, const uint8_t *ek_cert,
                                  size_t ek_size, const uint8_t *ak, size_t ak_size, const uint8_t cred_hash[32],
                                  int64_t now, int64_t expires);

typedef struct verifier_enrollment {
        char machine[65];
        uint8_t *ek_cert;
        size_t ek_cert_size;
        uint8_t *ak;
        size_t ak_size;
        uint8_t cred_hash[32];
} verifier_enrollment;

/* Removes the pending enrollment id and returns it: -ENOENT when unknown or expired. */
int verifier_store_enrollment_take(verifier_store *s, const char *id, int64_t now, verifier_enrollment *ret);
void verifier_enrollment_done(verifier_enrollment *e);

int verifier_store_machine_enroll(verifier_store *s, const char *machine, const uint8_t *ek_cert, size_t ek_size,
                                  const uint8_t *ak, size_t ak_size, int64_t now);
int verifier_store_machine_set_golden(verifier_store *s, const char *machine, const char *json, size_t size);
int verifier_store_machine_set_secret(verifier_store *s, const char *machine, const uint8_t *secret, size_t size);

typedef struct verifier_machine {
        bool enrolled;
        uint8_t *ak; /* NULL when not enrolled */
        size_t ak_size;
        char *golden; /* NUL-terminated, or NULL */
        size_t golden_size;
        uint8_t *secret; /* or NULL */
        size_t secret_size;
} verifier_machine;

/* -ENOENT for a machine the store does not know. */
int verifier_store_machine_get(verifier_store *s, const char *machine, verifier_machine *ret);
void verifier_machine_done(verifier_machine *m);
