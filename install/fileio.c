/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fsync_parent(const char *path) {
        char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        free(copy);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

int install_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        size_t n = strlen(path) + sizeof(".tmp.XXXXXX");
        char *tmp = malloc(n);
        if (!tmp)
                return -ENOMEM;
        snprintf(tmp, n, "%s.tmp.XXXXXX", path);
        int fd = mkostemp(tmp, O_CLOEXEC), r = 0;
        if (fd < 0) {
                r = -errno;
                free(tmp);
                return r;
        }
        const unsigned char *p = data;
        size_t left = len;
        while (left > 0) {
                ssize_t k = write(fd, p, left);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                p += k;
                left -= (size_t) k;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        if (close(fd) < 0) {
                fd = -1;
                r = -errno;
                goto fail;
        }
        fd = -1;
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        free(tmp);
        return fsync_parent(path);
fail:
        if (fd >= 0)
                close(fd);
        unlink(tmp);
        free(tmp);
        return r;
}

int install_mkdir_p(const char *dir) {
        char *copy = strdup(dir);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; ; p++) {
                if (*p != '/' && *p != 0)
                        continue;
                char c = *p;
                *p = 0;
                if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
                        int r = -errno;
                        free(copy);
                        return r;
                }
                *p = c;
                if (c == 0)
                        break;
        }
        free(copy);
        return 0;
}

int install_copy_file_atomic(const char *src, const char *path, uint64_t max, mode_t mode) {
        struct stat st;
        int in = open(src, O_RDONLY | O_CLOEXEC), fd = -1, r = 0;
        char *tmp = NULL, *buf = NULL;
        uint64_t total = 0;

        if (in < 0)
                return -errno;
        if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
                r = S_ISREG(st.st_mode) ? -errno : -EINVAL;
                close(in);
                return r;
        }
        if ((uint64_t) st.st_size > max) {
                close(in);
                return -EFBIG;
        }
        size_t n = strlen(path) + sizeof(".tmp.XXXXXX");
        tmp = malloc(n);
        buf = malloc(1u << 20);
        if (!tmp || !buf) {
                r = -ENOMEM;
                goto finish;
        }
        snprintf(tmp, n, "%s.tmp.XXXXXX", path);
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                goto finish;
        }
        for (;;) {
                ssize_t k = read(in, buf, 1u << 20);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (k == 0)
                        break;
                total += (uint64_t) k;
                if (total > max) {
                        r = -EFBIG;
                        goto fail;
                }
                for (ssize_t off = 0; off < k;) {
                        ssize_t w = write(fd, buf + off, (size_t) (k - off));
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                r = -errno;
                                goto fail;
                        }
                        off += w;
                }
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        r = close(fd) < 0 ? -errno : 0;
        fd = -1;
        if (r < 0)
                goto fail;
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        r = fsync_parent(path);
        goto finish;
fail:
        if (fd >= 0)
                close(fd);
        unlink(tmp);
finish:
        close(in);
        free(tmp);
        free(buf);
        return r;
}
