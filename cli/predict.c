/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern predict: the PCR 11 value every NixOS generation (and specialisation) will measure when booted
 * through a stub with systemd-stub semantics, from its bootspec and the store files it names. */

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pcr.h"
#include "predict-filehash.h"
#include "predict-generation.h"
#include "predict-pcr11.h"

typedef struct args {
        char **profiles;
        size_t n_profiles;
        char *root;
        const measure_alg *banks[PREDICT_MAX_BANKS];
        size_t n_banks;
        bool json;
        char **files;
        size_t n_files;
} args;

/* One predicted boot entry: a generation, or one of its specialisations. */
typedef struct result {
        const predict_generation *gen;
        const predict_bootspec_v1 *v1;
        const char *specialisation;
        predict_entry entry;
} result;

static void help(FILE *f) {
        fprintf(f,
                "Usage: lantern predict [--profile DIR]... [--root DIR] [--bank B] [--json] [BOOTSPEC...]\n\n"
                "Predicts PCR 11 (systemd-stub semantics, no boot phase) of every generation and\n"
                "specialisation of NixOS system profiles, from their boot.json (synthesised from the\n"
                "toplevel when missing) and the kernel and initrd files they name.\n\n"
                "  --profile DIR  a profile path (default: " PREDICT_DEFAULT_PROFILE "\n"
                "                 and every profile in " PREDICT_SYSTEM_PROFILES_DIR "/)\n"
                "  --root DIR     resolve every absolute path (profiles, store paths, links) under DIR\n"
                "  --bank B       banks, comma-separated or repeated (default sha256)\n"
                "  --json         JSON output\n"
                "  BOOTSPEC       a boot.json file on this machine to predict (paths in it resolve under --root)\n\n"
                "Generations with initrdSecrets are listed as not predictable: their initrd is changed at\n"
                "install time.\n");
}

static void args_done(args *a) {
        free(a->profiles);
        free(a->files);
        free(a->root);
}

/* Makes a path absolute against the working directory (only without --root). */
static char *absolute(const char *path) {
        char cwd[PATH_MAX], *p;
        if (path[0] == '/')
                return strdup(path);
        if (!getcwd(cwd, sizeof(cwd)))
                return NULL;
        if (asprintf(&p, "%s/%s", cwd, path) < 0)
                return NULL;
        return p;
}

