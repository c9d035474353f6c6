/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The digest registry: TPM_ALG_ID <-> name <-> OpenSSL EVP_MD. Every EVP_MD is fetched once per process
 * and reused; lookups never allocate. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEASURE_DIGEST_MAX 64 /* SHA-512 */

/* TPM_ALG_ID values (TPM 2.0 Part 2, table 9). */
enum {
        MEASURE_ALG_SHA1 = 0x0004,
        MEASURE_ALG_SHA256 = 0x000B,
        MEASURE_ALG_SHA384 = 0x000C,
        MEASURE_ALG_SHA512 = 0x000D,
        MEASURE_ALG_SM3_256 = 0x0012,
};

typedef struct measure_alg {
        uint16_t id;      /* TPM_ALG_ID */
        const char *name; /* "sha256", as tpm2-tools and the kernel's sysfs name banks */
        size_t size;      /* digest size in bytes */
} measure_alg;

/* All algorithms the registry knows, in a stable order (sha1, sha256, sha384, sha512, sm3_256). */
const measure_alg *measure_alg_list(size_t *ret_n);
const measure_alg *measure_alg_by_id(uint16_t id);
const measure_alg *measure_alg_by_name(const char *name);
/* True when OpenSSL can compute this digest here (sm3_256 may be missing). */
bool measure_alg_available(const measure_alg *alg);

/* The default bank set used by commands that print "every bank": sha1, sha256, sha384, sha512. */
#define MEASURE_DEFAULT_BANKS_N 4
extern const uint16_t measure_default_banks[MEASURE_DEFAULT_BANKS_N];

/* One-shot digest. Returns 0 or a negative errno (-ENOTSUP when OpenSSL lacks the algorithm). */
int measure_hash(const measure_alg *alg, const void *data, size_t len, uint8_t *ret_digest);

/* Incremental digest in one bank. */
typedef struct measure_hasher measure_hasher;
int measure_hasher_new(const measure_alg *alg, measure_hasher **ret);
int measure_hasher_update(measure_hasher *h, const void *data, size_t len);
/* Writes alg->size bytes and resets the hasher so it can be reused. */
int measure_hasher_final(measure_hasher *h, uint8_t *ret_digest);
measure_hasher *measure_hasher_free(measure_hasher *h);

/* Lowercase hex of a digest into buf (2 * len + 1 bytes). Returns buf. */
char *measure_hex(const uint8_t *data, size_t len, char *buf);
/* Parses hex (either case, no separators) of exactly len bytes. Returns 0 or -EINVAL. */
int measure_unhex(const char *hex, uint8_t *ret, size_t len);
