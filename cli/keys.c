/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern keys create|status|enroll: Secure Boot keys of one's own. */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <dirent.h>

#include "cli.h"
#include "efivars.h"
#include "keys.h"

static int keys_create(int argc, char **argv) {
        static const struct option opts[] = {
                { "rsa-bits", required_argument, NULL, 'b' },
                { "subject", required_argument, NULL, 's' },
                { "guid", required_argument, NULL, 'g' },
                { "timestamp", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        install_keys_options o = { .rsa_bits = 2048, .subject_prefix = "Lantern" };
        install_guid owner;
        struct tm ts;
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'b':
                        o.rsa_bits = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 's':
                        o.subject_prefix = optarg;
                        break;
                case 'g':
                        if (install_guid_parse(optarg, &owner) < 0) {
                                cli_error("--guid: '%s' is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", optarg);
                                return LANTERN_EXIT_INPUT;
                        }
                        o.owner = &owner;
                        break;
                case 't': {
                        memset(&ts, 0, sizeof(ts));
                        const char *end = strptime(optarg, "%Y-%m-%d %H:%M:%S", &ts);
                        if (!end || *end) {
                                cli_error("--timestamp: '%s' is not 'YYYY-MM-DD HH:MM:SS' (UTC)", optarg);
                                return LANTERN_EXIT_INPUT;
                        }
                        o.timestamp = &ts;
                        break;
                }
                case 'h':
                        printf("Usage: lantern keys create [--rsa-bits 2048|3072|4096] [--subject PREFIX] [--guid GUID]\n"
                               "                           [--timestamp 'YYYY-MM-DD HH:MM:SS'] DIR\n\n"
                               "Creates PK, KEK and db key pairs (DIR/{PK,KEK,db}.key, .crt; PEM), their EFI signature\n"
                               "lists (.esl) and signed authenticated variable updates (.auth: PK and KEK signed by PK,\n"
                               "db by KEK), and DIR/GUID, the signature owner. DIR must not exist or be empty.\n");
                        return LANTERN_EXIT_OK;
                default:
                        return LANTERN_EXIT_INPUT;
                }
        if (optind + 1 != argc) {
                cli_error("keys create: expected one directory (see --help)");
                return LANTERN_EXIT_INPUT;
        }
        char err[512] = "";
        int r = install_keys_create(argv[optind], &o, err, sizeof(err));
        if (r < 0) {
                cli_error("keys create: %s", err);
                return LANTERN_EXIT_INPUT;
        }
        printf("Created PK, KEK and db keys in %s\n", argv[optind]);
        return LANTERN_EXIT_OK;
}

/* Appends the certificate's subject (RFC 2253) to a JSON array. */
static void add_subject(const uint8_t *der, size_t len, const install_guid *owner, void *userdata) {
        const unsigned char *p = der;
        X509 *x = d2i_X509(NULL, &p, (long) len);
        char *text = NULL;
        BIO *bio = BIO_new(BIO_s_mem());
        if (x && bio && X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
                long n = BIO_get_mem_data(bio, &text);
                json_object_array_add(userdata, json_object_new_string_len(text, (int) n));
        } else
                json_object_array_add(userdata, json_object_new_string("(unparsable certificate)"));
        BIO_free(bio);
        X509_free(x);
}

static const char *efivars_dir(const char *arg) {
        return arg ? arg : INSTALL_EFIVARS_DEFAULT;
}

static int keys_status(int argc, char **argv) {
        static const struct option opts[] = {
                { "efivars", required_argument, NULL, 'e' },
                { "json", no_argument, NULL, 'j' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *dir = NULL;
        bool json = false, verbose = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'e':
                        dir = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'v':
                        verbose = true;
                        break;
                case 'h':
                        printf("Usage: lantern keys status [--efivars DIR] [--verbose] [--json]\n\n"
                               "Reports Secure Boot state from the EFI variables SetupMode, SecureBoot, AuditMode,\n"
                               "DeployedMode and whether PK, KEK and db are set; --verbose (and --json) also list the\n"
                               "subjects of the X.509 certificates each of them holds.\n");
                        return LANTERN_EXIT_OK;
                default:
                        return LANTERN_EXIT_INPUT;
                }
        if (optind != argc) {
                cli_error("keys status: unexpected argument '%s'", argv[optind]);
                return LANTERN_EXIT_INPUT;
        }
        static const char *const bools[] = { "SetupMode", "SecureBoot", "AuditMode", "DeployedMode" };
        int values[4];
        for (size_t i = 0; i < 4; i++)
                values[i] = install_efivar_read_bool(efivars_dir(dir), bools[i], &install_guid_global_variable);
        if (values[0] == -ENOENT && values[1] == -ENOENT) {
                cli_error("keys status: no SetupMode or SecureBoot variable under %s (not booted with UEFI, or "
                          "efivarfs not mounted)", efivars_dir(dir));
                return LANTERN_EXIT_INPUT;
        }
        bool present[INSTALL_KEY_MAX];
        json_object *subjects[INSTALL_KEY_MAX];
        for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                uint8_t *data = NULL;
                size_t len = 0;
                present[k] = install_efivar_read(efivars_dir(dir), install_key_name((install_key_kind) k),
                                                 install_key_vendor((install_key_kind) k), NULL, &data, &len) == 0 &&
                             len > 0;
                subjects[k] = json_object_new_array();
                if (present[k])
                        install_esl_foreach_cert(data, len, add_subject, subjects[k]);
                free(data);
        }
        if (json) {
                json_object *o = json_object_new_object(), *certs = json_object_new_object();
                for (size_t i = 0; i < 4; i++)
                        json_object_object_add(o, bools[i], values[i] < 0 ? NULL : json_object_new_boolean(values[i]));
                for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                        json_object_object_add(o, install_key_name((install_key_kind) k), json_object_new_boolean(present[k]));
                        json_object_object_add(certs, install_key_name((install_key_kind) k), subjects[k]);
                }
                json_object_object_add(o, "certificates", certs);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return LANTERN_EXIT_OK;
        }
        printf("setup-mode: %s\n", values[0] == 1 ? "yes" : values[0] == 0 ? "no" : "unknown");
        printf("secure-boot: %s\n", values[1] == 1 ? "enabled" : values[1] == 0 ? "disabled" : "unknown");
        printf("audit-mode: %s\n", values[2] == 1 ? "yes" : values[2] == 0 ? "no" : "unknown");
        printf("deployed-mode: %s\n", values[3] == 1 ? "yes" : values[3] == 0 ? "no" : "unknown");
        for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                printf("%s: %s\n", install_key_name((install_key_kind) k), present[k] ? "set" : "empty");
                for (size_t i = 0; verbose && i < json_object_array_length(subjects[k]); i++)
                        printf("  %s\n", json_object_get_string(json_object_array_get_idx(subjects[k], i)));
                json_object_put(subjects[k]);
        }
        return LANTERN_EXIT_OK;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Concatenates the signature lists of every file in DIR/SUB (sorted by name; certificates are wrapped, owner
 * Microsoft). A missing or empty DIR/SUB is an error: the user asked for these certificates. */
