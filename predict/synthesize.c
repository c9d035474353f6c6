/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-synthesize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict-host.h"

#define SMALL_FILE_MAX 4096u

/* Resolves <dir>/<name> under root. */
static int chase_in(const char *root, const char *dir, const char *name, predict_error *err, char **ret) {
        char *p = predict_path_join(dir, name);
        if (!p)
                return -ENOMEM;
        int r = predict_host_chase(root, p, err, ret);
        free(p);
        return r;
}

static int read_in(const char *root, const char *dir, const char *name, size_t max, predict_error *err,
                   char **ret, size_t *ret_size) {
        char *p = NULL, *data = NULL;
        size_t size;
        int r = chase_in(root, dir, name, err, &p);
        if (r >= 0)
                r = predict_host_read(root, p, max, err, &data, &size);
        free(p);
        if (r < 0)
                return r;
        if (memchr(data, 0, size)) {
                free(data);
                return predict_error_set(err, -EINVAL, "%s/%s: contains a NUL byte", dir, name);
        }
        *ret = data;
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* Splits s at every single space; "" and "a  b" give empty elements, as Rust's str::split(' ') does. */
static int split_spaces(const char *s, char ***ret, size_t *ret_n) {
        size_t n = 1;
        for (const char *p = s; *p; p++)
                n += *p == ' ';
        if (n > PREDICT_BOOTSPEC_MAX_PARAMS)
                return -E2BIG;
        char **v = calloc(n, sizeof(char *));
        if (!v)
                return -ENOMEM;
        const char *start = s;
        for (size_t i = 0; i < n; i++) {
                size_t len = strcspn(start, " ");
                v[i] = strndup(start, len);
                if (!v[i]) {
                        predict_strv_free(v, i);
                        return -ENOMEM;
                }
                start += len + (start[len] == ' ');
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int describe(const char *root, const char *toplevel, predict_error *err, predict_bootspec_v1 *ret) {
        predict_bootspec_v1 v = {};
        char *gen = NULL, *version = NULL, *params = NULL, *modules = NULL, **kvers = NULL;
        size_t n_kvers = 0;
        int r;

        r = predict_host_chase(root, toplevel, err, &gen);
        if (r < 0)
                goto finish;
        r = read_in(root, gen, "nixos-version", SMALL_FILE_MAX, err, &version, NULL);
        if (r < 0)
                goto finish;
        r = read_in(root, gen, "system", SMALL_FILE_MAX, err, &v.system, NULL);
        if (r < 0)
                goto finish;
        r = chase_in(root, gen, "kernel", err, &v.kernel);
        if (r == -ENOENT)
                r = chase_in(root, gen, "kernel-modules/bzImage", err, &v.kernel);
        if (r < 0)
                goto finish;
        r = chase_in(root, gen, "kernel-modules/lib/modules", err, &modules);
        if (r < 0)
                goto finish;
        r = predict_host_list(root, modules, 64, err, &kvers, &n_kvers);
        if (r < 0)
                goto finish;
        if (n_kvers == 0) {
                r = predict_error_set(err, -ENOENT, "%s: no kernel version directory", modules);
                goto finish;
        }
        r = read_in(root, gen, "kernel-params", PREDICT_BOOTSPEC_MAX_STRING, err, &params, NULL);
        if (r < 0)
                goto finish;
        r = split_spaces(params, &v.kernel_params, &v.n_kernel_params);
        if (r < 0) {
                predict_error_set(err, r, "%s/kernel-params: cannot split: %s", gen, strerror(-r));
                goto finish;
        }
        v.init = predict_path_join(gen, "init");
        if (!v.init) {
                r = -ENOMEM;
                goto finish;
        }
        r = chase_in(root, gen, "initrd", err, &v.initrd);
        if (r < 0 && r != -ENOENT)
                goto finish;
        char *secrets = NULL;
        r = chase_in(root, gen, "append-initrd-secrets", err, &secrets);
        if (r < 0 && r != -ENOENT)
                goto finish;
        if (secrets) {
                free(secrets);
                v.initrd_secrets = predict_path_join(gen, "append-initrd-secrets");
                if (!v.initrd_secrets) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        if (asprintf(&v.label, "NixOS %s (Linux %s)", version, kvers[0]) < 0) {
                v.label = NULL;
                r = -ENOMEM;
                goto finish;
        }
        v.toplevel = gen;
        gen = NULL;
        *ret = v;
        memset(&v, 0, sizeof(v));
        r = 0;
finish:
        predict_bootspec_v1_done(&v);
        predict_strv_free(kvers, n_kvers);
        free(gen);
        free(version);
        free(params);
        free(modules);
        return r;
}

int predict_bootspec_synthesize(const char *root, const char *toplevel, predict_error *err,
                                predict_bootspec **ret) {
        predict_bootspec *b = calloc(1, sizeof(*b));
        char *specdir = NULL, **names = NULL;
        size_t n_names = 0;
        int r;

        if (!b)
                return -ENOMEM;
        b->synthesized = true;
        r = describe(root, toplevel, err, &b->v1);
        if (r < 0)
                goto fail;

        r = chase_in(root, b->v1.toplevel, "specialisation", err, &specdir);
        if (r == -ENOENT) {
                *ret = b;
                return 0;
        }
        if (r < 0)
                goto fail;
        r = predict_host_list(root, specdir, PREDICT_BOOTSPEC_MAX_SPECIALISATIONS, err, &names, &n_names);
        if (r < 0)
                goto fail;
        if (n_names > 0) {
                b->specialisations = calloc(n_names, sizeof(predict_specialisation));
                if (!b->specialisations) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        for (size_t i = 0; i < n_names; i++) {
                char *p = predict_path_join(specdir, names[i]);
                if (!p) {
                        r = -ENOMEM;
                        goto fail;
                }
                predict_specialisation *s = &b->specialisations[b->n_specialisations];
                s->name = names[i];
                names[i] = NULL;
                b->n_specialisations++;
                r = describe(root, p, err, &s->v1);
                free(p);
                if (r < 0)
                        goto fail;
        }
        predict_strv_free(names, n_names);
        free(specdir);
        *ret = b;
        return 0;
fail:
        predict_error_prefix(err, r, "%s: no boot.json, synthesising from the toplevel", toplevel);
        predict_strv_free(names, n_names);
        free(specdir);
        predict_bootspec_free(b);
        return r;
}
