/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root_or_empty(const char *root) {
        return root && strcmp(root, "/") != 0 ? root : "";
}

char *predict_host_path(const char *root, const char *path) {
        char *p;
        if (asprintf(&p, "%s%s", root_or_empty(root), path) < 0)
                return NULL;
        return p;
}

char *predict_path_join(const char *dir, const char *name) {
        char *p;
        size_t n = strlen(dir);
        if (asprintf(&p, "%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/", name) < 0)
                return NULL;
        return p;
}

void predict_strv_free(char **v, size_t n) {
        if (!v)
                return;
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

/* Drops the last component of a canonical path held in buf ("" stands for "/"). */
static void path_pop(char *buf) {
        char *slash = strrchr(buf, '/');
        if (slash)
                *slash = 0;
}

int predict_host_chase(const char *root, const char *path, predict_error *err, char **ret_path) {
        char *todo = NULL, *result = NULL, *host = NULL;
        size_t todo_pos = 0;
        unsigned hops = 0;
        int r;

        if (!path || path[0] != '/')
                return predict_error_set(err, -EINVAL, "%s: not an absolute path", path ? path : "(null)");
        todo = strdup(path);
        /* The result never grows past PATH_MAX: a longer in-root path is refused below. */
        result = calloc(1, PATH_MAX + 1);
        if (!todo || !result) {
                r = -ENOMEM;
                goto finish;
        }

        for (;;) {
                /* Next component of todo. */
                while (todo[todo_pos] == '/')
                        todo_pos++;
                if (!todo[todo_pos])
                        break;
                const char *comp = todo + todo_pos;
                size_t len = strcspn(comp, "/");
                bool last = comp[len] == 0 || comp[len + strspn(comp + len, "/")] == 0;
                todo_pos += len;

                if (len == 1 && comp[0] == '.')
                        continue;
                if (len == 2 && comp[0] == '.' && comp[1] == '.') {
                        path_pop(result);
                        continue;
                }
                size_t rlen = strlen(result);
                if (rlen + 1 + len > PATH_MAX) {
                        r = predict_error_set(err, -ENAMETOOLONG, "%s: path too long", path);
                        goto finish;
                }
                result[rlen] = '/';
                memcpy(result + rlen + 1, comp, len);
                result[rlen + 1 + len] = 0;

                free(host);
                host = predict_host_path(root, result);
                if (!host) {
                        r = -ENOMEM;
                        goto finish;
                }
                struct stat st;
                if (lstat(host, &st) < 0) {
                        r = -errno;
                        predict_error_set(err, r, "%s: cannot resolve %s: %s", path, host, strerror(-r));
                        goto finish;
                }
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX + 1];
                        if (++hops > PREDICT_HOST_MAX_SYMLINKS) {
                                r = predict_error_set(err, -ELOOP, "%s: too many levels of symbolic links", path);
                                goto finish;
                        }
                        ssize_t k = readlink(host, target, PATH_MAX);
                        if (k < 0) {
                                r = -errno;
                                predict_error_set(err, r, "%s: cannot read link %s: %s", path, host, strerror(-r));
                                goto finish;
                        }
                        if (k == 0) {
                                r = predict_error_set(err, -ENOENT, "%s: empty symbolic link %s", path, host);
                                goto finish;
                        }
                        target[k] = 0;
                        /* The link itself is not part of the result: an absolute target restarts at the
                         * root, a relative one continues from the link's directory. */
                        if (target[0] == '/')
                                result[0] = 0;
                        else
                                path_pop(result);
                        char *rest = todo + todo_pos, *nt;
                        if (asprintf(&nt, "%s/%s", target, rest) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        if (strlen(nt) > (size_t) PATH_MAX * 4) {
                                free(nt);
                                r = predict_error_set(err, -ENAMETOOLONG, "%s: path too long", path);
                                goto finish;
                        }
                        free(todo);
                        todo = nt;
                        todo_pos = 0;
                        continue;
                }
                if (!last && !S_ISDIR(st.st_mode)) {
                        r = predict_error_set(err, -ENOTDIR, "%s: %s is not a directory", path, host);
                        goto finish;
                }
        }

        if (!result[0])
                strcpy(result, "/");
        char *p = strdup(result);
        if (!p) {
                r = -ENOMEM;
                goto finish;
        }
        *ret_path = p;
        r = 0;
finish:
        free(todo);
        free(result);
        free(host);
        return r;
}

int predict_host_read(const char *root, const char *path, size_t max, predict_error *err, char **ret,
                      size_t *ret_size) {
        char *host = predict_host_path(root, path), *buf = NULL;
        size_t n = 0;
        struct stat st;
        int fd = -1, r;

        if (!host)
                return -ENOMEM;
        fd = open(host, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                predict_error_set(err, r, "%s: cannot open: %s", host, strerror(-r));
                goto finish;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                predict_error_set(err, r, "%s: cannot stat: %s", host, strerror(-r));
                goto finish;
        }
        if (!S_ISREG(st.st_mode)) {
                r = predict_error_set(err, -EINVAL, "%s: not a regular file", host);
                goto finish;
        }
        if ((uint64_t) st.st_size > max) {
                r = predict_error_set(err, -EFBIG, "%s: file is %jd bytes, more than the limit of %zu", host,
                                      (intmax_t) st.st_size, max);
                goto finish;
        }
        /* The file may grow while read: read at most max + 1 bytes and refuse if it did. */
        buf = malloc(max + 2);
        if (!buf) {
                r = -ENOMEM;
                goto finish;
        }
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        predict_error_set(err, r, "%s: read failed: %s", host, strerror(-r));
                        goto finish;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max) {
                        r = predict_error_set(err, -EFBIG, "%s: file is larger than the limit of %zu bytes",
                                              host, max);
                        goto finish;
                }
        }
        buf[n] = 0;
        *ret = buf;
        *ret_size = n;
        buf = NULL;
        r = 0;
finish:
        if (fd >= 0)
                close(fd);
        free(buf);
        free(host);
        return r;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int predict_host_list(const char *root, const char *path, size_t max, predict_error *err, char ***ret_names,
                      size_t *ret_n) {
        char *host = predict_host_path(root, path), **names = NULL;
        size_t n = 0;
        DIR *d = NULL;
        int r;

        if (!host)
                return -ENOMEM;
        d = opendir(host);
        if (!d) {
                r = -errno;
                predict_error_set(err, r, "%s: cannot open directory: %s", host, strerror(-r));
                goto finish;
        }
        names = calloc(max ? max : 1, sizeof(char *));
        if (!names) {
                r = -ENOMEM;
                goto finish;
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno != 0) {
                                r = -errno;
                                predict_error_set(err, r, "%s: cannot read directory: %s", host, strerror(-r));
                                goto finish;
                        }
                        break;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (n == max) {
                        r = predict_error_set(err, -E2BIG, "%s: more than %zu entries", host, max);
                        goto finish;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
        qsort(names, n, sizeof(char *), cmp_str);
        *ret_names = names;
        *ret_n = n;
        names = NULL;
        r = 0;
finish:
        predict_strv_free(names, n);
        if (d)
                closedir(d);
        free(host);
        return r;
}