static int load_extra_lists(const char *dir, const char *sub, uint8_t **ret, size_t *ret_len) {
        char path[4096], *names[64];
        size_t n = 0, total = 0;
        uint8_t *all = NULL;
        int r = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, sub);
        DIR *d = opendir(path);
        if (!d) {
                cli_error("keys enroll: --microsoft: %s: %s", path, strerror(errno));
                return -errno;
        }
        struct dirent *de;
        while ((de = readdir(d)) && n < 64)
                if (de->d_name[0] != '.' && (names[n] = strdup(de->d_name)))
                        n++;
        closedir(d);
        if (n == 0) {
                cli_error("keys enroll: --microsoft: %s holds no certificates", path);
                return -ENOENT;
        }
        qsort(names, n, sizeof(names[0]), cmp_names);
        for (size_t i = 0; i < n && r >= 0; i++) {
                uint8_t *esl = NULL;
                size_t esl_len = 0;
                char file[4096 + 256 + 2], err[512] = "";
                snprintf(file, sizeof(file), "%s/%s", path, names[i]);
                r = install_esl_load(file, &install_guid_microsoft_owner, &esl, &esl_len, err, sizeof(err));
                if (r < 0) {
                        cli_error("keys enroll: --microsoft: %s", err);
                        break;
                }
                uint8_t *grown = realloc(all, total + esl_len);
                if (!grown) {
                        free(esl);
                        r = -ENOMEM;
                        break;
                }
                all = grown;
                memcpy(all + total, esl, esl_len);
                total += esl_len;
                free(esl);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        if (r < 0) {
                free(all);
                return r;
        }
        *ret = all;
        *ret_len = total;
        return 0;
}

