/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "loader-conf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether line[0..len) sets key: the key, then whitespace or the end. */
static bool sets(const char *line, size_t len, const char *key) {
        size_t i = 0, k = strlen(key);
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
                i++;
        return len - i >= k && memcmp(line + i, key, k) == 0 &&
               (len - i == k || line[i + k] == ' ' || line[i + k] == '\t');
}

int install_loader_conf_edit(const char *old, size_t old_size, const char *entry, int timeout, char **ret) {
        bool have_default = false, have_timeout = false;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t pos = 0; old && pos < old_size;) {
                const char *line = old + pos, *nl = memchr(line, '\n', old_size - pos);
                size_t len = nl ? (size_t) (nl - line) : old_size - pos;
                pos += len + 1;
                if (sets(line, len, "default")) {
                        if (!have_default)
                                fprintf(f, "default %s\n", entry);
                        have_default = true;
                        continue;
                }
                if (timeout >= 0 && sets(line, len, "timeout")) {
                        if (!have_timeout)
                                fprintf(f, "timeout %d\n", timeout);
                        have_timeout = true;
                        continue;
                }
                fwrite(line, 1, len, f);
                fputc('\n', f);
        }
        if (timeout >= 0 && !have_timeout)
                fprintf(f, "timeout %d\n", timeout);
        if (!have_default)
                fprintf(f, "default %s\n", entry);
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}
