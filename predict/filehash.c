/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-filehash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20)
#define MAX_FILES 65536

struct predict_file_cache {
        const measure_alg *banks[PREDICT_MAX_BANKS];
        measure_hasher *hashers[PREDICT_MAX_BANKS];
        size_t n_banks;
        predict_file_digest **files;
        size_t n_files, n_allocated;
        uint64_t bytes;
        uint8_t *chunk;
};

int predict_file_cache_new(const measure_alg *const *banks, size_t n_banks, predict_file_cache **ret) {
        if (n_banks == 0 || n_banks > PREDICT_MAX_BANKS)
                return -EINVAL;
        predict_file_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->chunk = malloc(READ_CHUNK);
        if (!c->chunk) {
                predict_file_cache_free(c);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_banks; i++) {
                c->banks[i] = banks[i];
                int r = measure_hasher_new(banks[i], &c->hashers[i]);
                c->n_banks = i + 1;
                if (r < 0) {
                        predict_file_cache_free(c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

predict_file_cache *predict_file_cache_free(predict_file_cache *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_banks; i++)
                measure_hasher_free(c->hashers[i]);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        free(c->files);
        free(c->chunk);
        free(c);
        return NULL;
}

void predict_file_cache_stats(const predict_file_cache *c, size_t *ret_files, uint64_t *ret_bytes) {
        *ret_files = c->n_files;
        *ret_bytes = c->bytes;
}

int predict_file_cache_get(predict_file_cache *c, const char *path, predict_error *err,
                           const predict_file_digest **ret) {
        predict_file_digest *d = NULL;
        struct stat st;
        uint64_t n = 0;
        int fd, r;

        /* A file already hashed is recognised without opening it again. */
        if (stat(path, &st) == 0)
                for (size_t i = 0; i < c->n_files; i++)
                        if (c->files[i]->dev == st.st_dev && c->files[i]->ino == st.st_ino) {
                                *ret = c->files[i];
                                return 0;
                        }

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return predict_error_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0) {
                r = predict_error_set(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
                goto finish;
        }
        if (!S_ISREG(st.st_mode)) {
                r = predict_error_set(err, -EINVAL, "%s: not a regular file", path);
                goto finish;
        }
        for (size_t i = 0; i < c->n_files; i++)
                if (c->files[i]->dev == st.st_dev && c->files[i]->ino == st.st_ino) {
                        *ret = c->files[i];
                        r = 0;
                        goto finish;
                }
        if ((uint64_t) st.st_size > PREDICT_FILE_MAX) {
                r = predict_error_set(err, -EFBIG, "%s: file is larger than the limit of 4 GiB", path);
                goto finish;
        }
        if (c->n_files == MAX_FILES) {
                r = predict_error_set(err, -E2BIG, "%s: more than %d distinct files", path, MAX_FILES);
                goto finish;
        }
        if (c->n_files == c->n_allocated) {
                size_t na = c->n_allocated ? c->n_allocated * 2 : 16;
                predict_file_digest **nf = realloc(c->files, na * sizeof(*nf));
                if (!nf) {
                        r = -ENOMEM;
                        goto finish;
                }
                c->files = nf;
                c->n_allocated = na;
        }
        d = calloc(1, sizeof(*d));
        if (!d) {
                r = -ENOMEM;
                goto finish;
        }
        /* One read of the file feeds every bank's hasher. */
        for (;;) {
                ssize_t k = read(fd, c->chunk, READ_CHUNK);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = predict_error_set(err, -errno, "%s: read failed at offset %ju: %s", path, (uintmax_t) n,
                                              strerror(errno));
                        goto finish;
                }
                if (k == 0)
                        break;
                n += (uint64_t) k;
                if (n > PREDICT_FILE_MAX) {
                        r = predict_error_set(err, -EFBIG, "%s: file is larger than the limit of 4 GiB", path);
                        goto finish;
                }
                for (size_t i = 0; i < c->n_banks; i++) {
                        r = measure_hasher_update(c->hashers[i], c->chunk, (size_t) k);
                        if (r < 0)
                                goto finish;
                }
        }
        for (size_t i = 0; i < c->n_banks; i++) {
                r = measure_hasher_final(c->hashers[i], d->digest[i]);
                if (r < 0)
                        goto finish;
        }
        d->dev = st.st_dev;
        d->ino = st.st_ino;
        d->size = n;
        c->bytes += n;
        c->files[c->n_files++] = d;
        *ret = d;
        d = NULL;
        r = 0;
finish:
        if (r < 0)
                /* A failed read leaves partial state in the hashers: finish them to reset. */
                for (size_t i = 0; i < c->n_banks; i++) {
                        uint8_t scratch[MEASURE_DIGEST_MAX];
                        (void) measure_hasher_final(c->hashers[i], scratch);
                }
        free(d);
        close(fd);
        return r;
}
