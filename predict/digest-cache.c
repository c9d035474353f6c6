/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-digest-cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

/* Entry layout (little endian):
 *   magic "LNTNDGC1"
 *   u64 dev, u64 ino, u64 size, u64 mtime_ns, u64 ctime_ns
 *   u16 path length, path bytes
 *   u8 bank count, then per bank: u16 TPM_ALG_ID, u8 digest size, digest
 *   SHA-256 of everything above */
#define MAGIC "LNTNDGC1"
#define MAGIC_LEN 8
#define MAX_BANKS 8
#define ENTRY_MAX (MAGIC_LEN + 5 * 8 + 2 + PATH_MAX + 1 + MAX_BANKS * (3 + MEASURE_DIGEST_MAX) + 32)
#define NAME_LEN 32
#define DAY_NS (INT64_C(86400) * 1000000000)
#define PRUNE_SCAN_MAX (1u << 20) /* directory entries looked at by one prune */

struct predict_digest_cache {
        char *dir;
        int dir_fd;
};

typedef struct writer {
        uint8_t *p;
        size_t n, max;
        bool overflow;
} writer;

static void put_bytes(writer *w, const void *data, size_t len) {
        if (w->overflow || len > w->max - w->n) {
                w->overflow = true;
                return;
        }
        memcpy(w->p + w->n, data, len);
        w->n += len;
}

static void put_le(writer *w, uint64_t v, size_t len) {
        uint8_t b[8];
        for (size_t i = 0; i < len; i++)
                b[i] = (uint8_t) (v >> (8 * i));
        put_bytes(w, b, len);
}

/* The key's bytes as they appear in an entry, and hashed to name it. */
static void put_key(writer *w, const predict_digest_key *k) {
        size_t len = strlen(k->path);
        put_bytes(w, MAGIC, MAGIC_LEN);
        put_le(w, k->dev, 8);
        put_le(w, k->ino, 8);
        put_le(w, k->size, 8);
        put_le(w, (uint64_t) k->mtime_ns, 8);
        put_le(w, (uint64_t) k->ctime_ns, 8);
        if (len > PATH_MAX)
                w->overflow = true;
        put_le(w, len, 2);
        put_bytes(w, k->path, len);
}

static const measure_alg *sha256(void) {
        return measure_alg_by_name("sha256");
}

static int entry_name(const predict_digest_key *k, char ret[NAME_LEN + 1]) {
        uint8_t buf[MAGIC_LEN + 5 * 8 + 2 + PATH_MAX], d[MEASURE_DIGEST_MAX];
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        writer w = { .p = buf, .max = sizeof(buf) };
        put_key(&w, k);
        if (w.overflow)
                return -ENAMETOOLONG;
        int r = measure_hash(sha256(), buf, w.n, d);
        if (r < 0)
                return r;
        memcpy(ret, measure_hex(d, NAME_LEN / 2, hex), NAME_LEN + 1);
        return 0;
}

int predict_digest_cache_default_dir(char **ret_dir) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        char *p = NULL;
        int k;
        if (xdg && xdg[0] == '/')
                k = asprintf(&p, "%s/lantern", xdg);
        else if (home && home[0] == '/')
                k = asprintf(&p, "%s/.cache/lantern", home);
        else
                return -ENOENT;
        if (k < 0)
                return -ENOMEM;
        *ret_dir = p;
        return 0;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int mkdir_parents(const char *dir) {
        char *p = strdup(dir);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != 0)
                        continue;
                char c = *s;
                *s = 0;
                if (mkdir(p, 0700) < 0 && errno != EEXIST) {
                        int r = -errno;
                        free(p);
                        return r;
                }
                *s = c;
                if (c == 0)
                        break;
        }
        free(p);
        return 0;
}

