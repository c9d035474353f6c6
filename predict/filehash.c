/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-filehash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256u << 10)
#define MAX_FILES 65536
#define PROGRESS_INTERVAL_NS 100000000

/* Hashers for every bank and a read buffer: one per thread that reads files. */
typedef struct reader {
        measure_hasher *hashers[PREDICT_MAX_BANKS];
        size_t n_banks;
        uint8_t *chunk;
} reader;

struct predict_file_cache {
        const measure_alg *banks[PREDICT_MAX_BANKS];
        size_t n_banks;
        reader main;
        predict_file_digest **files;
        size_t n_files, n_allocated;
        predict_digest_cache *disk;
        predict_file_stats stats;
};

static void reader_done(reader *rd) {
        for (size_t i = 0; i < rd->n_banks; i++)
                measure_hasher_free(rd->hashers[i]);
        free(rd->chunk);
        memset(rd, 0, sizeof(*rd));
}

static int reader_init(reader *rd, const measure_alg *const *banks, size_t n_banks) {
        *rd = (reader) {};
        rd->chunk = malloc(READ_CHUNK);
        if (!rd->chunk)
                return -ENOMEM;
        for (size_t i = 0; i < n_banks; i++) {
                int r = measure_hasher_new(banks[i], &rd->hashers[i]);
                if (r < 0) {
                        reader_done(rd);
                        return r;
                }
                rd->n_banks = i + 1;
        }
        return 0;
}

/* Reads fd to its end, feeding every bank's hasher from one read; adds the bytes read to *progress as it goes
 * when progress is not NULL. */
static int reader_hash(reader *rd, int fd, const char *path, predict_error *err, uint64_t *progress,
                       uint8_t (*ret_digests)[MEASURE_DIGEST_MAX], uint64_t *ret_size) {
        uint64_t n = 0;
        int r = 0;

        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        for (;;) {
                ssize_t k = read(fd, rd->chunk, READ_CHUNK);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = predict_error_set(err, -errno, "%s: read failed at offset %ju: %s", path, (uintmax_t) n,
                                              strerror(errno));
                        break;
                }
                if (k == 0)
                        break;
                n += (uint64_t) k;
                if (n > PREDICT_FILE_MAX) {
                        r = predict_error_set(err, -EFBIG, "%s: file is larger than the limit of 4 GiB", path);
                        break;
                }
                for (size_t i = 0; i < rd->n_banks && r >= 0; i++)
                        r = measure_hasher_update(rd->hashers[i], rd->chunk, (size_t) k);
                if (r < 0)
                        break;
                if (progress)
                        __atomic_add_fetch(progress, (uint64_t) k, __ATOMIC_RELAXED);
        }
        /* Finishing also resets the hashers after a failed read. */
        for (size_t i = 0; i < rd->n_banks; i++) {
                int k = measure_hasher_final(rd->hashers[i], ret_digests[i]);
                if (r >= 0 && k < 0)
                        r = k;
        }
        if (r >= 0)
                *ret_size = n;
        return r;
}

/* The file was not changed while it was read: its digests may go to the on-disk cache. */
static bool unchanged(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int predict_file_cache_new(const measure_alg *const *banks, size_t n_banks, predict_file_cache **ret) {
        if (n_banks == 0 || n_banks > PREDICT_MAX_BANKS)
                return -EINVAL;
        predict_file_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        int r = reader_init(&c->main, banks, n_banks);
        if (r < 0) {
                free(c);
                return r;
        }
        memcpy(c->banks, banks, n_banks * sizeof(banks[0]));
        c->n_banks = n_banks;
        *ret = c;
        return 0;
}

predict_file_cache *predict_file_cache_free(predict_file_cache *c) {
        if (!c)
                return NULL;
        reader_done(&c->main);
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i]);
        free(c->files);
        free(c);
        return NULL;
}

void predict_file_cache_banks(const predict_file_cache *c, const measure_alg *const **ret_banks, size_t *ret_n) {
        *ret_banks = (const measure_alg *const *) c->banks;
        *ret_n = c->n_banks;
}

void predict_file_cache_set_disk(predict_file_cache *c, predict_digest_cache *disk) {
        c->disk = disk;
}

void predict_file_cache_stats(const predict_file_cache *c, predict_file_stats *ret) {
        *ret = c->stats;
}

static predict_file_digest *find(const predict_file_cache *c, dev_t dev, ino_t ino) {
        for (size_t i = 0; i < c->n_files; i++)
                if (c->files[i]->dev == dev && c->files[i]->ino == ino)
                        return c->files[i];
        return NULL;
}

