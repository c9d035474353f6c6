/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern luks: LUKS2 keyslots whose passphrase is sealed to TPM PCR values (the TPM's current values or
 * predicted ones), stored as systemd-cryptenroll 252's "systemd-tpm2" tokens, or, sealed to several predicted
 * value sets at once through a PolicyOR tree, as "lantern-tpm2" tokens; unlocking them (ours and systemd's). */

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "luks.h"
#include "seal.h"
#include "tpm.h"

#define MAX_VALUES_FILE (1u << 20)
#define DEFAULT_SIGNED_PCRS (UINT32_C(1) << 11)
#define DEFAULT_PCRS (UINT32_C(1) << 7)

static void luks_usage(FILE *f) {
        fputs("Usage: lantern luks enroll [--tcti CONF] [--pcrs LIST] [--bank B] [--pcr-values FILE]\n"
              "                           [--public-key PEM [--public-key-pcrs LIST]] [--with-pin]\n"
              "                           [--key-file FILE] [--wipe-tpm2] [--json] IMAGE|DEVICE\n"
              "       lantern luks unlock [--tcti CONF] [--test | --name NAME] [--token N] [--signature FILE]\n"
              "                           IMAGE|DEVICE\n"
              "       lantern luks unseal [--tcti CONF] [--token N] [--signature FILE] IMAGE|DEVICE\n"
              "       lantern luks list [--json] IMAGE|DEVICE\n"
              "\n"
              "  enroll  add a keyslot with a random passphrase sealed to the TPM, and a systemd-tpm2 token\n"
              "          (systemd-cryptenroll 252's format) holding the sealed blob; sealed to several value sets\n"
              "          (a PolicyOR), a lantern-tpm2 token, which only lantern unlocks. The volume is opened\n"
              "          with the passphrase in $PASSWORD or the contents of --key-file\n"
              "  unlock  unseal a systemd-tpm2 or lantern-tpm2 token's passphrase (each token in turn, or\n"
              "          --token N) and activate the volume as /dev/mapper/NAME, or with --test only check it\n"
              "  unseal  print the passphrase a token unseals to (no newline), e.g. for\n"
              "          cryptsetup --key-file -\n"
              "  list    the volume's tokens\n"
              "\n"
              "Options:\n"
              "  --tcti CONF          TPM to use (default: $TPM2TOOLS_TCTI, else the tctildr default)\n"
              "  --pcrs LIST          PCRs of the PolicyPCR (default 7, none with --public-key); '' for none\n"
              "  --bank B             their bank (default: sha256 with --pcr-values, else chosen as systemd does)\n"
              "  --pcr-values FILE    seal to these values instead of the TPM's current ones: lines\n"
              "                       '<bank> <pcr> <hex>' as `lantern predict` and `lantern pcr read` print\n"
              "                       them, one value per selected PCR ('-': stdin). A '#' line after values\n"
              "                       starts another value set (each generation `lantern predict` prints).\n"
              "                       Repeatable. Several value sets (at most 64): any of them unseals\n"
              "                       (TPM2_PolicyOR), in a lantern-tpm2 token\n"
              "  --public-key PEM     RSA key whose signed PCR policies (systemd-measure's .pcrsig JSON)\n"
              "                       authorize the unsealing (TPM2_PolicyAuthorize)\n"
              "  --public-key-pcrs L  PCRs of the signed policies (default 11)\n"
              "  --with-pin           also require a PIN (TPM2_PolicyAuthValue), read from $NEWPIN;\n"
              "                       unlocking reads it from $PIN\n"
              "  --key-file FILE      existing passphrase for enroll (default: $PASSWORD)\n"
              "  --wipe-tpm2          enroll: then remove every other systemd-tpm2/lantern-tpm2 token and its\n"
              "                       keyslots (re-sealing after an update; never the keyslot the passphrase\n"
              "                       opened)\n"
              "  --test               unlock: only check that the unsealed passphrase opens the keyslot\n"
              "  --name NAME          unlock: the device-mapper name to activate\n"
              "  --token N            use only token N\n"
              "  --signature FILE     signed PCR policy JSON (default: /run/systemd/tpm2-pcr-signature.json,\n"
              "                       else /.extra/tpm2-pcr-signature.json)\n"
              "  --json               JSON output\n"
              "\n"
              "Exit status: 0 success; 1 the TPM refused (PCRs differ from the sealed ones, wrong PIN, another\n"
              "TPM) or the passphrase opens nothing; 2 bad input or usage.\n",
              f);
}

typedef struct luks_args {
        const char *tcti;
        uint32_t pcrs;
        bool pcrs_given;
        const measure_alg *bank;
        const char *values[ATTEST_LUKS_BRANCHES_MAX];
        size_t n_values;
        const char *public_key;
        uint32_t public_key_pcrs;
        bool public_key_pcrs_given;
        bool with_pin;
        const char *key_file;
        bool wipe_tpm2;
        bool test;
        const char *name;
        int token;
        const char *signature;
        bool json;
        const char *device;
} luks_args;

static int parse_argv(const char *verb, int argc, char **argv, luks_args *ret) {
        static const struct option options[] = {
                { "tcti", required_argument, NULL, 'T' },
                { "pcrs", required_argument, NULL, 'p' },
                { "bank", required_argument, NULL, 'b' },
                { "pcr-values", required_argument, NULL, 'v' },
                { "public-key", required_argument, NULL, 'k' },
                { "public-key-pcrs", required_argument, NULL, 'K' },
                { "with-pin", no_argument, NULL, 'P' },
                { "key-file", required_argument, NULL, 'f' },
                { "wipe-tpm2", no_argument, NULL, 'W' },
                { "test", no_argument, NULL, 't' },
                { "name", required_argument, NULL, 'n' },
                { "token", required_argument, NULL, 'o' },
                { "signature", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        luks_args a = { .token = -1 };
        const measure_alg *banks[1];
        size_t n;
        char *end;
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'T':
                        a.tcti = optarg;
                        break;
                case 'p':
                        a.pcrs_given = true;
                        if (*optarg && cli_parse_pcrs(optarg, &a.pcrs) < 0)
                                return -EINVAL;
                        break;
                case 'b':
                        if (cli_parse_banks(optarg, banks, 1, &n) < 0) {
                                cli_error("luks %s: --bank takes one of sha1, sha256, sha384, sha512", verb);
                                return -EINVAL;
                        }
                        a.bank = banks[0];
                        if (a.bank->id == MEASURE_ALG_SM3_256) {
                                cli_error("luks %s: systemd-tpm2 tokens have no sm3_256 bank", verb);
                                return -EINVAL;
                        }
                        break;
                case 'v':
                        if (a.n_values >= ATTEST_LUKS_BRANCHES_MAX) {
                                cli_error("luks %s: more than %d --pcr-values files", verb, ATTEST_LUKS_BRANCHES_MAX);
                                return -EINVAL;
                        }
                        a.values[a.n_values++] = optarg;
                        break;
                case 'k':
                        a.public_key = optarg;
                        break;
                case 'K':
                        a.public_key_pcrs_given = true;
                        if (cli_parse_pcrs(optarg, &a.public_key_pcrs) < 0)
                                return -EINVAL;
                        break;
                case 'P':
                        a.with_pin = true;
                        break;
                case 'f':
                        a.key_file = optarg;
                        break;
                case 'W':
                        a.wipe_tpm2 = true;
                        break;
                case 't':
                        a.test = true;
                        break;
                case 'n':
                        a.name = optarg;
                        break;
                case 'o':
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 0 || v >= ATTEST_LUKS_MAX_TOKENS) {
                                cli_error("luks %s: invalid token number '%s' (0-%d)", verb, optarg,
                                          ATTEST_LUKS_MAX_TOKENS - 1);
                                return -EINVAL;
                        }
                        a.token = (int) v;
                        break;
                case 's':
                        a.signature = optarg;
                        break;
                case 'j':
                        a.json = true;
                        break;
                case 'h':
                        luks_usage(stdout);
                        return 0;
                default:
                        cli_error("luks %s: unknown or incomplete option '%s'", verb, argv[optind - 1]);
                        return -EINVAL;
                }
        if (optind >= argc) {
                cli_error("luks %s: missing IMAGE|DEVICE", verb);
                return -EINVAL;
        }
        a.device = argv[optind++];
        if (optind < argc) {
                cli_error("luks %s: unexpected argument '%s'", verb, argv[optind]);
                return -EINVAL;
        }
        if (a.wipe_tpm2 && strcmp(verb, "enroll") != 0) {
                cli_error("luks %s: --wipe-tpm2 is an option of enroll", verb);
                return -EINVAL;
        }
        *ret = a;
        return 1;
}

/* Value sets read from --pcr-values files: each the values of the PCRs in mask of bank. */
typedef struct value_sets {
        const measure_alg *bank;
        uint32_t mask;
        uint8_t (*sets)[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX]; /* ATTEST_LUKS_BRANCHES_MAX of them */
        size_t n;
} value_sets;

/* Ends the value set of lines first..: complete, or an error naming the first PCR it lacks. */
static int end_set(const char *path, value_sets *v, uint32_t seen, size_t first, bool only) {
        if (seen != v->mask) {
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                        if ((v->mask & ~seen) & (UINT32_C(1) << pcr)) {
                                if (only)
                                        cli_error("%s: no %s value for PCR %u", path, v->bank->name, pcr);
                                else
                                        cli_error("%s:%zu: no %s value for PCR %u in the value set starting here "
                                                  "(value sets are separated by '#' lines)", path, first,
                                                  v->bank->name, pcr);
                                break;
                        }
                return -EINVAL;
        }
        v->n++;
        return 0;
}

/* Reads "<bank> <pcr> <hex>" lines into value sets, the values of the PCRs in v->mask of bank v->bank. Lines
 * of other banks and PCRs, '#' comments and `lantern predict`'s "policy ..." lines are skipped; a '#' line
 * after value lines (of any bank) ends a value set, as each generation `lantern predict` prints starts with
 * one. */
static int read_values(const char *path, value_sets *v) {
        uint8_t *text;
        size_t size, line = 0, first = 0, n_in_file = 0;
        uint32_t seen = 0;
        bool in_set = false;
        int r;

        r = cli_read_file(strcmp(path, "-") == 0 ? "/dev/stdin" : path, MAX_VALUES_FILE, &text, &size);
        if (r < 0)
                return r;
        if (memchr(text, '\0', size)) {
                cli_error("%s: binary data (a NUL byte at offset %zu), expected text lines '<bank> <pcr> <hex>'",
                          path, (size_t) ((uint8_t *) memchr(text, '\0', size) - text));
                free(text);
                return -EINVAL;
        }
        r = 0;
        for (char *save = NULL, *l = strtok_r((char *) text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char bank[32], hex[2 * MEASURE_DIGEST_MAX + 2], extra;
                unsigned pcr;
                line++;
                while (*l == ' ' || *l == '\t')
                        l++;
                if (*l == '#' && in_set) {
                        r = end_set(path, v, seen, first, false);
                        if (r < 0)
                                break;
                        n_in_file++;
                        in_set = false;
                        seen = 0;
                }
                if (*l == '#' || *l == '\0' || *l == '\r' || strncmp(l, "policy ", 7) == 0)
                        continue;
                if (sscanf(l, "%31s %u %129s %c", bank, &pcr, hex, &extra) != 3) {
                        cli_error("%s:%zu: expected '<bank> <pcr> <hex>'", path, line);
                        r = -EINVAL;
                        break;
                }
                const measure_alg *alg = measure_alg_by_name(bank);
                if (!alg) {
                        cli_error("%s:%zu: unknown bank '%s'", path, line, bank);
                        r = -EINVAL;
                        break;
                }
                if (pcr >= MEASURE_PCR_COUNT) {
                        cli_error("%s:%zu: PCR %u out of range 0-23", path, line, pcr);
                        r = -EINVAL;
                        break;
                }
                if (!in_set) {
                        if (v->n >= ATTEST_LUKS_BRANCHES_MAX) {
                                cli_error("%s:%zu: more than %d value sets (a PolicyOR tree of two levels holds 64)",
                                          path, line, ATTEST_LUKS_BRANCHES_MAX);
                                r = -EINVAL;
                                break;
                        }
                        in_set = true;
                        first = line;
                }
                if (alg != v->bank || !(v->mask & (UINT32_C(1) << pcr)))
                        continue;
                if (strlen(hex) != 2 * alg->size || measure_unhex(hex, v->sets[v->n][pcr], alg->size) < 0) {
                        cli_error("%s:%zu: %s PCR %u: expected %zu hex digits", path, line, bank, pcr, 2 * alg->size);
                        r = -EINVAL;
                        break;
                }
                if (seen & (UINT32_C(1) << pcr)) {
                        cli_error("%s:%zu: a second %s value for PCR %u (start each generation's values with a '#' "
                                  "line, as `lantern predict` does)", path, line, bank, pcr);
                        r = -EINVAL;
                        break;
                }
                seen |= UINT32_C(1) << pcr;
        }
        free(text);
        if (r < 0)
                return r;
        if (in_set || n_in_file == 0)
                return end_set(path, v, seen, first, n_in_file == 0);
        return 0;
}

/* A secret from the environment, removed from it. */
static char *steal_env(const char *name) {
        const char *v = getenv(name);
        if (!v)
                return NULL;
        char *copy = strdup(v);
        unsetenv(name);
        return copy;
}

static void erase_free(char *s) {
        if (s) {
                OPENSSL_cleanse(s, strlen(s));
                free(s);
        }
}

static int open_tpm(const char *tcti, attest_tpm **ret) {
        char err[512];
        int r = attest_tpm_open(tcti, ret, err, sizeof(err));
        if (r < 0)
                cli_error("cannot reach the TPM: %s", err);
        return r;
}

/* Exit status of a failed unseal: the TPM refused (fail closed) is a mismatch, anything else bad input. */
static int unseal_exit(int r) {
        return r == -EPERM || r == -EACCES || r == -EXDEV || r == -ENOLCK ? LANTERN_EXIT_MISMATCH : LANTERN_EXIT_INPUT;
}

static void print_mask(FILE *f, const measure_alg *bank, uint32_t mask) {
        fprintf(f, "%s:", bank ? bank->name : "auto");
        bool first = true;
        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                if (mask & (UINT32_C(1) << pcr)) {
                        fprintf(f, "%s%u", first ? "" : ",", pcr);
                        first = false;
                }
        if (first)
                fputs("none", f);
}

static int enroll(luks_args *a) {
        attest_seal_policy p = { .bank = a->bank };
        attest_sealed sealed = {};
        attest_luks_token token = { .id = -1, .keyslot = -1 };
        bool token_loaded = false; /* token read from the volume (owns its buffers), not built here */
        attest_luks *luks = NULL;
        attest_tpm *tpm = NULL;
        value_sets values = {};
        uint8_t (*branches)[MEASURE_DIGEST_MAX] = NULL;
        measure_policy_tree *tree = NULL;
        uint8_t secret[ATTEST_SEAL_SECRET_SIZE];
        uint8_t *pubkey = NULL, *key = NULL;
        size_t pubkey_size = 0, key_size = 0;
        char *passphrase = NULL, *pin = NULL, *newpass = NULL;
        char err[1024], hex[2 * MEASURE_DIGEST_MAX + 1];
        int r, rc = LANTERN_EXIT_INPUT;

        p.pcr_mask = a->pcrs_given ? a->pcrs : a->public_key ? 0 : DEFAULT_PCRS;
        if (a->public_key) {
                p.pubkey_pcr_mask = a->public_key_pcrs_given ? a->public_key_pcrs : DEFAULT_SIGNED_PCRS;
                if (cli_read_file(a->public_key, ATTEST_SEAL_PUBKEY_MAX, &pubkey, &pubkey_size) < 0)
                        goto finish;
                p.pubkey_pem = (const char *) pubkey;
                p.pubkey_pem_size = pubkey_size;
        } else if (a->public_key_pcrs_given) {
                cli_error("luks enroll: --public-key-pcrs needs --public-key");
                goto finish;
        }
        if (p.pcr_mask == 0 && p.pubkey_pcr_mask == 0) {
                cli_error("luks enroll: no PCRs to seal to (--pcrs or --public-key)");
                goto finish;
        }
        if (a->n_values > 0) {
                if (!p.bank)
                        p.bank = measure_alg_by_id(MEASURE_ALG_SHA256);
                if (p.pcr_mask == 0) {
                        cli_error("luks enroll: --pcr-values needs --pcrs");
                        goto finish;
                }
                values = (value_sets) { .bank = p.bank, .mask = p.pcr_mask };
                values.sets = calloc(ATTEST_LUKS_BRANCHES_MAX, sizeof(*values.sets));
                if (!values.sets) {
                        cli_error("out of memory");
                        goto finish;
                }
                for (size_t i = 0; i < a->n_values; i++)
                        if (read_values(a->values[i], &values) < 0)
                                goto finish;
                memcpy(p.values, values.sets[0], sizeof(p.values));
                p.have_values = true;
        }
        /* Several value sets: any of them unseals, through a PolicyOR tree over their PolicyPCR digests (the
         * tree `lantern predict --policy-pcrs` prints for the same values). The trial session seals with the
         * first set's PolicyPCR and walks the tree from there. */
        if (values.n > 1) {
                if (p.pubkey_pem) {
                        cli_error("luks enroll: --public-key with several value sets is not supported (a signed "
                                  "policy already allows every generation it signs)");
                        goto finish;
                }
                branches = calloc(values.n, sizeof(*branches));
                if (!branches) {
                        cli_error("out of memory");
                        goto finish;
                }
                for (size_t i = 0; i < values.n; i++)
                        if (attest_seal_pcr_leaf(p.bank, p.pcr_mask,
                                                 (const uint8_t (*)[MEASURE_DIGEST_MAX]) values.sets[i], branches[i]) < 0) {
                                cli_error("cannot compute the PolicyPCR digest of value set %zu", i + 1);
                                goto finish;
                        }
                r = measure_policy_tree_build(measure_alg_by_id(MEASURE_ALG_SHA256),
                                              (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, values.n, &tree);
                if (r < 0) {
                        cli_error("cannot build the PolicyOR tree: %s", strerror(-r));
                        goto finish;
                }
                p.tree = tree;
        }
        if (a->key_file) {
                /* (read with a larger cap so pipes work, then held to the passphrase limit) */
                if (cli_read_file(a->key_file, MAX_VALUES_FILE, &key, &key_size) < 0)
                        goto finish;
                if (key_size > ATTEST_LUKS_PASSPHRASE_MAX) {
                        cli_error("%s: %zu bytes, more than the passphrase limit of %u", a->key_file, key_size,
                                  ATTEST_LUKS_PASSPHRASE_MAX);
                        goto finish;
                }
        } else {
                passphrase = steal_env("PASSWORD");
                if (!passphrase) {
                        cli_error("luks enroll: no passphrase to open %s: set $PASSWORD or --key-file", a->device);
                        goto finish;
                }
        }
        const char *pass = key ? (const char *) key : passphrase;
        size_t pass_size = key ? key_size : strlen(passphrase);
        if (a->with_pin) {
                pin = steal_env("NEWPIN");
                if (!pin || !*pin) {
                        cli_error("luks enroll: --with-pin needs the new PIN in $NEWPIN");
                        goto finish;
                }
                p.pin = pin;
        }

        r = attest_luks_open(a->device, &luks, err, sizeof(err));
        if (r < 0) {
                cli_error("%s", err);
                goto finish;
        }
        if (open_tpm(a->tcti, &tpm) < 0)
                goto finish;

        r = attest_seal(tpm, &p, secret, &sealed, err, sizeof(err));
        if (r < 0) {
                cli_error("cannot seal to the TPM: %s", err);
                goto finish;
        }
        /* Like systemd-cryptenroll: the same policy enrolled twice is a no-op (but for --wipe-tpm2, which keeps that
         * token and removes the others, once the passphrase is shown to open the volume). */
        int existing = attest_luks_find_policy(luks, sealed.policy_hash, sizeof(sealed.policy_hash));
        if (existing >= 0) {
                fprintf(stderr, "lantern: %s: token %d is already sealed to policy %s, %s\n", a->device, existing,
                        measure_hex(sealed.policy_hash, sizeof(sealed.policy_hash), hex),
                        a->wipe_tpm2 ? "keeping it" : "nothing to do");
                if (!a->wipe_tpm2) {
                        rc = LANTERN_EXIT_OK;
                        goto finish;
                }
                r = attest_luks_activate(luks, NULL, -1, pass, pass_size, err, sizeof(err));
                if (r < 0) {
                        cli_error("%s: the passphrase opens no keyslot", a->device);
                        goto finish;
                }
                r = attest_luks_token_load(luks, existing, &token, err, sizeof(err));
                if (r < 0) {
                        cli_error("%s", err);
                        goto finish;
                }
                token_loaded = true;
        } else {
                /* Sealed to the current values (and no signed policy): prove it unseals before writing anything. */
                if (!p.have_values && !p.pubkey_pem) {
                        uint8_t *check = NULL;
                        size_t check_size = 0;
                        r = attest_unseal(tpm, &p, sealed.primary_alg, sealed.blob, sealed.blob_size,
                                          sealed.policy_hash, sizeof(sealed.policy_hash), &check, &check_size, err,
                                          sizeof(err));
                        bool same = r >= 0 && check_size == sizeof(secret) &&
                                    CRYPTO_memcmp(check, secret, sizeof(secret)) == 0;
                        if (check) {
                                OPENSSL_cleanse(check, check_size);
                                free(check);
                        }
                        if (!same) {
                                cli_error("the freshly sealed secret does not unseal: %s",
                                          r < 0 ? err : "different bytes");
                                goto finish;
                        }
                }

                r = attest_luks_passphrase(secret, sizeof(secret), &newpass);
                if (r < 0)
                        goto finish;
                token = (attest_luks_token) {
                        .id = -1,
                        .keyslot = -1,
                        .blob = sealed.blob,
                        .blob_size = sealed.blob_size,
                        .pcr_mask = p.pcr_mask,
                        .bank = sealed.bank,
                        .primary_alg = sealed.primary_alg,
                        .policy_hash_size = sizeof(sealed.policy_hash),
                        .pin = p.pin != NULL,
                        .pubkey_pem = (char *) p.pubkey_pem,
                        .pubkey_pem_size = p.pubkey_pem_size,
                        .pubkey_pcr_mask = p.pubkey_pcr_mask,
                        .branches = tree ? branches : NULL,
                        .n_branches = tree ? values.n : 0,
                };
                memcpy(token.policy_hash, sealed.policy_hash, sizeof(sealed.policy_hash));
                r = attest_luks_enroll(luks, pass, pass_size, newpass, &token, err, sizeof(err));
                if (r < 0) {
                        cli_error("%s", err);
                        goto finish;
                }
        }
        attest_luks_wiped wiped[ATTEST_LUKS_MAX_TOKENS];
        size_t n_wiped = 0;
        if (a->wipe_tpm2) {
                r = attest_luks_wipe_tpm2(luks, token.id, wiped, ATTEST_LUKS_MAX_TOKENS, &n_wiped, err, sizeof(err));
                if (r < 0) {
                        cli_error("%s (the new token %d was added)", err, token.id);
                        goto finish;
                }
        }
        if (a->json) {
                json_object *o = json_object_new_object();
                if (a->wipe_tpm2) {
                        json_object *w = json_object_new_array(), *k = json_object_new_array();
                        for (size_t i = 0; i < n_wiped; i++)
                                json_object_array_add(wiped[i].kept ? k : w, json_object_new_int(wiped[i].token));
                        json_object_object_add(o, "wipedTokens", w);
                        json_object_object_add(o, "keptTokens", k);
                }
                json_object_object_add(o, "token", json_object_new_int(token.id));
                json_object_object_add(o, "keyslot", json_object_new_int(token.keyslot));
                json_object_object_add(o, "bank", json_object_new_string(sealed.bank->name));
                json_object_object_add(o, "policyHash", json_object_new_string(
                                                                measure_hex(sealed.policy_hash, 32, hex)));
                json_object_object_add(o, "predicted", json_object_new_boolean(p.have_values));
                if (tree) {
                        json_object_object_add(o, "type", json_object_new_string(ATTEST_LUKS_TOKEN_TYPE_OR));
                        json_object_object_add(o, "valueSets", json_object_new_int((int32_t) values.n));
                }
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                json_object_put(o);
        } else {
                printf("%s: token %d for keyslot %d, sealed to ", a->device, token.id, token.keyslot);
                if (p.pcr_mask)
                        print_mask(stdout, sealed.bank, p.pcr_mask);
                if (p.pubkey_pcr_mask) {
                        printf("%ssigned ", p.pcr_mask ? " and " : "");
                        print_mask(stdout, sealed.bank, p.pubkey_pcr_mask);
                }
                if (tree)
                        printf(" (any of %zu value sets through a PolicyOR, %s token%s), policy %s\n", values.n,
                               ATTEST_LUKS_TOKEN_TYPE_OR, p.pin ? ", PIN" : "", measure_hex(sealed.policy_hash, 32, hex));
                else
                        printf(" (%s values%s), policy %s\n", p.have_values ? "given" : "current",
                               p.pin ? ", PIN" : "", measure_hex(sealed.policy_hash, 32, hex));
                for (size_t i = 0; i < n_wiped; i++) {
                        printf("%s: %s token %d (keyslot", a->device, wiped[i].kept ? "kept" : "removed",
                               wiped[i].token);
                        for (unsigned k = 0; k < ATTEST_LUKS_MAX_KEYSLOTS; k++)
                                if (wiped[i].keyslots & (UINT32_C(1) << k))
                                        printf(" %u", k);
                        printf(")%s\n", wiped[i].kept ? ": the passphrase used to enroll opens its keyslot" : "");
                }
        }
        rc = LANTERN_EXIT_OK;
finish:
        OPENSSL_cleanse(secret, sizeof(secret));
        erase_free(passphrase);
        erase_free(pin);
        erase_free(newpass);
        if (key) {
                OPENSSL_cleanse(key, key_size);
                free(key);
        }
        free(pubkey);
        free(values.sets);
        free(branches);
        measure_policy_tree_free(tree);
        if (token_loaded)
                attest_luks_token_done(&token);
        attest_sealed_done(&sealed);
        attest_luks_free(luks);
        attest_tpm_free(tpm);
        return rc;
}

/* The signature JSON: --signature, else systemd's locations (only needed by signed tokens). */
static int load_signature(const char *path, char **ret) {
        static const char *const defaults[] = { "/run/systemd/tpm2-pcr-signature.json",
                                                "/.extra/tpm2-pcr-signature.json" };
        uint8_t *text;
        size_t size;

        if (!path) {
                for (size_t i = 0; i < 2 && !path; i++)
                        if (access(defaults[i], R_OK) == 0)
                                path = defaults[i];
                if (!path) {
                        *ret = NULL;
                        return 0;
                }
        }
        if (cli_read_file(path, ATTEST_SEAL_SIGNATURE_MAX, &text, &size) < 0)
                return -EINVAL;
        if (memchr(text, '\0', size)) {
                cli_error("%s: NUL byte at offset %zu in the signature JSON", path,
                          (size_t) ((uint8_t *) memchr(text, '\0', size) - text));
                free(text);
                return -EINVAL;
        }
        *ret = (char *) text;
        return 0;
}

/* unlock and unseal: tries each systemd-tpm2 and lantern-tpm2 token (or --token) until one unseals. */
static int unlock(luks_args *a, bool print_only) {
        attest_luks *luks = NULL;
        attest_tpm *tpm = NULL;
        char *signature = NULL, *pin = NULL, *pass = NULL;
        char err[1024];
        int rc = LANTERN_EXIT_INPUT, tried = 0, refused = 0, r;

        if (!print_only && !a->test && !a->name) {
                cli_error("luks unlock: give --name NAME to activate, or --test");
                return LANTERN_EXIT_INPUT;
        }
        r = attest_luks_open(a->device, &luks, err, sizeof(err));
        if (r < 0) {
                cli_error("%s", err);
                return LANTERN_EXIT_INPUT;
        }
        if (load_signature(a->signature, &signature) < 0)
                goto finish;
        pin = steal_env("PIN");

        for (int id = a->token >= 0 ? a->token : 0; id < ATTEST_LUKS_MAX_TOKENS; id++) {
                attest_luks_token t;
                const char *type;

                if (a->token >= 0 && id != a->token)
                        break;
                r = attest_luks_token_get(luks, id, &type, NULL);
                if (r < 0 || !attest_luks_token_type_known(type)) {
                        if (a->token >= 0)
                                cli_error("%s: token %d is %s", a->device, id,
                                          r < 0 ? "not there" : "not a systemd-tpm2 or lantern-tpm2 token");
                        continue;
                }
                tried++;
                r = attest_luks_token_load(luks, id, &t, err, sizeof(err));
                if (r < 0) {
                        cli_error("%s", err);
                        continue;
                }
                if (!tpm && open_tpm(a->tcti, &tpm) < 0) {
                        attest_luks_token_done(&t);
                        goto finish;
                }
                r = attest_luks_token_unseal(tpm, &t, pin, signature, &pass, err, sizeof(err));
                if (r < 0) {
                        cli_error("%s: token %d (keyslot %d): %s", a->device, id, t.keyslot, err);
                        if (unseal_exit(r) == LANTERN_EXIT_MISMATCH)
                                refused++;
                        attest_luks_token_done(&t);
                        continue;
                }
                if (print_only) {
                        fputs(pass, stdout);
                        fflush(stdout);
                        attest_luks_token_done(&t);
                        rc = LANTERN_EXIT_OK;
                        goto finish;
                }
                r = attest_luks_activate(luks, a->test ? NULL : a->name, t.keyslot, pass, strlen(pass), err,
                                         sizeof(err));
                erase_free(pass);
                pass = NULL;
                if (r < 0) {
                        cli_error("%s", err);
                        if (r == -EPERM)
                                refused++;
                        attest_luks_token_done(&t);
                        continue;
                }
                if (a->test)
                        printf("%s: token %d unsealed the passphrase of keyslot %d (test only, nothing activated)\n",
                               a->device, id, t.keyslot);
                else
                        printf("%s: unlocked with token %d (keyslot %d) as /dev/mapper/%s\n", a->device, id, t.keyslot,
                               a->name);
                attest_luks_token_done(&t);
                rc = LANTERN_EXIT_OK;
                goto finish;
        }
        if (tried == 0)
                cli_error("%s: no systemd-tpm2 token (or lantern-tpm2 token) to unlock with", a->device);
        else
                cli_error("%s: not unlocked: %s", a->device,
                          refused ? "the TPM refused every token" : "no token could be used");
        rc = refused ? LANTERN_EXIT_MISMATCH : LANTERN_EXIT_INPUT;
finish:
        erase_free(pass);
        erase_free(pin);
        free(signature);
        attest_luks_free(luks);
        attest_tpm_free(tpm);
        return rc;
}

static int list(luks_args *a) {
        attest_luks *luks = NULL;
        json_object *arr = a->json ? json_object_new_array() : NULL;
        char err[1024], hex[2 * MEASURE_DIGEST_MAX + 1];
        int r, rc = LANTERN_EXIT_OK;

        r = attest_luks_open(a->device, &luks, err, sizeof(err));
        if (r < 0) {
                cli_error("%s", err);
                json_object_put(arr);
                return LANTERN_EXIT_INPUT;
        }
        for (int id = 0; id < ATTEST_LUKS_MAX_TOKENS; id++) {
                const char *type, *json;
                attest_luks_token t;

                if (attest_luks_token_get(luks, id, &type, &json) < 0)
                        continue;
                if (!attest_luks_token_type_known(type)) {
                        if (arr) {
                                json_object *o = json_object_new_object();
                                json_object_object_add(o, "token", json_object_new_int(id));
                                json_object_object_add(o, "type", json_object_new_string(type));
                                json_object_array_add(arr, o);
                        } else
                                printf("token %d %s\n", id, type);
                        continue;
                }
                r = attest_luks_token_load(luks, id, &t, err, sizeof(err));
                if (r < 0) {
                        cli_error("%s", err);
                        rc = LANTERN_EXIT_INPUT;
                        continue;
                }
                if (arr) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "token", json_object_new_int(id));
                        json_object_object_add(o, "type", json_object_new_string(type));
                        json_object_object_add(o, "keyslot", json_object_new_int(t.keyslot));
                        json_object_object_add(o, "json", json_tokener_parse(json));
                        json_object_array_add(arr, o);
                } else {
                        printf("token %d %s keyslot %d pcrs ", id, type, t.keyslot);
                        print_mask(stdout, t.bank, t.pcr_mask);
                        if (t.pubkey_pcr_mask) {
                                printf(" signed ");
                                print_mask(stdout, t.bank, t.pubkey_pcr_mask);
                        }
                        printf(" primary %s pin %s policy %s", t.primary_alg == ATTEST_PRIMARY_RSA ? "rsa" : "ecc",
                               t.pin ? "yes" : "no", measure_hex(t.policy_hash, t.policy_hash_size, hex));
                        if (t.n_branches)
                                printf(" or-of %zu", t.n_branches);
                        putchar('\n');
                }
                attest_luks_token_done(&t);
        }
        if (arr) {
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        }
        attest_luks_free(luks);
        return rc;
}

int luks_main(int argc, char **argv) {
        luks_args a;
        int r;

        if (argc < 2) {
                luks_usage(stderr);
                return LANTERN_EXIT_INPUT;
        }
        const char *verb = argv[1];
        if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
                luks_usage(stdout);
                return LANTERN_EXIT_OK;
        }
        if (strcmp(verb, "enroll") != 0 && strcmp(verb, "unlock") != 0 && strcmp(verb, "unseal") != 0 &&
            strcmp(verb, "list") != 0) {
                cli_error("luks: unknown verb '%s'", verb);
                luks_usage(stderr);
                return LANTERN_EXIT_INPUT;
        }
        r = parse_argv(verb, argc - 1, argv + 1, &a);
        if (r <= 0)
                return r < 0 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        if (strcmp(verb, "enroll") == 0)
                return enroll(&a);
        if (strcmp(verb, "unlock") == 0)
                return unlock(&a, false);
        if (strcmp(verb, "unseal") == 0)
                return unlock(&a, true);
        return list(&a);
}
