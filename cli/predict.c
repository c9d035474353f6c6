/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern predict: the PCR 11 value every NixOS generation (and specialisation) will measure when booted
 * through a stub with systemd-stub semantics, from its bootspec and the store files it names. */

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pcr.h"
#include "policy.h"
#include "predict-boot.h"
#include "predict-esp.h"
#include "predict-filehash.h"
#include "predict-firmware.h"
#include "predict-generation.h"
#include "predict-host.h"
#include "predict-pcr11.h"

/* The PCRs a prediction can cover. */
#define PREDICTABLE_PCRS ((UINT32_C(1) << 4) | (UINT32_C(1) << 7) | (UINT32_C(1) << 9) | (UINT32_C(1) << 11) | \
                          (UINT32_C(1) << 12))
#define FIRMWARE_PCRS (PREDICTABLE_PCRS & ~(UINT32_C(1) << 11))

typedef struct args {
        char **profiles;
        size_t n_profiles;
        char *root;
        const measure_alg *banks[PREDICT_MAX_BANKS];
        size_t n_banks;
        bool json;
        char **files;
        size_t n_files;
        const char *eventlog;
        char *esp;
        uint32_t pcrs;          /* PCRs printed */
        uint32_t policy_pcrs;   /* PCRs of the PolicyPCR digests, 0 for none */
        const measure_alg *policy_bank;
        char *cache_dir;        /* --cache, else the default; NULL with --no-cache */
        bool no_cache;
        unsigned threads;       /* 0: one per CPU */
        bool verbose;
} args;