int predict_digest_cache_open(const char *dir, predict_digest_cache **ret) {
        if (!dir || !dir[0])
                return -EINVAL;
        int r = mkdir_parents(dir);
        if (r < 0)
                return r;
        predict_digest_cache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->dir = strdup(dir);
        c->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!c->dir || c->dir_fd < 0) {
                r = c->dir ? -errno : -ENOMEM;
                predict_digest_cache_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

predict_digest_cache *predict_digest_cache_free(predict_digest_cache *c) {
        if (!c)
                return NULL;
        if (c->dir_fd >= 0)
                close(c->dir_fd);
        free(c->dir);
        free(c);
        return NULL;
}

void predict_digest_key_from_stat(const struct stat *st, const char *path, predict_digest_key *ret) {
        *ret = (predict_digest_key) {
                .dev = (uint64_t) st->st_dev,
                .ino = (uint64_t) st->st_ino,
                .size = (uint64_t) st->st_size,
                .mtime_ns = (int64_t) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
                .ctime_ns = (int64_t) st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
                .path = path,
        };
}

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

typedef struct entry {
        size_t n;
        uint16_t id[MAX_BANKS];
        uint8_t size[MAX_BANKS];
        uint8_t digest[MAX_BANKS][MEASURE_DIGEST_MAX];
} entry;

/* Reads the intact entry for exactly this key. Returns 1 and fills *ret (and *ret_mtime_ns), or 0. When touch is
 * set, refreshes an old entry's mtime. */
static int load(predict_digest_cache *c, const predict_digest_key *key, bool touch, entry *ret) {
        uint8_t *data = NULL, want[MAGIC_LEN + 5 * 8 + 2 + PATH_MAX], sum[MEASURE_DIGEST_MAX];
        char name[NAME_LEN + 1];
        writer w = { .p = want, .max = sizeof(want) };
        entry e = {};
        struct stat st;
        ssize_t n = 0;
        uint8_t count;
        int fd, r = 0;

        if (entry_name(key, name) < 0)
                return 0;
        put_key(&w, key);
        if (w.overflow)
                return 0;
        fd = openat(c->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return 0;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t) (w.n + 1 + 32) ||
            st.st_size > (off_t) ENTRY_MAX)
                goto finish;
        data = malloc((size_t) st.st_size);
        if (!data)
                goto finish;
        while (n < st.st_size) {
                ssize_t k = read(fd, data + n, (size_t) (st.st_size - n));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        goto finish;
                n += k;
        }
        /* Intact, same format, same key. */
        if (measure_hash(sha256(), data, (size_t) n - 32, sum) < 0 || memcmp(sum, data + n - 32, 32) != 0)
                goto finish;
        if (memcmp(data, want, w.n) != 0)
                goto finish;
        measure_buf b = measure_buf_make(data + w.n, (size_t) n - 32 - w.n);
        if (!measure_buf_get_u8(&b, &count) || count > MAX_BANKS)
                goto finish;
        for (; e.n < count; e.n++) {
                const uint8_t *d;
                if (!measure_buf_get_u16(&b, &e.id[e.n]) || !measure_buf_get_u8(&b, &e.size[e.n]) ||
                    e.size[e.n] > MEASURE_DIGEST_MAX || !measure_buf_get_bytes(&b, e.size[e.n], &d))
                        goto finish;
                memcpy(e.digest[e.n], d, e.size[e.n]);
        }
        if (measure_buf_left(&b) != 0)
                goto finish;
        /* Least recently used pruning goes by mtime: refresh it, at most once a day. */
        int64_t mtime = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (touch && now_ns() - mtime > DAY_NS)
                (void) futimens(fd, NULL);
        *ret = e;
        r = 1;
finish:
        free(data);
        close(fd);
        return r;
}

int predict_digest_cache_get(predict_digest_cache *c, const predict_digest_key *key, const measure_alg *const *banks,
                             size_t n_banks, uint8_t (*ret_digests)[MEASURE_DIGEST_MAX]) {
        entry e;
        size_t found[MAX_BANKS];

        if (n_banks == 0 || n_banks > MAX_BANKS || load(c, key, /* touch= */ true, &e) <= 0)
                return 0;
        for (size_t j = 0; j < n_banks; j++) {
                found[j] = SIZE_MAX;
                for (size_t i = 0; i < e.n; i++)
                        if (e.id[i] == banks[j]->id && e.size[i] == banks[j]->size)
                                found[j] = i;
                if (found[j] == SIZE_MAX)
                        return 0;
        }
        for (size_t j = 0; j < n_banks; j++)
                memcpy(ret_digests[j], e.digest[found[j]], banks[j]->size);
        return 1;
}

