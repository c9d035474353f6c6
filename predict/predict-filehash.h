/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Digests of the files a prediction measures (kernels, initrds), each file read once per run and hashed
 * in every requested bank in the same pass. Files are told apart by device and inode, so one store file
 * reached through several paths (generations and specialisations sharing a kernel) is read once. Store
 * paths are immutable, which is what makes caching by identity right: with an on-disk digest cache
 * (predict-digest-cache.h) a file already hashed by an earlier run is not read at all.
 *
 * predict_file_cache_prefetch() hashes many files at once on several threads; predict_file_cache_get() then
 * finds them. Without a prefetch, get hashes on the calling thread. */

#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "predict-digest-cache.h"
#include "predict-error.h"

#define PREDICT_MAX_BANKS 8
#define PREDICT_MAX_THREADS 64
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

/* The banks the cache hashes in, in its order. */
void predict_file_cache_banks(const predict_file_cache *c, const measure_alg *const **ret_banks, size_t *ret_n);

/* Consults and fills the on-disk cache disk (not owned; NULL for none) from now on. */
void predict_file_cache_set_disk(predict_file_cache *c, predict_digest_cache *disk);

/* Digests of a file (host path). The pointer stays valid until the cache is freed. */
int predict_file_cache_get(predict_file_cache *c, const char *path, predict_error *err,
                           const predict_file_digest **ret);

/* Called on the thread that runs predict_file_cache_prefetch() about every 100 ms while files are read, and once
 * at the end with done == total: bytes read so far, bytes to read, and nanoseconds since the start. */
typedef void (*predict_progress_fn)(uint64_t done, uint64_t total, uint64_t elapsed_ns, void *userdata);

/* Hashes the files at paths (host paths; duplicates and files already known are skipped) on up to n_threads
 * threads. A file that cannot be read is skipped silently: predict_file_cache_get() on it reports the error.
 * progress may be NULL. */
int predict_file_cache_prefetch(predict_file_cache *c, char *const *paths, size_t n, unsigned n_threads,
                                predict_progress_fn progress, void *userdata);

/* What the cache did, for --verbose output and tests. */
typedef struct predict_file_stats {
        size_t files_read;   /* files read and hashed */
        uint64_t bytes_read;
        size_t files_cached; /* files whose digests came from the on-disk cache */
        size_t files_stored; /* entries written to the on-disk cache */
} predict_file_stats;

void predict_file_cache_stats(const predict_file_cache *c, predict_file_stats *ret);
