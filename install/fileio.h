/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Crash-safe file writes: data goes to a temporary name in the same directory, is fsynced, renamed over the
 * target, and the directory is fsynced, so a reader (or the firmware, after a crash) sees the old file or the
 * new one, never a mix. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Returns 0 or a negative errno; on failure the target is untouched and no temporary file is left. */
int install_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Copies the regular file src to path the same crash-safe way (temporary name, fsync, rename, directory
 * fsync), streaming, at most max bytes. Returns 0 or a negative errno (-EFBIG above max). */
int install_copy_file_atomic(const char *src, const char *path, uint64_t max, mode_t mode);

/* Creates dir and its missing parents (mode 0755). */
int install_mkdir_p(const char *dir);

/* The suffix of the temporary names install_write_file_atomic uses: "<target>.tmp.XXXXXX". */
#define INSTALL_TMP_INFIX ".tmp."
