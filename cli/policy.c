/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern policy sign: a signed PCR 11 policy in systemd-measure's JSON format (the .pcrsig section, the
 * file systemd-cryptenroll --tpm2-public-key and systemd-creds accept), for a UKI or for a NixOS
 * generation predicted from its bootspec. For the same key and inputs the output is byte for byte what
 * `systemd-measure sign` (252) prints: per bank, per boot phase, the TPM2_PolicyPCR digest of PCR 11 in a
 * SHA-256 session, signed with the bank's digest. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cli.h"
#include "pcr.h"
#include "pe.h"
#include "policy.h"
#include "predict-filehash.h"
#include "predict-generation.h"
#include "predict-pcr11.h"
#include "uki.h"

#define MAX_PHASES 64
#define MAX_KEY_FILE (1u << 20)

typedef struct sign_args {
        const char *private_key;
        const char *public_key;
        const measure_alg *banks[PREDICT_MAX_BANKS];
        size_t n_banks;
        char *phases[MAX_PHASES];
        size_t n_phases;
        bool phases_given;
        const char *uki;
        unsigned long generation;
        bool have_generation;
        const char *specialisation;
        const char *profile;
        char *root;
} sign_args;

static void policy_usage(FILE *f) {
        fputs("Usage: lantern policy sign --private-key KEY [--public-key PUB] [--pcrs 11] [--bank B]...\n"
              "                           [--phase P]... (UKI | --generation N [--specialisation NAME]\n"
              "                           [--profile DIR] [--root DIR])\n"
              "\n"
              "  sign   print systemd-measure's signed PCR policy JSON for PCR 11 of a UKI, or of a NixOS\n"
              "         generation as `lantern predict` computes it (byte-identical to `systemd-measure sign`)\n"
              "\n"
              "Options:\n"
              "  --private-key KEY   PEM private key to sign with\n"
              "  --public-key PUB    PEM public key (default: derived from the private key)\n"
              "  --pcrs 11           the signed PCRs; systemd's format covers PCR 11 only\n"
              "  --bank B            banks, comma-separated or repeated (default sha1,sha256,sha384,sha512)\n"
              "  --phase P           boot phases (words separated by ':'); repeated; '' for none. Default:\n"
              "                      enter-initrd, enter-initrd:leave-initrd, ...:sysinit, ...:sysinit:ready\n"
              "  --generation N      a generation of --profile (default " PREDICT_DEFAULT_PROFILE ")\n"
              "  --specialisation S  that generation's specialisation S\n"
              "  --root DIR          resolve profile and store paths under DIR\n",
              f);
}