static int keys_enroll(int argc, char **argv) {
        static const struct option opts[] = {
                { "efivars", required_argument, NULL, 'e' },
                { "microsoft", required_argument, NULL, 'm' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *dir = NULL, *microsoft = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'e':
                        dir = optarg;
                        break;
                case 'm':
                        microsoft = optarg;
                        break;
                case 'h':
                        printf("Usage: lantern keys enroll [--efivars DIR] [--microsoft DIR] KEYDIR\n\n"
                               "Writes KEYDIR/db.auth, KEK.auth, then PK.auth (as made by 'lantern keys create') into the\n"
                               "firmware through efivarfs. Only in Setup Mode; writing PK ends Setup Mode, and the\n"
                               "firmware enforces Secure Boot from the next boot.\n\n"
                               "  --microsoft DIR  also trust Microsoft's certificates (needed by option ROMs of GPUs and\n"
                               "                   network cards, and by Windows): every certificate (PEM or DER) or EFI\n"
                               "                   signature list in DIR/KEK/ is appended to KEK and in DIR/db/ to db; the\n"
                               "                   updates are signed again with KEYDIR's PK and KEK keys. Microsoft publishes\n"
                               "                   them as MicCorKEKCA2011, MicWinProPCA2011 and MicCorUEFCA2011 (and the\n"
                               "                   2023 successors).\n");
                        return LANTERN_EXIT_OK;
                default:
                        return LANTERN_EXIT_INPUT;
                }
        if (optind + 1 != argc) {
                cli_error("keys enroll: expected one key directory (see --help)");
                return LANTERN_EXIT_INPUT;
        }
        const char *keydir = argv[optind];
        int setup = install_efivar_read_bool(efivars_dir(dir), "SetupMode", &install_guid_global_variable);
        if (setup < 0) {
                cli_error("keys enroll: cannot read SetupMode under %s: %s", efivars_dir(dir), strerror(-setup));
                return LANTERN_EXIT_INPUT;
        }
        if (setup != 1) {
                cli_error("keys enroll: the firmware is not in Setup Mode (a Platform Key is enrolled); clear the "
                          "keys in the firmware setup first. Nothing was written.");
                return LANTERN_EXIT_MISMATCH;
        }
        /* Read all three updates before writing any, so a missing file changes nothing. */
        static const install_key_kind order[] = { INSTALL_KEY_DB, INSTALL_KEY_KEK, INSTALL_KEY_PK };
        uint8_t *auth[3] = { 0 };
        size_t len[3] = { 0 };
        int ret = LANTERN_EXIT_OK;
        for (int i = 0; i < 3; i++) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/%s.auth", keydir, install_key_name(order[i]));
                if (cli_read_file(path, INSTALL_EFIVAR_MAX, &auth[i], &len[i]) < 0) {
                        ret = LANTERN_EXIT_INPUT;
                        goto finish;
                }
                /* EFI_TIME + WIN_CERTIFICATE_UEFI_GUID header at least. */
                if (len[i] < 16 + 24 || auth[i][22] != 0xf1 || auth[i][23] != 0x0e) {
                        cli_error("%s: not an EFI_VARIABLE_AUTHENTICATION_2 update (offset 0x16: no "
                                  "WIN_CERT_TYPE_EFI_GUID)", path);
                        ret = LANTERN_EXIT_INPUT;
                        goto finish;
                }
        }
        if (microsoft) {
                /* KEK and db get Microsoft's lists appended, signed now with KEYDIR's private keys. */
                time_t t = time(NULL);
                struct tm now;
                gmtime_r(&t, &now);
                for (int i = 0; i < 2; i++) {
                        uint8_t *extra = NULL, *auth_new = NULL;
                        size_t extra_len = 0, auth_len = 0;
                        char err[512] = "";
                        int r = load_extra_lists(microsoft, install_key_name(order[i]), &extra, &extra_len);
                        if (r == 0)
                                r = install_keys_build_update(keydir, order[i], extra, extra_len, &now, &auth_new,
                                                              &auth_len, err, sizeof(err));
                        if (r < 0 && err[0])
                                cli_error("keys enroll: %s", err);
                        free(extra);
                        if (r < 0) {
                                ret = LANTERN_EXIT_INPUT;
                                goto finish;
                        }
                        free(auth[i]);
                        auth[i] = auth_new;
                        len[i] = auth_len;
                }
        }
        for (int i = 0; i < 3; i++) {
                const char *name = install_key_name(order[i]);
                int r = install_efivar_write(efivars_dir(dir), name, install_key_vendor(order[i]),
                                             INSTALL_SECURE_VAR_ATTRS, auth[i], len[i]);
                if (r < 0) {
                        cli_error("keys enroll: writing %s failed: %s (the firmware rejected the update?)", name,
                                  strerror(-r));
                        ret = LANTERN_EXIT_MISMATCH;
                        goto finish;
                }
                printf("Enrolled %s\n", name);
        }
finish:
        for (int i = 0; i < 3; i++)
                free(auth[i]);
        return ret;
}

int keys_main(int argc, char **argv) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                FILE *f = argc < 2 ? stderr : stdout;
                fprintf(f, "Usage: lantern keys create|status|enroll [options]\n"
                           "  create DIR    make PK, KEK and db keys, certificates, .esl and signed .auth updates\n"
                           "  status        Setup Mode / Secure Boot state from the EFI variables\n"
                           "  enroll DIR    write db, KEK and PK into the firmware (Setup Mode only)\n");
                return argc < 2 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        }
        if (strcmp(argv[1], "create") == 0)
                return keys_create(argc - 1, argv + 1);
        if (strcmp(argv[1], "status") == 0)
                return keys_status(argc - 1, argv + 1);
        if (strcmp(argv[1], "enroll") == 0)
                return keys_enroll(argc - 1, argv + 1);
        cli_error("keys: unknown verb '%s'", argv[1]);
        return LANTERN_EXIT_INPUT;
}
