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
