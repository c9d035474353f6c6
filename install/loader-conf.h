/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* systemd-boot's loader/loader.conf: the installer sets "default" (and, when asked, "timeout") and keeps
 * every other line as the user wrote it. */

#include <stddef.h>

/* Returns in *ret (malloc'd, NUL-terminated) the text old[0..old_size) (NULL: no file) with every "default"
 * line replaced by "default <entry>" and, when timeout >= 0, every "timeout" line by "timeout <timeout>";
 * missing keys are appended. */
int install_loader_conf_edit(const char *old, size_t old_size, const char *entry, int timeout, char **ret);
