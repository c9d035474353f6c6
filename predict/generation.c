/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-generation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict-host.h"
#include "predict-synthesize.h"

void predict_generation_done(predict_generation *g) {
        if (!g)
                return;
        free(g->profile);
        free(g->link);
        free(g->source);
        predict_bootspec_free(g->bootspec);
        memset(g, 0, sizeof(*g));
}

void predict_generations_free(predict_generation *g, size_t n) {
        if (!g)
                return;
        for (size_t i = 0; i < n; i++)
                predict_generation_done(&g[i]);
        free(g);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

int predict_profiles_default(const char *root, predict_error *err, char ***ret_profiles, size_t *ret_n) {
        char **profiles = NULL, **names = NULL, *dir = NULL;
        size_t n = 0, n_names = 0;
        int r;

        profiles = calloc(PREDICT_MAX_PROFILES + 1, sizeof(char *));
        if (!profiles)
                return -ENOMEM;
        profiles[n] = strdup(PREDICT_DEFAULT_PROFILE);
        if (!profiles[n]) {
                r = -ENOMEM;
                goto finish;
        }
        n++;
        r = predict_host_chase(root, PREDICT_SYSTEM_PROFILES_DIR, err, &dir);
        if (r == -ENOENT)
                goto done;
        if (r < 0)
                goto finish;
        r = predict_host_list(root, dir, PREDICT_MAX_PROFILES * 64, err, &names, &n_names);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < n_names; i++) {
                if (has_suffix(names[i], "-link"))
                        continue;
                if (n == PREDICT_MAX_PROFILES) {
                        r = predict_error_set(err, -E2BIG, "%s: more than %d profiles", PREDICT_SYSTEM_PROFILES_DIR,
                                              PREDICT_MAX_PROFILES);
                        goto finish;
                }
                profiles[n] = predict_path_join(PREDICT_SYSTEM_PROFILES_DIR, names[i]);
                if (!profiles[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
done:
        *ret_profiles = profiles;
        *ret_n = n;
        profiles = NULL;
        r = 0;
finish:
        predict_strv_free(profiles, n);
        predict_strv_free(names, n_names);
        free(dir);
        return r;
}

/* Parses "<name>-<N>-link" into N. Decimal without sign or leading zero, at most 9 digits. */
static bool parse_link_name(const char *entry, const char *name, unsigned long *ret) {
        size_t ln = strlen(name);
        if (strncmp(entry, name, ln) != 0 || entry[ln] != '-')
                return false;
        const char *d = entry + ln + 1;
        size_t nd = strspn(d, "0123456789");
        if (nd == 0 || nd > 9 || (d[0] == '0') || strcmp(d + nd, "-link") != 0)
                return false;
        *ret = strtoul(d, NULL, 10);
        return true;
}

/* Reads and parses the bootspec file path (under root), naming it source in errors. */
static int read_bootspec(const char *root, const char *path, const char *source, predict_error *err,
                         predict_bootspec **ret) {
        char *data = NULL;
        size_t size;
        int r;

        r = predict_host_read(root, path, PREDICT_BOOTSPEC_MAX_SIZE, err, &data, &size);
        if (r < 0)
                return r;
        r = predict_bootspec_parse(data, size, source, err, ret);
        free(data);
        return r;
}

/* Reads <toplevel>/boot.json, or synthesises the bootspec when the generation has none. */
static int load_toplevel(const char *root, const char *toplevel, predict_error *err, predict_bootspec **ret,
                         char **ret_source) {
        char *json_path = NULL, *resolved = NULL, *host = NULL;
        int r;

        json_path = predict_path_join(toplevel, "boot.json");
        if (!json_path)
                return -ENOMEM;
        r = predict_host_chase(root, json_path, err, &resolved);
        if (r == -ENOENT) {
                free(json_path);
                r = predict_bootspec_synthesize(root, toplevel, err, ret);
                if (r >= 0)
                        *ret_source = NULL;
                return r;
        }
        if (r < 0)
                goto finish;
        host = predict_host_path(root, json_path);
        if (!host) {
                r = -ENOMEM;
                goto finish;
        }
        r = read_bootspec(root, resolved, host, err, ret);
        if (r < 0)
                goto finish;
        *ret_source = host;
        host = NULL;
finish:
        free(json_path);
        free(resolved);
        free(host);
        return r;
}

typedef struct link_entry {
        unsigned long number;
        char *name;
} link_entry;

static int cmp_link(const void *a, const void *b) {
        unsigned long x = ((const link_entry *) a)->number, y = ((const link_entry *) b)->number;
        return x < y ? -1 : x > y;
}

int predict_profile_load(const char *root, const char *profile, predict_error *err, predict_generation **ret,
                         size_t *ret_n) {
        char *copy = NULL, *dir = NULL, **names = NULL;
        size_t n_names = 0, n_links = 0, n = 0;
        link_entry *links = NULL;
        predict_generation *gens = NULL;
        int r;

        if (profile[0] != '/')
                return predict_error_set(err, -EINVAL, "%s: profile must be an absolute path", profile);
        copy = strdup(profile);
        if (!copy)
                return -ENOMEM;
        size_t len = strlen(copy);
        while (len > 1 && copy[len - 1] == '/')
                copy[--len] = 0;
        char *slash = strrchr(copy, '/');
        const char *name = slash + 1;
        if (!*name) {
                r = predict_error_set(err, -EINVAL, "%s: not a profile path", profile);
                goto finish;
        }
        *slash = 0;
        r = predict_host_chase(root, copy[0] ? copy : "/", err, &dir);
        if (r < 0) {
                predict_error_prefix(err, r, "profile %s", profile);
                goto finish;
        }
        r = predict_host_list(root, dir, PREDICT_MAX_GENERATIONS * 4, err, &names, &n_names);
        if (r < 0)
                goto finish;
        links = calloc(n_names ? n_names : 1, sizeof(link_entry));
        if (!links) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n_names; i++) {
                unsigned long number;
                if (!parse_link_name(names[i], name, &number))
                        continue;
                if (n_links == PREDICT_MAX_GENERATIONS) {
                        r = predict_error_set(err, -E2BIG, "profile %s: more than %d generations", profile,
                                              PREDICT_MAX_GENERATIONS);
                        goto finish;
                }
                links[n_links++] = (link_entry) { .number = number, .name = names[i] };
        }
        if (n_links == 0) {
                r = predict_error_set(err, -ENOENT, "profile %s: no generations (no %s-<N>-link in %s)", profile,
                                      name, copy[0] ? copy : "/");
                goto finish;
        }
        qsort(links, n_links, sizeof(link_entry), cmp_link);

        gens = calloc(n_links, sizeof(predict_generation));
        if (!gens) {
                r = -ENOMEM;
                goto finish;
        }
        for (; n < n_links; n++) {
                predict_generation *g = &gens[n];
                char *toplevel = NULL;
                g->number = links[n].number;
                g->profile = strdup(name);
                g->link = predict_path_join(dir, links[n].name);
                if (!g->profile || !g->link) {
                        n++;
                        r = -ENOMEM;
                        goto finish;
                }
                r = predict_host_chase(root, g->link, err, &toplevel);
                if (r >= 0)
                        r = load_toplevel(root, toplevel, err, &g->bootspec, &g->source);
                free(toplevel);
                if (r < 0) {
                        predict_error_prefix(err, r, "profile %s generation %lu", name, g->number);
                        n++;
                        goto finish;
                }
        }
        *ret = gens;
        *ret_n = n;
        gens = NULL;
        r = 0;
finish:
        predict_generations_free(gens, n);
        predict_strv_free(names, n_names);
        free(links);
        free(dir);
        free(copy);
        return r;
}

int predict_generation_from_file(const char *path, predict_error *err, predict_generation *ret) {
        predict_generation g = {};
        int r;

        r = read_bootspec(NULL, path, path, err, &g.bootspec);
        if (r < 0)
                return r;
        g.link = strdup(path);
        g.source = strdup(path);
        if (!g.link || !g.source) {
                predict_generation_done(&g);
                return -ENOMEM;
        }
        *ret = g;
        return 0;
}
