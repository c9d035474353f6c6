/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Digests of the files a prediction measures (kernels, initrds), each file read once per run and hashed
 * in every requested bank in the same pass. Files are told apart by device and inode, so one store file
 * reached through several paths (generations and specialisations sharing a kernel) is read once. Store
 * paths are immutable, which is what makes caching by identity right. */

#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "predict-error.h"

#define PREDICT_MAX_BANKS 8
#define PREDICT_FILE_MAX (UINT64_C(4) << 30) /* a kernel or initrd larger than this is refused */

typedef struct predict_file_digest {
        dev_t dev;
        ino_t ino;
        uint64_t size;
        uint8_t digest[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX]; /* in the cache's bank order */
} predict_file_digest;

typedef struct predict_file_cache predict_file_cache;

int predict_file_cache_new(const measure_alg *const *banks, size_t n_banks, predict_file_cache **ret);
predict_file_cache *predict_file_cache_free(predict_file_cache *c);

/* Digests of a file (host path). The pointer stays valid until the cache is freed. */
int predict_file_cache_get(predict_file_cache *c, const char *path, predict_error *err,
                           const predict_file_digest **ret);

/* How many files and bytes were read, for --verbose output and benchmarks. */
void predict_file_cache_stats(const predict_file_cache *c, size_t *ret_files, uint64_t *ret_bytes);