/* systemd-measure's phase normalisation: drop empty words, join with ':'. */
static char *normalize_phase(const char *s) {
        size_t len = strlen(s);
        char *out = malloc(len + 1), *o = out;
        if (!out)
                return NULL;
        for (const char *p = s; *p;) {
                const char *end = strchrnul(p, ':');
                if (end > p) {
                        if (o > out)
                                *o++ = ':';
                        memcpy(o, p, (size_t) (end - p));
                        o += end - p;
                }
                p = *end ? end + 1 : end;
        }
        *o = 0;
        return out;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int cmp_bank(const void *a, const void *b) {
        return strcasecmp((*(const measure_alg *const *) a)->name, (*(const measure_alg *const *) b)->name);
}

static int parse_sign_argv(int argc, char **argv, sign_args *a) {
        static const struct option options[] = {
                { "private-key", required_argument, NULL, 'k' },
                { "public-key", required_argument, NULL, 'K' },
                { "pcrs", required_argument, NULL, 'P' },
                { "bank", required_argument, NULL, 'b' },
                { "phase", required_argument, NULL, 'f' },
                { "generation", required_argument, NULL, 'g' },
                { "specialisation", required_argument, NULL, 's' },
                { "profile", required_argument, NULL, 'p' },
                { "root", required_argument, NULL, 'r' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        a->private_key = optarg;
                        break;
                case 'K':
                        a->public_key = optarg;
                        break;
                case 'P': {
                        uint32_t mask;
                        if (cli_parse_pcrs(optarg, &mask) < 0)
                                return -EINVAL;
                        if (mask != UINT32_C(1) << MEASURE_PCR_KERNEL_IMAGE) {
                                cli_error("--pcrs %s: signed policies cover PCR 11 only", optarg);
                                return -EINVAL;
                        }
                        break;
                }
                case 'b':
                        if (cli_append_banks(optarg, a->banks, PREDICT_MAX_BANKS, &a->n_banks) < 0)
                                return -EINVAL;
                        break;
                case 'f': {
                        if (a->n_phases == MAX_PHASES) {
                                cli_error("more than %d phases", MAX_PHASES);
                                return -EINVAL;
                        }
                        char *n = normalize_phase(optarg);
                        if (!n)
                                return -ENOMEM;
                        a->phases[a->n_phases++] = n;
                        a->phases_given = true;
                        break;
                }
                case 'g': {
                        char *end;
                        errno = 0;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || n == 0 || optarg[0] == '-') {
                                cli_error("--generation %s: not a generation number", optarg);
                                return -EINVAL;
                        }
                        a->generation = n;
                        a->have_generation = true;
                        break;
                }
                case 's':
                        a->specialisation = optarg;
                        break;
                case 'p':
                        a->profile = optarg;
                        break;
                case 'r':
                        if (cli_realpath_option("--root", optarg, &a->root) < 0)
                                return -EINVAL;
                        break;
                case 'h':
                        policy_usage(stdout);
                        return 0;
                default:
                        policy_usage(stderr);
                        return -EINVAL;
                }
        if (optind < argc)
                a->uki = argv[optind++];
        if (optind < argc) {
                cli_error("policy sign: unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        if (!a->private_key) {
                cli_error("policy sign: no private key, use --private-key");
                return -EINVAL;
        }
        if (!!a->uki == a->have_generation) {
                cli_error("policy sign: give either a UKI file or --generation N");
                return -EINVAL;
        }
        if (a->specialisation && !a->have_generation) {
                cli_error("policy sign: --specialisation needs --generation");
                return -EINVAL;
        }
        if (a->n_banks == 0) {
                static const char *const defaults[] = { "sha1", "sha256", "sha384", "sha512" };
                for (size_t i = 0; i < 4; i++)
                        a->banks[a->n_banks++] = measure_alg_by_name(defaults[i]);
        }
        qsort(a->banks, a->n_banks, sizeof(a->banks[0]), cmp_bank);
        if (!a->phases_given) {
                static const char *const defaults[] = {
                        "enter-initrd",
                        "enter-initrd:leave-initrd",
                        "enter-initrd:leave-initrd:sysinit",
                        "enter-initrd:leave-initrd:sysinit:ready",
                };
                for (size_t i = 0; i < 4; i++)
                        if (!(a->phases[a->n_phases++] = strdup(defaults[i])))
                                return -ENOMEM;
        } else {
                /* Given phases are sorted and made unique, as systemd-measure does. */
                size_t k = 0;
                qsort(a->phases, a->n_phases, sizeof(a->phases[0]), cmp_str);
                for (size_t i = 0; i < a->n_phases; i++) {
                        if (k > 0 && strcmp(a->phases[k - 1], a->phases[i]) == 0) {
                                free(a->phases[i]);
                                continue;
                        }
                        a->phases[k++] = a->phases[i];
                }
                a->n_phases = k;
        }
        if (a->root && strcmp(a->root, "/") == 0) {
                free(a->root);
                a->root = NULL;
        }
        return 1;
}

/* PCR 11 of a UKI file, as its stub measures it. */
static int uki_pcr11(const sign_args *a, uint8_t (*ret)[MEASURE_DIGEST_MAX]) {
        measure_pe *pe;
        measure_uki_plan plan;
        measure_pe_error err = {};
        cli_file file;
        int r;

        if (cli_load_pe_alloc(a->uki, &file, &pe) != 0)
                return -EINVAL;
        const uint8_t *data = file.data;
        size_t size = file.size;
        r = measure_uki_plan_build(pe, data, size, &err, &plan);
        if (r < 0)
                cli_error("%s: offset 0x%" PRIx64 ": %s", a->uki, err.offset, err.what);
        else if (plan.hardware_dependent) {
                cli_error("%s: has a .dtbauto section: PCR 11 depends on the hardware", a->uki);
                r = -EINVAL;
        } else {
                r = measure_uki_plan_fold(&plan, data, size, NULL, a->banks, a->n_banks, ret);
                if (r == -ENXIO)
                        cli_error("%s: a thin Lantern stub: it measures the ESP files it names; sign its generation "
                                  "with --generation instead", a->uki);
                else if (r < 0)
                        cli_error("%s: cannot compute PCR 11: %s", a->uki, strerror(-r));
        }
        cli_file_done(&file);
        free(pe);
        return r;
}

/* PCR 11 of a generation (or its specialisation) predicted from its bootspec. */
static int generation_pcr11(const sign_args *a, uint8_t (*ret)[MEASURE_DIGEST_MAX]) {
        predict_generation *gens = NULL;
        predict_file_cache *cache = NULL;
        predict_entry e = {};
        predict_error err = {};
        size_t n = 0;
        const char *profile = a->profile ? a->profile : PREDICT_DEFAULT_PROFILE;
        char *abs = NULL;
        int r;

        if (!a->root && profile[0] != '/') {
                abs = realpath(profile, NULL);
                if (!abs) {
                        cli_error("%s: %s", profile, strerror(errno));
                        return -errno;
                }
                profile = abs;
        }
        r = predict_profile_load(a->root, profile, &err, &gens, &n);
        free(abs);
        if (r < 0) {
                cli_error("%s", err.message);
                return r;
        }
        const predict_generation *g = NULL;
        for (size_t i = 0; i < n; i++)
                if (gens[i].number == a->generation)
                        g = &gens[i];
        const predict_bootspec_v1 *v = NULL;
        if (!g)
                cli_error("%s: no generation %lu", profile, a->generation);
        else if (!a->specialisation)
                v = &g->bootspec->v1;
        else {
                for (size_t s = 0; s < g->bootspec->n_specialisations; s++)
                        if (strcmp(g->bootspec->specialisations[s].name, a->specialisation) == 0)
                                v = &g->bootspec->specialisations[s].v1;
                if (!v)
                        cli_error("%s: generation %lu has no specialisation '%s'", profile, a->generation,
                                  a->specialisation);
        }
        r = -ENOENT;
        if (v) {
                r = predict_file_cache_new(a->banks, a->n_banks, &cache);
                if (r >= 0)
                        r = predict_entry_compute(a->root, cache, a->banks, a->n_banks, v, a->specialisation, g->number,
                                                  &err, &e);
                if (r < 0)
                        cli_error("generation %lu: %s", a->generation, r == -ENOMEM ? "out of memory" : err.message);
                else if (e.unpredictable) {
                        cli_error("generation %lu: PCR 11 not predictable: %s", a->generation, e.unpredictable);
                        r = -EINVAL;
                } else
                        memcpy(ret, e.pcr11, sizeof(e.pcr11[0]) * a->n_banks);
        }
        predict_entry_done(&e);
        predict_file_cache_free(cache);
        predict_generations_free(gens, n);
        return r;
}

static EVP_PKEY *load_key(const char *path, bool private) {
        FILE *f = fopen(path, "re");
        EVP_PKEY *k;
        if (!f) {
                cli_error("%s: %s", path, strerror(errno));
                return NULL;
        }
        k = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
        fclose(f);
        if (!k)
                cli_error("%s: not a PEM %s key", path, private ? "private" : "public");
        return k;
}

/* systemd's "pkfp": SHA-256 of the key's i2d_PublicKey() DER (for RSA the PKCS#1 RSAPublicKey). */
static int key_fingerprint(EVP_PKEY *pub, uint8_t ret[32]) {
        unsigned char *der = NULL;
        int len = i2d_PublicKey(pub, &der);
        if (len <= 0)
                return -EINVAL;
        int r = measure_hash(measure_alg_by_name("sha256"), der, (size_t) len, ret);
        OPENSSL_free(der);
        return r;
}

static int sign_digest(EVP_PKEY *key, const measure_alg *bank, const uint8_t *data, size_t len, uint8_t **ret,
                       size_t *ret_len) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const EVP_MD *md = EVP_get_digestbyname(bank->name);
        uint8_t *sig = NULL;
        size_t n = 0;
        int r = -EIO;

        if (!ctx || !md)
                goto finish;
        if (EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1 || EVP_DigestSignUpdate(ctx, data, len) != 1 ||
            EVP_DigestSignFinal(ctx, NULL, &n) != 1)
                goto finish;
        sig = malloc(n ? n : 1);
        if (!sig) {
                r = -ENOMEM;
                goto finish;
        }
        if (EVP_DigestSignFinal(ctx, sig, &n) != 1)
                goto finish;
        *ret = sig;
        *ret_len = n;
        sig = NULL;
        r = 0;
finish:
        free(sig);
        EVP_MD_CTX_free(ctx);
        return r;
}

static int sign_main(int argc, char **argv) {
        sign_args a = {};
        EVP_PKEY *priv = NULL, *pub = NULL;
        uint8_t pcr11[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX], fp[32];
        json_object *root = NULL;
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        int r, status = LANTERN_EXIT_INPUT;

        r = parse_sign_argv(argc, argv, &a);
        if (r <= 0) {
                if (r == -ENOMEM)
                        cli_error("out of memory");
                status = r == 0 ? LANTERN_EXIT_OK : LANTERN_EXIT_INPUT;
                goto finish;
        }
        priv = load_key(a.private_key, true);
        if (!priv)
                goto finish;
        if (a.public_key) {
                pub = load_key(a.public_key, false);
                if (!pub)
                        goto finish;
        } else {
                pub = priv;
                EVP_PKEY_up_ref(pub);
        }
        if (key_fingerprint(pub, fp) < 0) {
                cli_error("%s: cannot encode the public key", a.public_key ? a.public_key : a.private_key);
                goto finish;
        }
        r = a.uki ? uki_pcr11(&a, pcr11) : generation_pcr11(&a, pcr11);
        if (r < 0)
                goto finish;

        root = json_object_new_object();
        if (!root)
                goto oom;
        for (size_t p = 0; p < a.n_phases; p++)
                for (size_t b = 0; b < a.n_banks; b++) {
                        const measure_alg *bank = a.banks[b];
                        measure_bank pcrs;
                        uint8_t pcr_digest[MEASURE_DIGEST_MAX], policy[MEASURE_DIGEST_MAX] = {}, *sig = NULL;
                        size_t sig_len = 0;
                        char hex[2 * MEASURE_DIGEST_MAX + 1];

                        /* PCR 11 after the phase words, each extended as H(word), as systemd-pcrphase does. */
                        measure_bank_init(&pcrs, bank, 0);
                        memcpy(pcrs.pcr[MEASURE_PCR_KERNEL_IMAGE], pcr11[b], bank->size);
                        for (const char *w = a.phases[p]; *w;) {
                                const char *end = strchrnul(w, ':');
                                if (end > w && measure_bank_extend_data(&pcrs, MEASURE_PCR_KERNEL_IMAGE, w,
                                                                        (size_t) (end - w)) < 0)
                                        goto crypto;
                                w = *end ? end + 1 : end;
                        }
                        if (measure_policy_pcr_values_digest(sha256, pcrs.pcr[MEASURE_PCR_KERNEL_IMAGE], bank->size,
                                                             pcr_digest) < 0 ||
                            measure_policy_pcr(sha256, policy, bank->id, UINT32_C(1) << MEASURE_PCR_KERNEL_IMAGE,
                                               pcr_digest) < 0)
                                goto crypto;
                        if (sign_digest(priv, bank, policy, sha256->size, &sig, &sig_len) < 0) {
                                cli_error("%s: cannot sign with this key in bank %s", a.private_key, bank->name);
                                goto finish;
                        }
                        char *b64 = attest_base64_encode(sig, sig_len);
                        free(sig);
                        json_object *entry = json_object_new_object(), *pcrs_a = json_object_new_array();
                        if (!b64 || !entry || !pcrs_a) {
                                free(b64);
                                json_object_put(entry);
                                json_object_put(pcrs_a);
                                goto oom;
                        }
                        json_object_array_add(pcrs_a, json_object_new_int(MEASURE_PCR_KERNEL_IMAGE));
                        json_object_object_add(entry, "pcrs", pcrs_a);
                        json_object_object_add(entry, "pkfp", json_object_new_string(measure_hex(fp, 32, hex)));
                        json_object_object_add(entry, "pol", json_object_new_string(measure_hex(policy, 32, hex)));
                        json_object_object_add(entry, "sig", json_object_new_string(b64));
                        free(b64);
                        json_object *list = NULL;
                        if (!json_object_object_get_ex(root, bank->name, &list)) {
                                list = json_object_new_array();
                                if (!list) {
                                        json_object_put(entry);
                                        goto oom;
                                }
                                json_object_object_add(root, bank->name, list);
                        }
                        json_object_array_add(list, entry);
                }
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (fflush(stdout) != 0) {
                cli_error("cannot write output: %s", strerror(errno));
                goto finish;
        }
        status = LANTERN_EXIT_OK;
        goto finish;
crypto:
        cli_error("cannot compute the policy digest");
        goto finish;
oom:
        cli_error("out of memory");
finish:
        json_object_put(root);
        EVP_PKEY_free(pub);
        EVP_PKEY_free(priv);
        for (size_t i = 0; i < a.n_phases; i++)
                free(a.phases[i]);
        free(a.root);
        return status;
}

int policy_main(int argc, char **argv) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                policy_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        }
        if (strcmp(argv[1], "sign") == 0)
                return sign_main(argc - 1, argv + 1);
        cli_error("policy: unknown verb '%s'", argv[1]);
        policy_usage(stderr);
        return LANTERN_EXIT_INPUT;
}
