/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern keys create|status|enroll: Secure Boot keys of one's own. */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

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

static const char *efivars_dir(const char *arg) {
        return arg ? arg : INSTALL_EFIVARS_DEFAULT;
}

static int keys_status(int argc, char **argv) {
        static const struct option opts[] = {
                { "efivars", required_argument, NULL, 'e' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *dir = NULL;
        bool json = false;
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'e':
                        dir = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        printf("Usage: lantern keys status [--efivars DIR] [--json]\n\n"
                               "Reports Secure Boot state from the EFI variables SetupMode, SecureBoot, AuditMode,\n"
                               "DeployedMode and whether PK, KEK and db are set.\n");
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
        for (int k = 0; k < INSTALL_KEY_MAX; k++) {
                uint8_t *data = NULL;
                size_t len = 0;
                present[k] = install_efivar_read(efivars_dir(dir), install_key_name((install_key_kind) k),
                                                 install_key_vendor((install_key_kind) k), NULL, &data, &len) == 0 &&
                             len > 0;
                free(data);
        }
        if (json) {
                json_object *o = json_object_new_object();
                for (size_t i = 0; i < 4; i++)
                        json_object_object_add(o, bools[i], values[i] < 0 ? NULL : json_object_new_boolean(values[i]));
                for (int k = 0; k < INSTALL_KEY_MAX; k++)
                        json_object_object_add(o, install_key_name((install_key_kind) k), json_object_new_boolean(present[k]));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return LANTERN_EXIT_OK;
        }
        printf("setup-mode: %s\n", values[0] == 1 ? "yes" : values[0] == 0 ? "no" : "unknown");
        printf("secure-boot: %s\n", values[1] == 1 ? "enabled" : values[1] == 0 ? "disabled" : "unknown");
        printf("audit-mode: %s\n", values[2] == 1 ? "yes" : values[2] == 0 ? "no" : "unknown");
        printf("deployed-mode: %s\n", values[3] == 1 ? "yes" : values[3] == 0 ? "no" : "unknown");
        for (int k = 0; k < INSTALL_KEY_MAX; k++)
                printf("%s: %s\n", install_key_name((install_key_kind) k), present[k] ? "set" : "empty");
        return LANTERN_EXIT_OK;
}

static int keys_enroll(int argc, char **argv) {
        static const struct option opts[] = {
                { "efivars", required_argument, NULL, 'e' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *dir = NULL;
        int c;
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'e':
                        dir = optarg;
                        break;
                case 'h':
                        printf("Usage: lantern keys enroll [--efivars DIR] KEYDIR\n\n"
                               "Writes KEYDIR/db.auth, KEK.auth, then PK.auth (as made by 'lantern keys create') into the\n"
                               "firmware through efivarfs. Only in Setup Mode; writing PK ends Setup Mode, and the\n"
                               "firmware enforces Secure Boot from the next boot.\n");
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