int predict_digest_cache_put(predict_digest_cache *c, const predict_digest_key *key, const measure_alg *const *banks,
                             size_t n_banks, const uint8_t (*digests)[MEASURE_DIGEST_MAX]) {
        uint8_t *buf = malloc(ENTRY_MAX);
        char name[NAME_LEN + 1], tmp[NAME_LEN + 64];
        static unsigned long counter;
        int fd, r;

        if (!buf)
                return -ENOMEM;
        if (n_banks == 0 || n_banks > MAX_BANKS) {
                free(buf);
                return -EINVAL;
        }
        r = entry_name(key, name);
        if (r < 0) {
                free(buf);
                return r;
        }
        /* Digests of other banks in an existing entry for the same key stay: the file is the same. */
        entry old = {};
        size_t keep[MAX_BANKS], n_keep = 0;
        if (load(c, key, /* touch= */ false, &old) > 0)
                for (size_t i = 0; i < old.n; i++) {
                        bool replaced = false;
                        for (size_t j = 0; j < n_banks; j++)
                                replaced |= banks[j]->id == old.id[i];
                        if (!replaced && n_banks + n_keep < MAX_BANKS)
                                keep[n_keep++] = i;
                }
        writer w = { .p = buf, .max = ENTRY_MAX - 32 };
        put_key(&w, key);
        put_le(&w, n_banks + n_keep, 1);
        for (size_t i = 0; i < n_banks; i++) {
                put_le(&w, banks[i]->id, 2);
                put_le(&w, banks[i]->size, 1);
                put_bytes(&w, digests[i], banks[i]->size);
        }
        for (size_t i = 0; i < n_keep; i++) {
                put_le(&w, old.id[keep[i]], 2);
                put_le(&w, old.size[keep[i]], 1);
                put_bytes(&w, old.digest[keep[i]], old.size[keep[i]]);
        }
        if (w.overflow) {
                free(buf);
                return -ENAMETOOLONG;
        }
        r = measure_hash(sha256(), buf, w.n, buf + w.n);
        if (r < 0) {
                free(buf);
                return r;
        }
        w.n += 32;

        /* A unique temporary name per process and call, so concurrent writers never share one. */
        snprintf(tmp, sizeof(tmp), ".%s.%ld.%lu.tmp", name, (long) getpid(),
                 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
        fd = openat(c->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                free(buf);
                return -errno;
        }
        size_t done = 0;
        r = 0;
        while (done < w.n) {
                ssize_t k = write(fd, buf + done, w.n - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? -errno : -EIO;
                        break;
                }
                done += (size_t) k;
        }
        free(buf);
        /* No fsync: an entry torn by a crash fails its checksum and is ignored. */
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && renameat(c->dir_fd, tmp, c->dir_fd, name) < 0)
                r = -errno;
        if (r < 0)
                (void) unlinkat(c->dir_fd, tmp, 0);
        return r;
}

typedef struct aged {
        int64_t mtime;
        char name[NAME_LEN + 64];
} aged;

static int aged_compare(const void *a, const void *b) {
        const aged *x = a, *y = b;
        return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

int predict_digest_cache_prune(predict_digest_cache *c, size_t max) {
        int64_t now = now_ns();
        aged *list = NULL;
        size_t n = 0, allocated = 0;
        int r = 0, fd;
        DIR *d;

        fd = dup(c->dir_fd);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        rewinddir(d);
        for (struct dirent *de; n < PRUNE_SCAN_MAX && (de = readdir(d));) {
                struct stat st;
                size_t len = strlen(de->d_name);
                bool is_tmp = de->d_name[0] == '.' && len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0;
                if (!is_tmp && len != NAME_LEN)
                        continue; /* not ours */
                if (len >= sizeof(list[0].name) || fstatat(c->dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                int64_t mtime = (int64_t) st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
                if (is_tmp) {
                        if (now - mtime > DAY_NS / 24)
                                (void) unlinkat(c->dir_fd, de->d_name, 0);
                        continue;
                }
                if (n == allocated) {
                        size_t na = allocated ? allocated * 2 : 256;
                        aged *nl = realloc(list, na * sizeof(*nl));
                        if (!nl) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        list = nl;
                        allocated = na;
                }
                list[n].mtime = mtime;
                memcpy(list[n].name, de->d_name, len + 1);
                n++;
        }
        if (n > max) {
                qsort(list, n, sizeof(*list), aged_compare);
                for (size_t i = 0; i < n - max / 4 * 3; i++)
                        (void) unlinkat(c->dir_fd, list[i].name, 0);
        }
finish:
        free(list);
        closedir(d);
        return r;
}
