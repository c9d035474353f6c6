/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Host access for the predictor: every file the predictor reads (profile links, boot.json, toplevel
 * files, kernels, initrds) is named by an absolute path as the booted system sees it, and is resolved
 * under an optional root directory (an image, a mounted disk, a test tree). Symbolic links are followed
 * with the root as "/", and ".." never climbs above it, so nothing outside the root is ever read.
 *
 * root is NULL or "" for the real root; otherwise an absolute, canonical directory path. */

#include <stdbool.h>
#include <stddef.h>

#include "predict-error.h"

#define PREDICT_HOST_MAX_SYMLINKS 40

/* Resolves the absolute path under root, following every symbolic link, into the canonical path inside
 * the root (it starts with "/"; the root prefix is not included). Returns -ENOENT when a component does not
 * exist, -ELOOP on too many links, -ENOTDIR, -EINVAL for a relative path. */
int predict_host_chase(const char *root, const char *path, predict_error *err, char **ret_path);

/* The path of a canonical in-root path on this machine: root + path. NULL on allocation failure. */
char *predict_host_path(const char *root, const char *path);

/* Reads a whole regular file (path as from predict_host_chase) of at most max bytes. *ret is NUL-terminated
 * for convenience; the terminator is not counted in *ret_size. */
int predict_host_read(const char *root, const char *path, size_t max, predict_error *err, char **ret,
                      size_t *ret_size);

/* Lists the names in a directory (path as from predict_host_chase), without "." and "..", sorted bytewise.
 * Fails with -E2BIG when there are more than max entries. */
int predict_host_list(const char *root, const char *path, size_t max, predict_error *err, char ***ret_names,
                      size_t *ret_n);

/* Joins an absolute path and one more component: "/a" + "b" -> "/a/b", "/" + "b" -> "/b". */
char *predict_path_join(const char *dir, const char *name);

void predict_strv_free(char **v, size_t n);
