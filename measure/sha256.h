/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* SHA-256 (FIPS 180-4) without a C library: the UEFI stub's only digest, used to check kernel and initrd
 * files against the hashes embedded in a thin stub. Freestanding (no allocation, no libc beyond what the
 * compiler may call for memcpy/memset), so the hosted build tests the very same code against OpenSSL. */

#include <stddef.h>
#include <stdint.h>

#define MEASURE_SHA256_SIZE 32
#define MEASURE_SHA256_BLOCK 64

typedef struct measure_sha256 {
        uint32_t state[8];
        uint64_t length;                        /* bytes hashed so far */
        uint8_t block[MEASURE_SHA256_BLOCK];    /* pending partial block */
        size_t filled;                          /* bytes in block[] */
} measure_sha256;

void measure_sha256_init(measure_sha256 *ctx);
void measure_sha256_update(measure_sha256 *ctx, const void *data, size_t size);
/* Writes the digest and leaves ctx re-initialised for a new message. */
void measure_sha256_final(measure_sha256 *ctx, uint8_t ret_digest[static MEASURE_SHA256_SIZE]);
void measure_sha256_hash(const void *data, size_t size, uint8_t ret_digest[static MEASURE_SHA256_SIZE]);