/* Takes d into the cache. */
static int add(predict_file_cache *c, predict_file_digest *d, const char *path, predict_error *err) {
        if (c->n_files == MAX_FILES)
                return predict_error_set(err, -E2BIG, "%s: more than %d distinct files", path, MAX_FILES);
        if (c->n_files == c->n_allocated) {
                size_t na = c->n_allocated ? c->n_allocated * 2 : 16;
                predict_file_digest **nf = realloc(c->files, na * sizeof(*nf));
                if (!nf)
                        return -ENOMEM;
                c->files = nf;
                c->n_allocated = na;
        }
        c->files[c->n_files++] = d;
        return 0;
}

/* The on-disk cache's entry for the file with stat data st at path: a new digest record, or NULL. */
static predict_file_digest *disk_lookup(predict_file_cache *c, const struct stat *st, const char *path) {
        predict_digest_key key;
        predict_file_digest *d;
        if (!c->disk)
                return NULL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        predict_digest_key_from_stat(st, path, &key);
        if (predict_digest_cache_get(c->disk, &key, c->banks, c->n_banks, d->digest) <= 0) {
                free(d);
                return NULL;
        }
        d->dev = st->st_dev;
        d->ino = st->st_ino;
        d->size = (uint64_t) st->st_size;
        return d;
}

int predict_file_cache_get(predict_file_cache *c, const char *path, predict_error *err,
                           const predict_file_digest **ret) {
        predict_file_digest *d = NULL;
        struct stat st, after;
        int fd, r;

        /* A file already hashed, in this run or an earlier one, is recognised without opening it. */
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                d = find(c, st.st_dev, st.st_ino);
                if (d) {
                        *ret = d;
                        return 0;
                }
                d = disk_lookup(c, &st, path);
                if (d) {
                        r = add(c, d, path, err);
                        if (r < 0) {
                                free(d);
                                return r;
                        }
                        c->stats.files_cached++;
                        *ret = d;
                        return 0;
                }
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
        d = find(c, st.st_dev, st.st_ino);
        if (d) {
                *ret = d;
                d = NULL;
                r = 0;
                goto finish;
        }
        if ((uint64_t) st.st_size > PREDICT_FILE_MAX) {
                r = predict_error_set(err, -EFBIG, "%s: file is larger than the limit of 4 GiB", path);
                goto finish;
        }
        d = calloc(1, sizeof(*d));
        if (!d) {
                r = -ENOMEM;
                goto finish;
        }
        r = reader_hash(&c->main, fd, path, err, NULL, d->digest, &d->size);
        if (r < 0)
                goto finish;
        d->dev = st.st_dev;
        d->ino = st.st_ino;
        r = add(c, d, path, err);
        if (r < 0)
                goto finish;
        c->stats.files_read++;
        c->stats.bytes_read += d->size;
        if (c->disk && fstat(fd, &after) == 0 && unchanged(&st, &after) && d->size == (uint64_t) st.st_size) {
                predict_digest_key key;
                predict_digest_key_from_stat(&st, path, &key);
                if (predict_digest_cache_put(c->disk, &key, c->banks, c->n_banks,
                                             (const uint8_t (*)[MEASURE_DIGEST_MAX]) d->digest) >= 0)
                        c->stats.files_stored++;
        }
        *ret = d;
        d = NULL;
finish:
        free(d);
        close(fd);
        return r;
}

/* --- parallel hashing ------------------------------------------------------------------------------------ */

typedef struct job {
        const char *path;
        struct stat st;
        predict_file_digest *digest; /* set when hashed */
        bool stored;
} job;

typedef struct pool {
        predict_file_cache *c;
        job *jobs;
        size_t n_jobs;
        size_t next;        /* atomic: the next job to take */
        uint64_t done;      /* atomic: bytes read */
        size_t finished;    /* threads that returned, under lock */
        pthread_mutex_t lock;
        pthread_cond_t cond;
} pool;

static void run_job(pool *p, reader *rd, job *j) {
        struct stat st, after;
        predict_file_digest *d;
        int fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return;
        /* Only the file that was looked at: anything else is left to predict_file_cache_get(). */
        if (fstat(fd, &st) < 0 || !unchanged(&st, &j->st)) {
                close(fd);
                return;
        }
        d = calloc(1, sizeof(*d));
        if (!d || reader_hash(rd, fd, j->path, NULL, &p->done, d->digest, &d->size) < 0 ||
            d->size != (uint64_t) st.st_size) {
                free(d);
                close(fd);
                return;
        }
        d->dev = st.st_dev;
        d->ino = st.st_ino;
        if (p->c->disk && fstat(fd, &after) == 0 && unchanged(&st, &after)) {
                predict_digest_key key;
                predict_digest_key_from_stat(&st, j->path, &key);
                j->stored = predict_digest_cache_put(p->c->disk, &key, p->c->banks, p->c->n_banks,
                                                     (const uint8_t (*)[MEASURE_DIGEST_MAX]) d->digest) >= 0;
        }
        close(fd);
        j->digest = d;
}