static int parse_argv(int argc, char **argv, args *a) {
        static const struct option options[] = {
                { "profile", required_argument, NULL, 'p' },
                { "root", required_argument, NULL, 'r' },
                { "bank", required_argument, NULL, 'b' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        a->profiles = calloc((size_t) argc, sizeof(char *));
        a->files = calloc((size_t) argc, sizeof(char *));
        if (!a->profiles || !a->files)
                return -ENOMEM;
        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'p':
                        a->profiles[a->n_profiles++] = optarg;
                        break;
                case 'r': {
                        char *real = realpath(optarg, NULL);
                        if (!real) {
                                cli_error("--root %s: %s", optarg, strerror(errno));
                                return -EINVAL;
                        }
                        free(a->root);
                        a->root = real;
                        break;
                }
                case 'b': {
                        const measure_alg *more[PREDICT_MAX_BANKS];
                        size_t n;
                        if (cli_parse_banks(optarg, more, PREDICT_MAX_BANKS, &n) < 0)
                                return -EINVAL;
                        for (size_t i = 0; i < n; i++) {
                                bool dup = false;
                                for (size_t j = 0; j < a->n_banks; j++)
                                        dup |= a->banks[j] == more[i];
                                if (dup)
                                        continue;
                                if (a->n_banks == PREDICT_MAX_BANKS) {
                                        cli_error("too many banks");
                                        return -EINVAL;
                                }
                                a->banks[a->n_banks++] = more[i];
                        }
                        break;
                }
                case 'j':
                        a->json = true;
                        break;
                case 'h':
                        help(stdout);
                        return 0;
                default:
                        help(stderr);
                        return -EINVAL;
                }
        for (int i = optind; i < argc; i++)
                a->files[a->n_files++] = argv[i];
        if (a->n_banks == 0)
                a->banks[a->n_banks++] = measure_alg_by_name("sha256");
        if (a->root && strcmp(a->root, "/") == 0) {
                free(a->root);
                a->root = NULL;
        }
        return 1;
}

/* Appends generations to *gens. */
static int append(predict_generation **gens, size_t *n, predict_generation *more, size_t n_more) {
        predict_generation *g = realloc(*gens, (*n + n_more) * sizeof(*g));
        if (!g)
                return -ENOMEM;
        memcpy(g + *n, more, n_more * sizeof(*g));
        *gens = g;
        *n += n_more;
        free(more);
        return 0;
}

static int load_generations(const args *a, predict_generation **ret, size_t *ret_n) {
        predict_generation *gens = NULL;
        size_t n = 0;
        char **profiles = NULL;
        size_t n_profiles = 0;
        bool default_profiles = a->n_profiles == 0 && a->n_files == 0;
        predict_error err = {};
        int r = 0;

        if (default_profiles) {
                r = predict_profiles_default(a->root, &err, &profiles, &n_profiles);
                if (r < 0) {
                        cli_error("%s", err.message);
                        return r;
                }
        }
        for (size_t i = 0; i < (default_profiles ? n_profiles : a->n_profiles); i++) {
                const char *profile = default_profiles ? profiles[i] : a->profiles[i];
                char *abs = a->root ? strdup(profile) : absolute(profile);
                predict_generation *more = NULL;
                size_t n_more = 0;
                if (!abs) {
                        r = -ENOMEM;
                        break;
                }
                r = predict_profile_load(a->root, abs, &err, &more, &n_more);
                free(abs);
                if (r < 0) {
                        cli_error("%s", err.message);
                        break;
                }
                r = append(&gens, &n, more, n_more);
                if (r < 0) {
                        predict_generations_free(more, n_more);
                        break;
                }
        }
        for (size_t i = 0; r >= 0 && i < a->n_files; i++) {
                predict_generation *one = calloc(1, sizeof(*one));
                if (!one) {
                        r = -ENOMEM;
                        break;
                }
                r = predict_generation_from_file(a->files[i], &err, one);
                if (r < 0) {
                        cli_error("%s", err.message);
                        free(one);
                        break;
                }
                r = append(&gens, &n, one, 1);
                if (r < 0) {
                        predict_generations_free(one, 1);
                        break;
                }
        }
        for (size_t i = 0; i < n_profiles; i++)
                free(profiles[i]);
        free(profiles);
        if (r < 0) {
                if (r == -ENOMEM)
                        cli_error("out of memory");
                predict_generations_free(gens, n);
                return r;
        }
        *ret = gens;
        *ret_n = n;
        return 0;
}

static void describe(FILE *f, const result *res) {
        if (res->gen->profile)
                fprintf(f, "%s generation %lu", res->gen->profile, res->gen->number);
        else
                fprintf(f, "%s", res->gen->link);
        if (res->specialisation)
                fprintf(f, " specialisation %s", res->specialisation);
}

static int compute(const args *a, predict_file_cache *cache, predict_generation *gens, size_t n_gens,
                   result **ret, size_t *ret_n) {
        size_t total = 0, n = 0;
        for (size_t i = 0; i < n_gens; i++)
                total += 1 + gens[i].bootspec->n_specialisations;
        result *res = calloc(total ? total : 1, sizeof(result));
        if (!res)
                return -ENOMEM;

        for (size_t i = 0; i < n_gens; i++) {
                const predict_bootspec *b = gens[i].bootspec;
                if (b->nested_specialisations) {
                        fprintf(stderr, "lantern: ");
                        describe(stderr, &(result) { .gen = &gens[i] });
                        fprintf(stderr, ": specialisations nested in specialisations are not predicted, ignoring\n");
                }
                for (size_t s = 0; s <= b->n_specialisations; s++) {
                        result *r = &res[n];
                        predict_error err = {};
                        r->gen = &gens[i];
                        r->v1 = s == 0 ? &b->v1 : &b->specialisations[s - 1].v1;
                        r->specialisation = s == 0 ? NULL : b->specialisations[s - 1].name;
                        int k = predict_entry_compute(a->root, cache, a->banks, a->n_banks, r->v1, r->specialisation,
                                                      gens[i].number, &err, &r->entry);
                        if (k < 0) {
                                fprintf(stderr, "lantern: ");
                                describe(stderr, r);
                                fprintf(stderr, " (%s): %s\n", gens[i].source ? gens[i].source : "synthesised bootspec",
                                        k == -ENOMEM ? "out of memory" : err.message);
                                for (size_t j = 0; j < n; j++)
                                        predict_entry_done(&res[j].entry);
                                free(res);
                                return k;
                        }
                        n++;
                        if (r->entry.unpredictable) {
                                fprintf(stderr, "lantern: ");
                                describe(stderr, r);
                                fprintf(stderr, ": PCR 11 not predicted: %s\n", r->entry.unpredictable);
                        }
                }
        }
        *ret = res;
        *ret_n = n;
        return 0;
}

static void print_text(const args *a, const result *res, size_t n) {
        for (size_t i = 0; i < n; i++) {
                printf("# ");
                describe(stdout, &res[i]);
                printf(": %s\n", res[i].v1->label);
                if (res[i].entry.unpredictable) {
                        printf("# not predictable: %s\n", res[i].entry.unpredictable);
                        continue;
                }
                for (size_t b = 0; b < a->n_banks; b++)
                        cli_print_pcr(stdout, a->banks[b], MEASURE_PCR_KERNEL_IMAGE, res[i].entry.pcr11[b]);
        }
}

static json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static int print_json(const args *a, const result *res, size_t n) {
        json_object *root = json_object_new_object(), *list = json_object_new_array();
        if (!root || !list) {
                json_object_put(root);
                json_object_put(list);
                return -ENOMEM;
        }
        json_object_object_add(root, "generations", list);
        for (size_t i = 0; i < n; i++) {
                const result *r = &res[i];
                json_object *o = json_object_new_object();
                if (!o)
                        goto oom;
                json_object_array_add(list, o);
                json_object_object_add(o, "profile", string_or_null(r->gen->profile));
                json_object_object_add(o, "generation",
                                       r->gen->profile ? json_object_new_uint64(r->gen->number) : NULL);
                json_object_object_add(o, "specialisation", string_or_null(r->specialisation));
                json_object_object_add(o, "label", json_object_new_string(r->v1->label));
                json_object_object_add(o, "toplevel", json_object_new_string(r->v1->toplevel));
                json_object_object_add(o, "bootspec", string_or_null(r->gen->source));
                json_object_object_add(o, "synthesized", json_object_new_boolean(r->gen->bootspec->synthesized));
                json_object_object_add(o, "kernel", json_object_new_string(r->entry.kernel));
                json_object_object_add(o, "initrd", string_or_null(r->entry.initrd));
                json_object_object_add(o, "initrdSecrets", string_or_null(r->v1->initrd_secrets));
                json_object_object_add(o, "cmdline", json_object_new_string(r->entry.cmdline));
                json_object_object_add(o, "osrel", json_object_new_string(r->entry.osrel));
                if (r->entry.unpredictable) {
                        json_object_object_add(o, "pcrs", NULL);
                        json_object_object_add(o, "unpredictable", json_object_new_string(r->entry.unpredictable));
                        continue;
                }
                json_object *pcrs = json_object_new_object();
                if (!pcrs)
                        goto oom;
                json_object_object_add(o, "pcrs", pcrs);
                for (size_t b = 0; b < a->n_banks; b++) {
                        char hex[2 * MEASURE_DIGEST_MAX + 1];
                        json_object *bank = json_object_new_object();
                        if (!bank)
                                goto oom;
                        json_object_object_add(pcrs, a->banks[b]->name, bank);
                        json_object_object_add(bank, "11", json_object_new_string(
                                measure_hex(r->entry.pcr11[b], a->banks[b]->size, hex)));
                }
        }
        const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                goto oom;
        puts(text);
        json_object_put(root);
        return 0;
oom:
        json_object_put(root);
        return -ENOMEM;
}

int predict_main(int argc, char **argv) {
        args a = {};
        predict_generation *gens = NULL;
        size_t n_gens = 0, n_res = 0;
        predict_file_cache *cache = NULL;
        result *res = NULL;
        int r, status = LANTERN_EXIT_INPUT;

        r = parse_argv(argc, argv, &a);
        if (r <= 0) {
                if (r == -ENOMEM)
                        cli_error("out of memory");
                status = r == 0 ? LANTERN_EXIT_OK : LANTERN_EXIT_INPUT;
                goto finish;
        }
        r = load_generations(&a, &gens, &n_gens);
        if (r < 0)
                goto finish;
        r = predict_file_cache_new(a.banks, a.n_banks, &cache);
        if (r < 0) {
                cli_error("cannot set up hashing: %s", strerror(-r));
                goto finish;
        }
        r = compute(&a, cache, gens, n_gens, &res, &n_res);
        if (r < 0)
                goto finish;
        if (a.json) {
                r = print_json(&a, res, n_res);
                if (r < 0) {
                        cli_error("out of memory");
                        goto finish;
                }
        } else
                print_text(&a, res, n_res);
        if (fflush(stdout) != 0) {
                cli_error("cannot write output: %s", strerror(errno));
                goto finish;
        }
        status = LANTERN_EXIT_OK;
finish:
        for (size_t i = 0; i < n_res; i++)
                predict_entry_done(&res[i].entry);
        free(res);
        predict_file_cache_free(cache);
        predict_generations_free(gens, n_gens);
        args_done(&a);
        return status;
}
