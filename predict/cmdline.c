/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-cmdline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict-host.h"

int predict_cmdline(const predict_bootspec_v1 *v, char **ret) {
        size_t len = strlen("init=") + strlen(v->init);
        for (size_t i = 0; i < v->n_kernel_params; i++)
                len += 1 + strlen(v->kernel_params[i]);

        char *s = malloc(len + 1), *p = s;
        if (!s)
                return -ENOMEM;
        p = stpcpy(p, "init=");
        p = stpcpy(p, v->init);
        for (size_t i = 0; i < v->n_kernel_params; i++) {
                *p++ = ' ';
                p = stpcpy(p, v->kernel_params[i]);
        }
        *ret = s;
        return 0;
}

/* The .osrel is the generation's own os-release (from its toplevel's etc/os-release, so ID, NAME,
 * VERSION, BUILD_ID... describe what actually boots), reduced to its KEY=VALUE lines (comments, blank
 * and malformed lines dropped, the rest byte for byte), with two keys rewritten in place, as lanzaboote
 * does, so that the boot menu tells the entries apart:
 *   PRETTY_NAME="<bootspec label> (Generation <N>[, specialisation <name>])"
 *   VERSION_ID="<N>"   (os-release's VERSION_ID charset; systemd-boot orders same-ID entries by it)
 * Unlike lanzaboote no build date is added: it would come from the profile link's mtime, which is not
 * part of the generation and would make the measured bytes depend on when the link was made. A
 * document given by path has no generation number: its PRETTY_NAME is the label and VERSION_ID is kept.
 * Without an os-release file the text starts with NAME=NixOS and ID=nixos. Keys missing from the file
 * are appended. Every line ends in "\n". */

static bool key_is(const char *line, size_t len, const char *key) {
        size_t k = strlen(key);
        return len > k && memcmp(line, key, k) == 0 && line[k] == '=';
}

static bool is_assignment(const char *line, size_t len) {
        size_t i = 0;
        if (len == 0 || (line[0] >= '0' && line[0] <= '9'))
                return false;
        while (i < len && (line[i] == '_' || (line[i] >= 'A' && line[i] <= 'Z') || (line[i] >= 'a' && line[i] <= 'z') ||
                           (line[i] >= '0' && line[i] <= '9')))
                i++;
        return i > 0 && i < len && line[i] == '=';
}

/* Appends KEY="value" with the value quoted for os-release's shell-like syntax. */
static void put_quoted(FILE *f, const char *key, const char *value) {
        fprintf(f, "%s=\"", key);
        for (const char *p = value; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c == '"' || c == '\\' || c == '$' || c == '`')
                        fputc('\\', f);
                fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
        }
        fputs("\"\n", f);
}

int predict_osrel(const char *os_release, size_t os_release_size, const predict_bootspec_v1 *v,
                  const char *specialisation, unsigned long generation, char **ret) {
        char *pretty = NULL, version[32] = "", *buf = NULL;
        size_t size = 0;
        bool have_pretty = false, have_version = false, have_id = false;
        FILE *f;
        int r;

        if (generation > 0 && specialisation)
                r = asprintf(&pretty, "%s (Generation %lu, specialisation %s)", v->label, generation, specialisation);
        else if (generation > 0)
                r = asprintf(&pretty, "%s (Generation %lu)", v->label, generation);
        else if (specialisation)
                r = asprintf(&pretty, "%s (specialisation %s)", v->label, specialisation);
        else
                r = asprintf(&pretty, "%s", v->label);
        if (r < 0)
                return -ENOMEM;
        if (generation > 0)
                snprintf(version, sizeof(version), "%lu", generation);

        f = open_memstream(&buf, &size);
        if (!f) {
                free(pretty);
                return -ENOMEM;
        }
        for (size_t pos = 0; os_release && pos < os_release_size;) {
                const char *line = os_release + pos, *nl = memchr(line, '\n', os_release_size - pos);
                size_t len = nl ? (size_t) (nl - line) : os_release_size - pos;
                pos += len + 1;
                if (!is_assignment(line, len) || memchr(line, 0, len))
                        continue;
                have_id |= key_is(line, len, "ID");
                if (key_is(line, len, "PRETTY_NAME")) {
                        if (!have_pretty)
                                put_quoted(f, "PRETTY_NAME", pretty);
                        have_pretty = true;
                        continue;
                }
                if (key_is(line, len, "VERSION_ID") && version[0]) {
                        if (!have_version)
                                put_quoted(f, "VERSION_ID", version);
                        have_version = true;
                        continue;
                }
                fwrite(line, 1, len, f);
                fputc('\n', f);
        }
        if (!have_id && !os_release)
                fputs("NAME=NixOS\nID=nixos\n", f);
        if (!have_pretty)
                put_quoted(f, "PRETTY_NAME", pretty);
        if (!have_version && version[0])
                put_quoted(f, "VERSION_ID", version);
        free(pretty);
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int predict_osrel_load(const char *root, const predict_bootspec_v1 *v, const char *specialisation,
                       unsigned long generation, predict_error *err, char **ret) {
        char *path = NULL, *resolved = NULL, *data = NULL;
        size_t size = 0;
        int r;

        path = predict_path_join(v->toplevel, "etc/os-release");
        if (!path)
                return -ENOMEM;
        r = predict_host_chase(root, path, err, &resolved);
        if (r >= 0)
                r = predict_host_read(root, resolved, PREDICT_OS_RELEASE_MAX, err, &data, &size);
        else if (r == -ENOENT)
                r = 0;
        if (r >= 0) {
                r = predict_osrel(data, size, v, specialisation, generation, ret);
                if (r < 0)
                        predict_error_set(err, r, "%s: cannot build the os-release: %s", path, strerror(-r));
        }
        free(path);
        free(resolved);
        free(data);
        return r;
}