/* What the whole run shares: the firmware part, the ESP's stubs and boot manager. */
typedef struct context {
        bool have_firmware;
        predict_firmware firmware;
        predict_esp_stub *stubs;
        size_t n_stubs;
        bool have_boot_manager;
        uint8_t boot_manager[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        unsigned sdboot_version;
} context;

/* One predicted boot entry: a generation, or one of its specialisations. */
typedef struct result {
        const predict_generation *gen;
        const predict_bootspec_v1 *v1;
        const char *specialisation;
        predict_entry entry;
        const predict_esp_stub *stub;    /* the entry's stub on the ESP, or NULL */
        predict_boot_pcrs boot;
        const char *unknown[MEASURE_PCR_COUNT]; /* why a PCR is not predicted, NULL when it is */
        bool have_policy;
        uint8_t policy[MEASURE_DIGEST_MAX];
} result;

static void help(FILE *f) {
        fprintf(f,
                "Usage: lantern predict [--profile DIR]... [--root DIR] [--esp DIR] [--eventlog FILE] [--pcrs LIST]\n"
                "                       [--policy-pcrs LIST] [--bank B] [--json] [BOOTSPEC...]\n\n"
                "Predicts the PCRs every generation and specialisation of NixOS system profiles will have when\n"
                "booted through systemd-boot and the Lantern stub: PCR 11 (systemd-stub semantics, no boot\n"
                "phase) from their boot.json (synthesised from the toplevel when missing) and the kernel and\n"
                "initrd files they name; PCR 4, 7, 9 and 12 from the firmware part of --eventlog and the stubs\n"
                "and boot manager installed on --esp.\n\n"
                "  --profile DIR  a profile path (default: " PREDICT_DEFAULT_PROFILE "\n"
                "                 and every profile in " PREDICT_SYSTEM_PROFILES_DIR "/)\n"
                "  --root DIR     resolve every absolute path (profiles, store paths, links) under DIR\n"
                "  --esp DIR      the ESP: a generation whose stub is in EFI/Linux/ is predicted from the files\n"
                "                 that stub names (its initrd with any secrets), and its stub's Authenticode hash\n"
                "  --eventlog F   an event log of this machine (firmware part for PCR 4 and 7, Secure Boot state)\n"
                "  --pcrs LIST    PCRs to print among 4,7,9,11,12 (default 11; 4,7,9,11,12 with --eventlog)\n"
                "  --policy-pcrs LIST  TPM2_PolicyPCR digest (sha256 session) of these PCRs per entry, and the\n"
                "                 PolicyOR tree over all entries\n"
                "  --policy-bank B  bank of the policy PCRs (default sha256)\n"
                "  --bank B       banks, comma-separated or repeated (default sha256)\n"
                "  --json         JSON output\n"
                "  --cache DIR    digest cache directory (default $XDG_CACHE_HOME/lantern, else ~/.cache/lantern):\n"
                "                 files hashed by an earlier run (same device, inode, size, mtime, ctime and path)\n"
                "                 are not read again\n"
                "  --no-cache     neither read nor write the digest cache\n"
                "  --threads N    hash up to N files at once (default: one thread per CPU)\n"
                "  --verbose      say on stderr how many files were read and how many came from the cache\n"
                "  BOOTSPEC       a boot.json file on this machine to predict (paths in it resolve under --root)\n\n"
                "Generations with initrdSecrets are listed as not predictable unless their stub is on --esp:\n"
                "their initrd is changed at install time.\n");
}

static void args_done(args *a) {
        free(a->profiles);
        free(a->files);
        free(a->root);
        free(a->esp);
        free(a->cache_dir);
}

static int parse_argv(int argc, char **argv, args *a) {
        static const struct option options[] = {
                { "profile", required_argument, NULL, 'p' },
                { "root", required_argument, NULL, 'r' },
                { "bank", required_argument, NULL, 'b' },
                { "json", no_argument, NULL, 'j' },
                { "eventlog", required_argument, NULL, 'e' },
                { "esp", required_argument, NULL, 'E' },
                { "pcrs", required_argument, NULL, 'P' },
                { "policy-pcrs", required_argument, NULL, 'O' },
                { "policy-bank", required_argument, NULL, 'B' },
                { "cache", required_argument, NULL, 'C' },
                { "no-cache", no_argument, NULL, 'N' },
                { "threads", required_argument, NULL, 'T' },
                { "verbose", no_argument, NULL, 'v' },
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
                case 'r':
                        if (cli_realpath_option("--root", optarg, &a->root) < 0)
                                return -EINVAL;
                        break;
                case 'b':
                        if (cli_append_banks(optarg, a->banks, PREDICT_MAX_BANKS, &a->n_banks) < 0)
                                return -EINVAL;
                        break;
                case 'j':
                        a->json = true;
                        break;
                case 'e':
                        a->eventlog = optarg;
                        break;
                case 'E':
                        if (cli_realpath_option("--esp", optarg, &a->esp) < 0)
                                return -EINVAL;
                        break;
                case 'P':
                case 'O': {
                        uint32_t mask;
                        if (cli_parse_pcrs(optarg, &mask) < 0)
                                return -EINVAL;
                        if (mask & ~PREDICTABLE_PCRS) {
                                cli_error("--%s %s: only PCRs 4, 7, 9, 11 and 12 are predicted", c == 'P' ? "pcrs" :
                                          "policy-pcrs", optarg);
                                return -EINVAL;
                        }
                        if (c == 'P')
                                a->pcrs = mask;
                        else
                                a->policy_pcrs = mask;
                        break;
                }
                case 'B':
                        a->policy_bank = measure_alg_by_name(optarg);
                        if (!a->policy_bank) {
                                cli_error("--policy-bank %s: unknown bank", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'C':
                        free(a->cache_dir);
                        a->cache_dir = cli_absolute_path(optarg);
                        if (!a->cache_dir)
                                return -ENOMEM;
                        break;
                case 'N':
                        a->no_cache = true;
                        break;
                case 'T': {
                        char *end;
                        errno = 0;
                        unsigned long t = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || t == 0 || t > PREDICT_MAX_THREADS) {
                                cli_error("--threads %s: a number from 1 to %d", optarg, PREDICT_MAX_THREADS);
                                return -EINVAL;
                        }
                        a->threads = (unsigned) t;
                        break;
                }
                case 'v':
                        a->verbose = true;
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
        if (!a->pcrs)
                a->pcrs = a->eventlog ? PREDICTABLE_PCRS : UINT32_C(1) << MEASURE_PCR_KERNEL_IMAGE;
        if (((a->pcrs | a->policy_pcrs) & FIRMWARE_PCRS) && !a->eventlog) {
                cli_error("PCRs 4, 7, 9 and 12 need --eventlog (the firmware part and Secure Boot state)");
                return -EINVAL;
        }
        if (a->policy_pcrs) {
                bool have = false;
                if (!a->policy_bank)
                        a->policy_bank = measure_alg_by_name("sha256");
                for (size_t j = 0; j < a->n_banks; j++)
                        have |= a->banks[j] == a->policy_bank;
                if (!have) {
                        if (a->n_banks == PREDICT_MAX_BANKS) {
                                cli_error("too many banks");
                                return -EINVAL;
                        }
                        a->banks[a->n_banks++] = a->policy_bank;
                }
        }
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
                char *abs = a->root ? strdup(profile) : cli_absolute_path(profile);
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

/* The bank's position in a->banks. */
static size_t bank_index(const args *a, const measure_alg *alg) {
        for (size_t b = 0; b < a->n_banks; b++)
                if (a->banks[b] == alg)
                        return b;
        return 0;
}

static const uint8_t *pcr_value(const result *r, unsigned pcr, size_t b) {
        switch (pcr) {
        case 4: return r->boot.pcr4[b];
        case 7: return r->boot.pcr7[b];
        case 9: return r->boot.pcr9[b];
        case 11: return r->entry.pcr11[b];
        case 12: return r->boot.pcr12[b];
        }
        return NULL;
}

/* PCR 11 from the ESP stub, PCR 4/7/9/12 from the firmware part, and the policy digest, for one entry. */
static int complete(const args *a, const context *ctx, predict_file_cache *cache, result *r) {
        predict_error err = {};
        int k;

        for (size_t i = 0; i < ctx->n_stubs; i++)
                if (strcmp(ctx->stubs[i].cmdline, r->entry.cmdline) == 0 &&
                    strcmp(ctx->stubs[i].osrel, r->entry.osrel) == 0) {
                        r->stub = &ctx->stubs[i];
                        break;
                }
        if (r->stub) {
                /* What boots is what the stub names on the ESP. */
                memcpy(r->entry.pcr11, r->stub->pcr11, sizeof(r->entry.pcr11));
                r->entry.unpredictable = NULL;
        }
        r->unknown[11] = r->entry.unpredictable;

        if (ctx->have_firmware) {
                uint8_t store_initrd[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
                const uint8_t (*initrd)[MEASURE_DIGEST_MAX] = NULL;
                const char *initrd_unknown = NULL;
                if (r->stub)
                        initrd = r->stub->has_initrd ? (const uint8_t (*)[MEASURE_DIGEST_MAX]) r->stub->initrd : NULL;
                else if (r->v1->initrd_secrets)
                        initrd_unknown = r->entry.unpredictable;
                else if (r->entry.initrd) {
                        const predict_file_digest *d;
                        char *host = predict_host_path(a->root, r->entry.initrd);
                        if (!host)
                                return -ENOMEM;
                        k = predict_file_cache_get(cache, host, &err, &d);
                        free(host);
                        if (k < 0) {
                                cli_error("%s", err.message);
                                return k;
                        }
                        memcpy(store_initrd, d->digest, sizeof(store_initrd));
                        initrd = (const uint8_t (*)[MEASURE_DIGEST_MAX]) store_initrd;
                }
                predict_boot_inputs in = {
                        .firmware = &ctx->firmware,
                        .sdboot_version = ctx->sdboot_version,
                        .boot_manager = ctx->have_boot_manager ? (const uint8_t (*)[MEASURE_DIGEST_MAX]) ctx->boot_manager
                                                               : NULL,
                        .stub = r->stub ? (const uint8_t (*)[MEASURE_DIGEST_MAX]) r->stub->authenticode : NULL,
                        .kernel = r->stub && r->stub->kernel_is_pe
                                          ? (const uint8_t (*)[MEASURE_DIGEST_MAX]) r->stub->kernel_authenticode
                                          : NULL,
                        .initrd = initrd,
                        .cmdline = r->entry.cmdline,
                        .cmdline_size = strlen(r->entry.cmdline),
                };
                k = predict_boot_compute(&in, a->banks, a->n_banks, &r->boot);
                if (k < 0) {
                        cli_error("cannot compute PCRs 4, 7, 9, 12: %s", strerror(-k));
                        return k;
                }
                r->unknown[4] = r->boot.pcr4_unknown;
                r->unknown[9] = initrd_unknown;
        }

        if (a->policy_pcrs) {
                const measure_alg *sha256 = measure_alg_by_name("sha256");
                size_t b = bank_index(a, a->policy_bank), n = 0;
                uint8_t values[MEASURE_PCR_COUNT * MEASURE_DIGEST_MAX], digest[MEASURE_DIGEST_MAX];
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++) {
                        if (!(a->policy_pcrs & (UINT32_C(1) << pcr)))
                                continue;
                        if (r->unknown[pcr])
                                return 0;
                        memcpy(values + n, pcr_value(r, pcr, b), a->policy_bank->size);
                        n += a->policy_bank->size;
                }
                memset(r->policy, 0, sizeof(r->policy));
                k = measure_policy_pcr_values_digest(sha256, values, n, digest);
                if (k >= 0)
                        k = measure_policy_pcr(sha256, r->policy, a->policy_bank->id, a->policy_pcrs, digest);
                if (k < 0) {
                        cli_error("cannot compute the policy digest: %s", strerror(-k));
                        return k;
                }
                r->have_policy = true;
        }
        return 0;
}

static int compute(const args *a, const context *ctx, predict_file_cache *cache, predict_generation *gens,
                   size_t n_gens, result **ret, size_t *ret_n) {
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
                        k = complete(a, ctx, cache, r);
                        if (k < 0) {
                                for (size_t j = 0; j < n; j++)
                                        predict_entry_done(&res[j].entry);
                                free(res);
                                return k;
                        }
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
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                        if ((a->pcrs & (UINT32_C(1) << pcr)) && res[i].unknown[pcr])
                                printf("# PCR %u not predictable: %s\n", pcr, res[i].unknown[pcr]);
                for (size_t b = 0; b < a->n_banks; b++)
                        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                                if ((a->pcrs & (UINT32_C(1) << pcr)) && !res[i].unknown[pcr])
                                        cli_print_pcr(stdout, a->banks[b], pcr, pcr_value(&res[i], pcr, b));
                if (res[i].have_policy) {
                        char hex[2 * MEASURE_DIGEST_MAX + 1];
                        printf("policy sha256 %s\n", measure_hex(res[i].policy, 32, hex));
                }
        }
}

static json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

/* The PolicyOR tree over every entry with a policy digest, in output order: {"sha256": root, "levels":
 * [[leaves], [groups of 8], ..., [root]]}; NULL when no entry has one. */
static int policy_tree_build(const result *res, size_t n, measure_policy_tree **ret) {
        size_t k = 0;
        uint8_t (*leaves)[MEASURE_DIGEST_MAX] = calloc(n ? n : 1, sizeof(*leaves));
        int r;
        if (!leaves)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (res[i].have_policy)
                        memcpy(leaves[k++], res[i].policy, sizeof(leaves[0]));
        *ret = NULL;
        r = k ? measure_policy_tree_build(measure_alg_by_name("sha256"), (const uint8_t (*)[MEASURE_DIGEST_MAX]) leaves,
                                          k, ret)
              : 0;
        free(leaves);
        return r;
}

static int policy_tree_json(const result *res, size_t n, json_object **ret) {
        measure_policy_tree *t = NULL;
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        int r = policy_tree_build(res, n, &t);
        if (r < 0 || !t) {
                *ret = NULL;
                return r;
        }
        json_object *o = json_object_new_object(), *levels = json_object_new_array();
        if (!o || !levels) {
                json_object_put(o);
                json_object_put(levels);
                measure_policy_tree_free(t);
                return -ENOMEM;
        }
        json_object_object_add(o, "sha256", json_object_new_string(measure_hex(measure_policy_tree_root(t), 32, hex)));
        json_object_object_add(o, "levels", levels);
        for (size_t l = 0; l < t->n_levels; l++) {
                json_object *level = json_object_new_array();
                if (!level)
                        break;
                json_object_array_add(levels, level);
                for (size_t i = 0; i < t->n[l]; i++)
                        json_object_array_add(level, json_object_new_string(measure_hex(t->level[l][i], 32, hex)));
        }
        measure_policy_tree_free(t);
        *ret = o;
        return 0;
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
                const char *kernel = r->stub && r->stub->kernel_path ? r->stub->kernel_path : r->entry.kernel;
                const char *initrd = r->stub && r->stub->initrd_path ? r->stub->initrd_path : r->entry.initrd;
                json_object_object_add(o, "kernel", json_object_new_string(kernel));
                json_object_object_add(o, "initrd", string_or_null(initrd));
                json_object_object_add(o, "initrdSecrets", string_or_null(r->v1->initrd_secrets));
                json_object_object_add(o, "stub", string_or_null(r->stub ? r->stub->path : NULL));
                json_object_object_add(o, "cmdline", json_object_new_string(r->entry.cmdline));
                json_object_object_add(o, "osrel", json_object_new_string(r->entry.osrel));
                bool any = false;
                json_object *unknown = NULL;
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++) {
                        if (!(a->pcrs & (UINT32_C(1) << pcr)))
                                continue;
                        if (!r->unknown[pcr]) {
                                any = true;
                                continue;
                        }
                        char key[4];
                        snprintf(key, sizeof(key), "%u", pcr);
                        if (!unknown && !(unknown = json_object_new_object()))
                                goto oom;
                        json_object_object_add(unknown, key, json_object_new_string(r->unknown[pcr]));
                }
                json_object_object_add(o, "unpredictable", string_or_null(r->unknown[11]));
                if (unknown)
                        json_object_object_add(o, "unpredictablePcrs", unknown);
                if (!any) {
                        json_object_object_add(o, "pcrs", NULL);
                        continue;
                }
                json_object *pcrs = json_object_new_object();
                if (!pcrs)
                        goto oom;
                json_object_object_add(o, "pcrs", pcrs);
                for (size_t b = 0; b < a->n_banks; b++) {
                        char hex[2 * MEASURE_DIGEST_MAX + 1], key[4];
                        json_object *bank = json_object_new_object();
                        if (!bank)
                                goto oom;
                        json_object_object_add(pcrs, a->banks[b]->name, bank);
                        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                                if ((a->pcrs & (UINT32_C(1) << pcr)) && !r->unknown[pcr]) {
                                        snprintf(key, sizeof(key), "%u", pcr);
                                        json_object_object_add(bank, key, json_object_new_string(measure_hex(
                                                pcr_value(r, pcr, b), a->banks[b]->size, hex)));
                                }
                }
                if (a->policy_pcrs) {
                        json_object *pol = json_object_new_object(), *list_pcrs = json_object_new_array();
                        char hex[2 * MEASURE_DIGEST_MAX + 1];
                        if (!pol || !list_pcrs) {
                                json_object_put(pol);
                                json_object_put(list_pcrs);
                                goto oom;
                        }
                        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                                if (a->policy_pcrs & (UINT32_C(1) << pcr))
                                        json_object_array_add(list_pcrs, json_object_new_int((int) pcr));
                        json_object_object_add(pol, "pcrs", list_pcrs);
                        json_object_object_add(pol, "bank", json_object_new_string(a->policy_bank->name));
                        json_object_object_add(pol, "sha256", r->have_policy ? json_object_new_string(
                                measure_hex(r->policy, 32, hex)) : NULL);
                        json_object_object_add(o, "policy", pol);
                }
        }
        if (a->policy_pcrs) {
                json_object *tree = NULL;
                int k = policy_tree_json(res, n, &tree);
                if (k < 0)
                        goto oom;
                json_object_object_add(root, "policyOr", tree);
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

/* The on-disk digest cache, unless --no-cache. A cache that cannot be opened is not an error: every file is
 * then read. */
static predict_digest_cache *disk_cache_open(args *a) {
        predict_digest_cache *disk = NULL;
        int r;
        if (a->no_cache)
                return NULL;
        if (!a->cache_dir) {
                r = predict_digest_cache_default_dir(&a->cache_dir);
                if (r < 0)
                        return NULL;
        }
        r = predict_digest_cache_open(a->cache_dir, &disk);
        if (r < 0) {
                fprintf(stderr, "lantern: digest cache %s: %s, ignoring\n", a->cache_dir, strerror(-r));
                return NULL;
        }
        return disk;
}

typedef struct progress_bar {
        bool enabled, shown;
} progress_bar;

/* A progress bar on stderr, only when it is a terminal and once the hashing has taken a second. */
static void progress_show(uint64_t done, uint64_t total, uint64_t elapsed_ns, void *userdata) {
        progress_bar *bar = userdata;
        char cells[31];
        if (!bar->enabled)
                return;
        if (done >= total) {
                if (bar->shown)
                        fputs("\r\033[K", stderr);
                bar->shown = false;
                return;
        }
        if (elapsed_ns < UINT64_C(1000000000))
                return;
        size_t fill = (size_t) (done * 30 / (total ? total : 1));
        memset(cells, '#', fill);
        memset(cells + fill, '.', 30 - fill);
        cells[30] = 0;
        fprintf(stderr, "\rlantern: hashing [%s] %3u%% %ju/%ju MiB", cells, (unsigned) (done * 100 / total),
                (uintmax_t) (done >> 20), (uintmax_t) (total >> 20));
        fflush(stderr);
        bar->shown = true;
}

/* --threads, else one per CPU (at most 16). */
static unsigned thread_count(const args *a) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        return a->threads ? a->threads : cpus > 0 ? (unsigned) (cpus < 16 ? cpus : 16) : 1;
}

/* Reads every file the entries measure at once, on several threads, before the entries are computed in order. */
static int prefetch(const args *a, predict_file_cache *cache, const predict_generation *gens, size_t n_gens) {
        char **paths = NULL;
        size_t n = 0, allocated = 0;
        progress_bar bar = { .enabled = isatty(STDERR_FILENO) };
        unsigned threads = thread_count(a);
        int r = 0;

        for (size_t i = 0; i < n_gens && r >= 0; i++) {
                const predict_bootspec *b = gens[i].bootspec;
                for (size_t s = 0; s <= b->n_specialisations && r >= 0; s++) {
                        const predict_bootspec_v1 *v = s == 0 ? &b->v1 : &b->specialisations[s - 1].v1;
                        if (n + 2 > allocated) {
                                size_t na = allocated ? allocated * 2 : 64;
                                char **np = realloc(paths, na * sizeof(*np));
                                if (!np) {
                                        r = -ENOMEM;
                                        break;
                                }
                                paths = np;
                                allocated = na;
                        }
                        size_t k = 0;
                        r = predict_entry_files(a->root, v, paths + n, &k);
                        n += r >= 0 ? k : 0;
                }
        }
        if (r >= 0)
                r = predict_file_cache_prefetch(cache, paths, n, threads, progress_show, &bar);
        for (size_t i = 0; i < n; i++)
                free(paths[i]);
        free(paths);
        if (r < 0)
                cli_error("cannot hash the generations' files: %s", strerror(-r));
        return r;
}

/* Reads --eventlog and --esp. */
static int context_load(const args *a, predict_file_cache *cache, context *ctx) {
        predict_error err = {};
        int r;

        if (a->eventlog) {
                uint8_t *log = NULL;
                size_t size = 0;
                r = cli_read_file(a->eventlog, CLI_MAX_EVENTLOG, &log, &size);
                if (r < 0)
                        return r;
                r = predict_firmware_from_log(log, size, a->eventlog, a->banks, a->n_banks, &err, &ctx->firmware);
                free(log);
                if (r < 0) {
                        cli_error("%s", err.message);
                        return r;
                }
                ctx->have_firmware = true;
        }
        if (a->esp) {
                r = predict_esp_load(a->esp, a->banks, a->n_banks, cache, thread_count(a), &err, &ctx->stubs,
                                     &ctx->n_stubs);
                if (r < 0) {
                        cli_error("%s", r == -ENOMEM ? "out of memory" : err.message);
                        return r;
                }
                if (ctx->have_firmware && ctx->firmware.boot_manager_path[0]) {
                        r = predict_esp_boot_manager(a->esp, ctx->firmware.boot_manager_path, a->banks, a->n_banks, &err,
                                                     ctx->boot_manager, &ctx->sdboot_version);
                        if (r == -ENOENT)
                                fprintf(stderr, "lantern: %s%s is not on the ESP: using the boot manager digest in "
                                        "the event log\n", a->esp, ctx->firmware.boot_manager_path);
                        else if (r < 0) {
                                cli_error("%s", err.message);
                                return r;
                        } else
                                ctx->have_boot_manager = true;
                }
        }
        return 0;
}

int predict_main(int argc, char **argv) {
        args a = {};
        predict_generation *gens = NULL;
        size_t n_gens = 0, n_res = 0;
        predict_file_cache *cache = NULL;
        predict_digest_cache *disk = NULL;
        result *res = NULL;
        context ctx = {};
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
        /* The stubs on --esp name their files by SHA-256: hash in it too, so those files are read once. */
        const measure_alg *hash_banks[PREDICT_MAX_BANKS];
        size_t n_hash_banks = a.n_banks;
        bool have_sha256 = false;
        memcpy(hash_banks, a.banks, a.n_banks * sizeof(a.banks[0]));
        for (size_t b = 0; b < a.n_banks; b++)
                have_sha256 |= a.banks[b] == measure_alg_by_name("sha256");
        if (a.esp && !have_sha256 && n_hash_banks < PREDICT_MAX_BANKS)
                hash_banks[n_hash_banks++] = measure_alg_by_name("sha256");
        r = predict_file_cache_new(hash_banks, n_hash_banks, &cache);
        if (r < 0) {
                cli_error("cannot set up hashing: %s", strerror(-r));
                goto finish;
        }
        disk = disk_cache_open(&a);
        predict_file_cache_set_disk(cache, disk);
        r = prefetch(&a, cache, gens, n_gens);
        if (r < 0)
                goto finish;
        r = context_load(&a, cache, &ctx);
        if (r < 0)
                goto finish;
        r = compute(&a, &ctx, cache, gens, n_gens, &res, &n_res);
        if (r < 0)
                goto finish;
        predict_file_stats stats;
        predict_file_cache_stats(cache, &stats);
        if (a.verbose)
                fprintf(stderr, "lantern: digests: %zu files read (%ju bytes), %zu from the cache%s%s%s, %zu cached\n",
                        stats.files_read, (uintmax_t) stats.bytes_read, stats.files_cached, disk ? " (" : "",
                        disk ? a.cache_dir : "", disk ? ")" : "", stats.files_stored);
        if (disk && stats.files_stored > 0)
                (void) predict_digest_cache_prune(disk, PREDICT_DIGEST_CACHE_MAX_ENTRIES);
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
        predict_digest_cache_free(disk);
        predict_generations_free(gens, n_gens);
        predict_esp_stubs_free(ctx.stubs, ctx.n_stubs);
        args_done(&a);
        return status;
}
