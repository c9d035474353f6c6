/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_error(const char *fmt, ...) {
        va_list ap;
        fputs("lantern: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int cli_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_size) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                cli_error("%s: cannot open: %s", path, strerror(e));
                return -e;
        }
        if (fstat(fd, &st) < 0) {
                int e = errno;
                cli_error("%s: cannot stat: %s", path, strerror(e));
                close(fd);
                return -e;
        }
        /* Regular files; pipes (<(...)), character devices and sysfs/securityfs files, which report size 0,
         * are read until EOF below. Directories and the like are refused. */
        if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode)) {
                cli_error("%s: not a regular file, pipe or device", path);
                close(fd);
                return -EINVAL;
        }
        size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t) st.st_size : 65536, n = 0;
        if (cap > max) {
                cli_error("%s: file is %zu bytes, more than the limit of %zu", path, cap, max);
                close(fd);
                return -EFBIG;
        }
        uint8_t *buf = malloc(cap + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                if (n == cap) {
                        if (cap >= max) {
                                cli_error("%s: file is larger than the limit of %zu bytes", path, max);
                                free(buf);
                                close(fd);
                                return -EFBIG;
                        }
                        cap = cap * 2 > max ? max : cap * 2;
                        uint8_t *nb = realloc(buf, cap + 1);
                        if (!nb) {
                                free(buf);
                                close(fd);
                                return -ENOMEM;
                        }
                        buf = nb;
                }
                ssize_t k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;
                        cli_error("%s: read failed: %s", path, strerror(e));
                        free(buf);
                        close(fd);
                        return -e;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        close(fd);
        buf[n] = 0; /* convenience terminator for text inputs; not part of the size */
        *ret = buf;
        *ret_size = n;
        return 0;
}

int cli_map_file(const char *path, size_t max, cli_file *ret) {
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
                if ((uint64_t) st.st_size > max) {
                        cli_error("%s: file is %lld bytes, more than the limit of %zu", path, (long long) st.st_size, max);
                        close(fd);
                        return -EFBIG;
                }
                void *m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
                close(fd);
                if (m != MAP_FAILED) {
                        (void) madvise(m, (size_t) st.st_size, MADV_SEQUENTIAL);
                        *ret = (cli_file) { .data = m, .size = (size_t) st.st_size, .map = m };
                        return 0;
                }
        } else if (fd >= 0)
                close(fd);
        /* Not mappable (or empty, or gone): the reading path reports the precise error. */
        uint8_t *buf;
        size_t size;
        int r = cli_read_file(path, max, &buf, &size);
        if (r < 0)
                return r;
        *ret = (cli_file) { .data = buf, .size = size, .owned = buf };
        return 0;
}

void cli_file_done(cli_file *f) {
        if (f->map)
                munmap(f->map, f->size);
        free(f->owned);
        *f = (cli_file) {};
}

int cli_parse_banks(const char *arg, const measure_alg **ret, size_t max, size_t *ret_n) {
        size_t n = 0;
        char *copy = strdup(arg), *save = NULL;
        if (!copy)
                return -ENOMEM;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                const measure_alg *alg = measure_alg_by_name(tok);
                if (!alg) {
                        cli_error("unknown bank '%s' (known: sha1, sha256, sha384, sha512, sm3_256)", tok);
                        free(copy);
                        return -EINVAL;
                }
                if (!measure_alg_available(alg)) {
                        cli_error("bank '%s' is not supported by this OpenSSL", tok);
                        free(copy);
                        return -EINVAL;
                }
                bool dup = false;
                for (size_t i = 0; i < n; i++)
                        dup |= ret[i] == alg;
                if (dup)
                        continue;
                if (n == max) {
                        free(copy);
                        return -E2BIG;
                }
                ret[n++] = alg;
        }
        free(copy);
        if (n == 0) {
                cli_error("empty bank list");
                return -EINVAL;
        }
        *ret_n = n;
        return 0;
}

int cli_append_banks(const char *arg, const measure_alg **banks, size_t max, size_t *n) {
        const measure_alg *more[16];
        size_t n_more;
        if (cli_parse_banks(arg, more, max < 16 ? max : 16, &n_more) < 0)
                return -EINVAL;
        for (size_t i = 0; i < n_more; i++) {
                bool dup = false;
                for (size_t j = 0; j < *n; j++)
                        dup |= banks[j] == more[i];
                if (dup)
                        continue;
                if (*n == max) {
                        cli_error("too many banks");
                        return -EINVAL;
                }
                banks[(*n)++] = more[i];
        }
        return 0;
}

int cli_parse_pcrs(const char *arg, uint32_t *ret_mask) {
        uint32_t mask = 0;
        if (strcmp(arg, "all") == 0) {
                *ret_mask = 0xffffff;
                return 0;
        }
        const char *p = arg;
        while (*p) {
                char *end;
                long a = strtol(p, &end, 10), b;
                if (end == p || a < 0 || a > 23)
                        goto bad;
                b = a;
                if (*end == '-') {
                        p = end + 1;
                        b = strtol(p, &end, 10);
                        if (end == p || b < a || b > 23)
                                goto bad;
                }
                for (long i = a; i <= b; i++)
                        mask |= UINT32_C(1) << i;
                if (*end == ',')
                        end++;
                else if (*end)
                        goto bad;
                p = end;
        }
        if (!mask)
                goto bad;
        *ret_mask = mask;
        return 0;
bad:
        cli_error("invalid PCR list '%s' (expected e.g. 0,4,7 or 0-7,11 or all)", arg);
        return -EINVAL;
}

char *cli_absolute_path(const char *path) {
        char cwd[PATH_MAX], *p;
        if (path[0] == '/')
                return strdup(path);
        if (!getcwd(cwd, sizeof(cwd)) || asprintf(&p, "%s/%s", cwd, path) < 0)
                return NULL;
        return p;
}

int cli_realpath_option(const char *option, const char *arg, char **ret) {
        char *real = realpath(arg, NULL);
        if (!real) {
                cli_error("%s %s: %s", option, arg, strerror(errno));
                return -EINVAL;
        }
        free(*ret);
        *ret = real;
        return 0;
}

void cli_print_pcr(FILE *f, const measure_alg *alg, unsigned pcr, const uint8_t *value) {
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        fprintf(f, "%s %u %s\n", alg->name, pcr, measure_hex(value, alg->size, hex));
}

bool cli_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++)
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
                        return true;
        return false;
}
