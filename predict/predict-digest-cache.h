/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The on-disk digest cache: the digests of a file in several banks, remembered across runs and keyed by the
 * file's identity (device, inode, size, mtime and ctime in nanoseconds, and its path). Store files are never
 * modified in place, so a re-run after one new generation reads only the new files.
 *
 * One entry per file, <dir>/<32 hex digits of SHA-256(key)>, written to a temporary name and renamed into
 * place. An entry holds its whole key and a SHA-256 over its bytes: an entry that is truncated, corrupt, of
 * another format or for another key is ignored (a miss), never trusted. The number of entries is bounded:
 * predict_digest_cache_prune() removes the least recently used ones. Every function is safe to call from
 * several threads at once on the same cache. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "digest.h"

#define PREDICT_DIGEST_CACHE_MAX_ENTRIES 4096

typedef struct predict_digest_key {
        uint64_t dev, ino, size;
        int64_t mtime_ns, ctime_ns;
        const char *path; /* host path of the file, at most PATH_MAX bytes */
} predict_digest_key;

typedef struct predict_digest_cache predict_digest_cache;

/* The default directory: $XDG_CACHE_HOME/lantern, else $HOME/.cache/lantern (absolute variables only).
 * Returns -ENOENT when neither is set. */
int predict_digest_cache_default_dir(char **ret_dir);

/* Opens (creating it and its parents, mode 0700) the cache directory dir. */
int predict_digest_cache_open(const char *dir, predict_digest_cache **ret);
predict_digest_cache *predict_digest_cache_free(predict_digest_cache *c);

/* The key of a file from its stat data and path. */
void predict_digest_key_from_stat(const struct stat *st, const char *path, predict_digest_key *ret);

/* Fills ret_digests[i] with the digest in banks[i] for every bank and returns 1 when the cache holds an intact
 * entry for exactly this key with all of these banks; returns 0 (ret_digests untouched) otherwise. */
int predict_digest_cache_get(predict_digest_cache *c, const predict_digest_key *key, const measure_alg *const *banks,
                             size_t n_banks, uint8_t (*ret_digests)[MEASURE_DIGEST_MAX]);

/* Stores the digests of the file with this key in banks (atomically replacing an older entry). */
int predict_digest_cache_put(predict_digest_cache *c, const predict_digest_key *key, const measure_alg *const *banks,
                             size_t n_banks, const uint8_t (*digests)[MEASURE_DIGEST_MAX]);

/* Removes the least recently used entries (by mtime; a hit refreshes an entry's mtime once a day) while there
 * are more than max, down to three quarters of max; also temporary files older than an hour. */
int predict_digest_cache_prune(predict_digest_cache *c, size_t max);