static void *worker(void *userdata) {
        pool *p = userdata;
        reader rd;
        if (reader_init(&rd, (const measure_alg *const *) p->c->banks, p->c->n_banks) >= 0) {
                for (;;) {
                        size_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
                        if (i >= p->n_jobs)
                                break;
                        run_job(p, &rd, &p->jobs[i]);
                }
                reader_done(&rd);
        }
        pthread_mutex_lock(&p->lock);
        p->finished++;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

static uint64_t monotonic_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}

int predict_file_cache_prefetch(predict_file_cache *c, char *const *paths, size_t n, unsigned n_threads,
                                predict_progress_fn progress, void *userdata) {
        pthread_t threads[PREDICT_MAX_THREADS];
        size_t started = 0;
        uint64_t total = 0, start = monotonic_ns();
        pool p = { .c = c };
        int r = 0;

        if (n > MAX_FILES)
                return -E2BIG;
        p.jobs = calloc(n ? n : 1, sizeof(job));
        if (!p.jobs)
                return -ENOMEM;
        /* The work: files neither known nor in the on-disk cache, each once. */
        for (size_t i = 0; i < n; i++) {
                job *j = &p.jobs[p.n_jobs];
                bool dup = false;
                if (stat(paths[i], &j->st) < 0 || !S_ISREG(j->st.st_mode) ||
                    (uint64_t) j->st.st_size > PREDICT_FILE_MAX || find(c, j->st.st_dev, j->st.st_ino))
                        continue;
                for (size_t k = 0; k < p.n_jobs && !dup; k++)
                        dup = p.jobs[k].st.st_dev == j->st.st_dev && p.jobs[k].st.st_ino == j->st.st_ino;
                if (dup)
                        continue;
                predict_file_digest *d = disk_lookup(c, &j->st, paths[i]);
                if (d) {
                        r = add(c, d, paths[i], NULL);
                        if (r < 0) {
                                free(d);
                                goto finish;
                        }
                        c->stats.files_cached++;
                        continue;
                }
                j->path = paths[i];
                total += (uint64_t) j->st.st_size;
                p.n_jobs++;
        }
        if (p.n_jobs == 0)
                goto finish;

        if (n_threads == 0)
                n_threads = 1;
        if (n_threads > PREDICT_MAX_THREADS)
                n_threads = PREDICT_MAX_THREADS;
        if (n_threads > p.n_jobs)
                n_threads = (unsigned) p.n_jobs;
        pthread_mutex_init(&p.lock, NULL);
        pthread_cond_init(&p.cond, NULL);
        for (; started < n_threads; started++)
                if (pthread_create(&threads[started], NULL, worker, &p) != 0)
                        break;
        if (started == 0) {
                /* No thread could be made: hash here. */
                worker(&p);
        } else {
                pthread_mutex_lock(&p.lock);
                while (p.finished < started) {
                        struct timespec deadline;
                        clock_gettime(CLOCK_REALTIME, &deadline);
                        deadline.tv_nsec += PROGRESS_INTERVAL_NS;
                        if (deadline.tv_nsec >= 1000000000) {
                                deadline.tv_sec++;
                                deadline.tv_nsec -= 1000000000;
                        }
                        (void) pthread_cond_timedwait(&p.cond, &p.lock, &deadline);
                        if (progress && p.finished < started) {
                                pthread_mutex_unlock(&p.lock);
                                progress(__atomic_load_n(&p.done, __ATOMIC_RELAXED), total, monotonic_ns() - start,
                                         userdata);
                                pthread_mutex_lock(&p.lock);
                        }
                }
                pthread_mutex_unlock(&p.lock);
                for (size_t i = 0; i < started; i++)
                        pthread_join(threads[i], NULL);
        }
        pthread_cond_destroy(&p.cond);
        pthread_mutex_destroy(&p.lock);
        if (progress)
                progress(total, total, monotonic_ns() - start, userdata);

        for (size_t i = 0; i < p.n_jobs; i++) {
                job *j = &p.jobs[i];
                if (!j->digest)
                        continue;
                if (r >= 0 && !find(c, j->digest->dev, j->digest->ino)) {
                        r = add(c, j->digest, j->path, NULL);
                        if (r >= 0) {
                                c->stats.files_read++;
                                c->stats.bytes_read += j->digest->size;
                                c->stats.files_stored += j->stored;
                                j->digest = NULL;
                        }
                }
                free(j->digest);
        }
finish:
        free(p.jobs);
        return r;
}
