/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "efivars.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int var_path(const char *efivars, const char *name, const install_guid *vendor, char *buf, size_t len) {
        char g[37];
        if ((size_t) snprintf(buf, len, "%s/%s-%s", efivars, name, install_guid_format(vendor, g)) >= len)
                return -ENAMETOOLONG;
        return 0;
}

int install_efivar_read(const char *efivars, const char *name, const install_guid *vendor, uint32_t *ret_attrs,
                        uint8_t **ret_data, size_t *ret_len) {
        char path[4096];
        uint8_t *buf;
        size_t n = 0;
        int r = var_path(efivars, name, vendor, path, sizeof(path));
        if (r < 0)
                return r;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        buf = malloc(INSTALL_EFIVAR_MAX + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t k = read(fd, buf + n, INSTALL_EFIVAR_MAX + 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > INSTALL_EFIVAR_MAX) {
                        r = -EFBIG;
                        break;
                }
        }
        close(fd);
        if (r == 0 && n < 4)
                r = -EBADMSG;
        if (r < 0) {
                free(buf);
                return r;
        }
        if (ret_attrs)
                *ret_attrs = (uint32_t) buf[0] | (uint32_t) buf[1] << 8 | (uint32_t) buf[2] << 16 |
                             (uint32_t) buf[3] << 24;
        memmove(buf, buf + 4, n - 4);
        *ret_data = buf;
        *ret_len = n - 4;
        return 0;
}

int install_efivar_read_bool(const char *efivars, const char *name, const install_guid *vendor) {
        uint8_t *data = NULL;
        size_t len = 0;
        int r = install_efivar_read(efivars, name, vendor, NULL, &data, &len);
        if (r < 0)
                return r;
        r = len == 1 ? data[0] != 0 : -EBADMSG;
        free(data);
        return r;
}

int install_efivar_write(const char *efivars, const char *name, const install_guid *vendor, uint32_t attrs,
                         const uint8_t *data, size_t len) {
        char path[4096];
        int r = var_path(efivars, name, vendor, path, sizeof(path));
        if (r < 0)
                return r;
        if (len > INSTALL_EFIVAR_MAX)
                return -EFBIG;
        uint8_t *buf = malloc(len + 4);
        if (!buf)
                return -ENOMEM;
        buf[0] = (uint8_t) attrs;
        buf[1] = (uint8_t) (attrs >> 8);
        buf[2] = (uint8_t) (attrs >> 16);
        buf[3] = (uint8_t) (attrs >> 24);
        memcpy(buf + 4, data, len);

        /* efivarfs marks existing variable files immutable; lift that for this one file. */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                int flags;
                if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
                        flags &= ~FS_IMMUTABLE_FL;
                        (void) ioctl(fd, FS_IOC_SETFLAGS, &flags);
                }
                close(fd);
        }
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
                r = -errno;
                free(buf);
                return r;
        }
        ssize_t k = write(fd, buf, len + 4);
        r = k < 0 ? -errno : (size_t) k != len + 4 ? -EIO : 0;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        free(buf);
        return r;
}
