/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern install: NixOS generations onto the ESP as signed thin stubs, with systemd-boot. Also the pieces
 * on their own: build-stub (add sections to the stub), sign and verify (Authenticode). */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "authenticode-sign.h"
#include "cli.h"
#include "fileio.h"
#include "installer.h"
#include "pem.h"
#include "pe-build.h"

#define DEFAULT_SYSTEMD_BOOT "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
#define DEFAULT_STUB "/usr/lib/lantern/lantern-stub-x64.efi"
#define MAX_SECTIONS_ARG 32

static void help(FILE *f) {
        fputs("Usage: lantern install --esp DIR [--profile DIR]... [--root DIR] [--keys DIR]\n"
              "                       [--configuration-limit N] [--dry-run] [--status] [--json] [TOPLEVEL]\n"
              "       lantern install build-stub [--section NAME=FILE]... STUB OUT\n"
              "       lantern install sign --key KEY --cert CERT IN OUT\n"
              "       lantern install verify --cert CERT FILE...\n"
              "\n"
              "Installs every kept generation and specialisation of the NixOS profiles onto the ESP: kernel and\n"
              "initrd content-addressed under EFI/nixos/, one thin Lantern stub per entry signed with the db key\n"
              "under EFI/Linux/, systemd-boot signed as EFI/systemd/systemd-bootx64.efi and EFI/BOOT/BOOTX64.EFI,\n"
              "loader/loader.conf's default set to the newest generation; then removes files no kept generation\n"
              "names (never the booted entry's). A re-run with nothing new writes nothing. Every file is written\n"
              "to a temporary name, fsynced and renamed. TOPLEVEL (as boot.loader.external.installHook passes it)\n"
              "is ignored: the generations come from the profiles.\n"
              "\n"
              "  --esp DIR                the mounted ESP\n"
              "  --profile DIR            a profile (default /nix/var/nix/profiles/system and system-profiles/*)\n"
              "  --root DIR               resolve profiles and store paths under DIR\n"
              "  --keys DIR               sign with DIR/db.key and DIR/db.crt (PEM)\n"
              "  --key FILE, --cert FILE  the signing key and certificate, separately\n"
              "  --configuration-limit N  keep only the newest N generations of each profile\n"
              "  --stub FILE              the Lantern stub (default: next to this program, then " DEFAULT_STUB ")\n"
              "  --systemd-boot FILE      systemd-boot to install (default " DEFAULT_SYSTEMD_BOOT ")\n"
              "  --no-systemd-boot        leave the boot loader alone\n"
              "  --timeout N              set loader.conf's timeout\n"
              "  --efivars DIR            where to read LoaderEntrySelected (default /sys/firmware/efi/efivars)\n"
              "  --verify                 hash installed kernels and initrds against their stubs\n"
              "  --dry-run                show what would change, change nothing\n"
              "  --status                 the entries, their files and signatures, and what a run would change;\n"
              "                           exit 1 when an installed stub has a bad signature or bad files\n"
              "  --json                   JSON output\n",
              f);
}

typedef struct args {
        install_options o;
        char *root, *stub, *key, *cert;
        bool dry_run, status, json;
} args;

static void args_done(args *a) {
        free(a->o.profiles);
        free(a->root);
        free(a->stub);
        free(a->key);
        free(a->cert);
}

/* The stub next to this binary (a build directory), else the installed one. */
static char *default_stub(void) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = 0;
                char *slash = strrchr(self, '/'), *p;
                if (slash) {
                        *slash = 0;
                        if (asprintf(&p, "%s/lantern-stub-x64.efi", self) >= 0) {
                                if (access(p, R_OK) == 0)
                                        return p;
                                free(p);
                        }
                }
        }
        return strdup(DEFAULT_STUB);
}

static int crash_after;

/* Test hook: LANTERN_INSTALL_CRASH_AFTER=N kills the installer with SIGKILL right after write step N. */
static int after_step(void *userdata, unsigned step, const char *path) {
        if (crash_after > 0 && step == (unsigned) crash_after)
                raise(SIGKILL);
        return 0;
}

static int parse_argv(int argc, char **argv, args *a) {
        static const struct option options[] = {
                { "esp", required_argument, NULL, 'e' },
                { "profile", required_argument, NULL, 'p' },
                { "root", required_argument, NULL, 'r' },
                { "keys", required_argument, NULL, 'k' },
                { "key", required_argument, NULL, 'K' },
                { "cert", required_argument, NULL, 'C' },
                { "configuration-limit", required_argument, NULL, 'l' },
                { "stub", required_argument, NULL, 's' },
                { "systemd-boot", required_argument, NULL, 'b' },
                { "no-systemd-boot", no_argument, NULL, 'B' },
                { "timeout", required_argument, NULL, 't' },
                { "efivars", required_argument, NULL, 'v' },
                { "verify", no_argument, NULL, 'V' },
                { "dry-run", no_argument, NULL, 'n' },
                { "status", no_argument, NULL, 'S' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *keys = NULL;
        bool no_sdboot = false;
        char *end;
        int c;

        a->o.timeout = -1;
        a->o.systemd_boot = DEFAULT_SYSTEMD_BOOT;
        a->o.profiles = calloc((size_t) argc + 1, sizeof(char *));
        if (!a->o.profiles)
                return -ENOMEM;
        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'e':
                        a->o.esp = optarg;
                        break;
                case 'p':
                        a->o.profiles[a->o.n_profiles++] = optarg;
                        break;
                case 'r':
                        if (cli_realpath_option("--root", optarg, &a->root) < 0)
                                return -EINVAL;
                        break;
                case 'k':
                        keys = optarg;
                        break;
                case 'K':
                        free(a->key);
                        a->key = strdup(optarg);
                        break;
                case 'C':
                        free(a->cert);
                        a->cert = strdup(optarg);
                        break;
                case 'l':
                        errno = 0;
                        unsigned long l = strtoul(optarg, &end, 10);
                        if (errno || *end || !*optarg || l > 100000) {
                                cli_error("--configuration-limit: '%s' is not a number of generations", optarg);
                                return -EINVAL;
                        }
                        a->o.configuration_limit = (unsigned) l;
                        break;
                case 's':
                        free(a->stub);
                        a->stub = strdup(optarg);
                        break;
                case 'b':
                        a->o.systemd_boot = optarg;
                        break;
                case 'B':
                        no_sdboot = true;
                        break;
                case 't':
                        errno = 0;
                        long t = strtol(optarg, &end, 10);
                        if (errno || *end || !*optarg || t < 0 || t > 86400) {
                                cli_error("--timeout: '%s' is not a number of seconds", optarg);
                                return -EINVAL;
                        }
                        a->o.timeout = (int) t;
                        break;
                case 'v':
                        a->o.efivars = optarg;
                        break;
                case 'V':
                        a->o.verify_payloads = true;
                        break;
                case 'n':
                        a->dry_run = true;
                        break;
                case 'S':
                        a->status = true;
                        break;
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
        if (argc - optind > 1) {
                cli_error("unexpected argument '%s'", argv[optind + 1]);
                return -EINVAL;
        }
        if (!a->o.esp) {
                cli_error("--esp DIR is required");
                return -EINVAL;
        }
        if (keys) {
                if ((!a->key && asprintf(&a->key, "%s/db.key", keys) < 0) ||
                    (!a->cert && asprintf(&a->cert, "%s/db.crt", keys) < 0))
                        return -ENOMEM;
        }
        if (!a->key || !a->cert) {
                cli_error("no signing key: give --keys DIR (DIR/db.key and DIR/db.crt) or --key and --cert");
                return -EINVAL;
        }
        if (no_sdboot)
                a->o.systemd_boot = NULL;
        if (!a->stub)
                a->stub = default_stub();
        for (size_t i = 0; i < a->o.n_profiles; i++) {
                if (a->root)
                        continue;
                char *abs = cli_absolute_path(a->o.profiles[i]);
                if (!abs)
                        return -ENOMEM;
                /* Keep the pointer in argv's lifetime: leak-free by storing in a side list is overkill here. */
                a->o.profiles[i] = abs;
        }
        if (a->root && strcmp(a->root, "/") == 0) {
                free(a->root);
                a->root = NULL;
        }
        a->o.root = a->root;
        a->o.stub = a->stub;
        a->o.key = a->key;
        a->o.cert = a->cert;
        return 1;
}

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static void print_json(const args *a, const install_plan *p, bool applied) {
        json_object *root = json_object_new_object(), *entries = json_object_new_array(),
                    *writes = json_object_new_array(), *removals = json_object_new_array();
        json_object_object_add(root, "esp", json_object_new_string(a->o.esp));
        json_object_object_add(root, "default", str_or_null(p->default_entry));
        json_object_object_add(root, "booted", str_or_null(p->booted_entry));
        json_object_object_add(root, "dry_run", json_object_new_boolean(!applied));
        for (size_t i = 0; i < p->n_entries; i++) {
                const install_entry *e = &p->entries[i];
                json_object *o = json_object_new_object();
                json_object_object_add(o, "profile", json_object_new_string(e->profile));
                json_object_object_add(o, "generation", json_object_new_uint64(e->generation));
                json_object_object_add(o, "specialisation", str_or_null(e->specialisation));
                json_object_object_add(o, "label", json_object_new_string(e->label));
                json_object_object_add(o, "stub", json_object_new_string(e->stub));
                json_object_object_add(o, "kernel", str_or_null(e->kernel));
                json_object_object_add(o, "initrd", str_or_null(e->initrd));
                json_object_object_add(o, "action", json_object_new_string(e->action == INSTALL_KEEP ? "keep" : "write"));
                json_object_object_add(o, "present", json_object_new_boolean(e->present));
                json_object_object_add(o, "signature", json_object_new_string(
                        e->present ? install_signature_state_name(e->signature) : "missing"));
                json_object_object_add(o, "files_ok", json_object_new_boolean(e->files_ok));
                json_object_array_add(entries, o);
        }
        for (size_t i = 0; i < p->n_writes; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "path", json_object_new_string(p->writes[i].path));
                json_object_object_add(o, "size", json_object_new_uint64(p->writes[i].size));
                json_object_object_add(o, "reason", json_object_new_string(p->writes[i].why));
                json_object_array_add(writes, o);
        }
        for (size_t i = 0; i < p->n_removals; i++)
                json_object_array_add(removals, json_object_new_string(p->removals[i]));
        json_object_object_add(root, "entries", entries);
        json_object_object_add(root, "writes", writes);
        json_object_object_add(root, "removals", removals);
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
}

static void print_text(const args *a, const install_plan *p, bool applied) {
        if (a->status) {
                for (size_t i = 0; i < p->n_entries; i++) {
                        const install_entry *e = &p->entries[i];
                        printf("%s generation %lu%s%s: %s\n", e->profile, e->generation,
                               e->specialisation ? " specialisation " : "", e->specialisation ? e->specialisation : "",
                               e->label);
                        printf("  stub %s: %s%s\n", e->stub,
                               e->present ? install_signature_state_name(e->signature) : "missing",
                               e->present ? (e->files_ok ? ", files ok" : ", files missing or wrong") : "");
                        if (e->kernel)
                                printf("  kernel %s\n", e->kernel);
                        if (e->initrd)
                                printf("  initrd %s\n", e->initrd);
                }
                printf("default %s\n", p->default_entry);
                if (p->booted_entry)
                        printf("booted %s\n", p->booted_entry);
        }
        const char *w = applied ? "wrote" : "would write", *r = applied ? "removed" : "would remove";
        for (size_t i = 0; i < p->n_writes; i++)
                printf("%s %s (%s)\n", w, p->writes[i].path, p->writes[i].why);
        for (size_t i = 0; i < p->n_removals; i++)
                printf("%s %s\n", r, p->removals[i]);
        if (p->n_writes == 0 && p->n_removals == 0)
                printf("%s\n", applied ? "nothing to do" : "up to date");
}

static int verb_install(int argc, char **argv) {
        args a = {};
        install_plan *p = NULL;
        predict_error err = {};
        int r, status = LANTERN_EXIT_INPUT;
        bool profiles_owned = false;

        r = parse_argv(argc, argv, &a);
        if (r <= 0) {
                if (r == -ENOMEM)
                        cli_error("out of memory");
                status = r == 0 ? LANTERN_EXIT_OK : LANTERN_EXIT_INPUT;
                goto finish;
        }
        profiles_owned = !a.root;
        const char *crash = getenv("LANTERN_INSTALL_CRASH_AFTER");
        crash_after = crash ? atoi(crash) : 0;
        a.o.after_step = after_step;

        r = install_plan_make(&a.o, &err, &p);
        if (r < 0) {
                cli_error("%s", err.message[0] ? err.message : strerror(-r));
                goto finish;
        }
        bool apply = !a.dry_run && !a.status;
        if (apply) {
                r = install_plan_apply(&a.o, p, &err);
                if (r < 0) {
                        cli_error("%s", err.message);
                        goto finish;
                }
        }
        if (a.json)
                print_json(&a, p, apply);
        else
                print_text(&a, p, apply);
        status = LANTERN_EXIT_OK;
        if (a.status)
                for (size_t i = 0; i < p->n_entries; i++)
                        if (p->entries[i].present &&
                            (p->entries[i].signature != INSTALL_SIGNATURE_VALID || !p->entries[i].files_ok))
                                status = LANTERN_EXIT_MISMATCH;
finish:
        if (profiles_owned)
                for (size_t i = 0; i < a.o.n_profiles; i++)
                        free(a.o.profiles[i]);
        install_plan_free(p);
        args_done(&a);
        return status;
}

/* lantern install build-stub [--section NAME=FILE]... STUB OUT */
static int verb_build_stub(int argc, char **argv) {
        static const struct option options[] = {
                { "section", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        install_pe_section secs[MAX_SECTIONS_ARG];
        uint8_t *datas[MAX_SECTIONS_ARG] = {}, *stub = NULL, *out = NULL;
        size_t n = 0, stub_size = 0, out_size = 0;
        char *names[MAX_SECTIONS_ARG] = {};
        int c, status = LANTERN_EXIT_INPUT;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's': {
                        char *eq = strchr(optarg, '=');
                        if (!eq || eq == optarg || eq - optarg > 8 || n == MAX_SECTIONS_ARG) {
                                cli_error("--section '%s': want NAME=FILE with a name of 1 to 8 bytes (at most %d)",
                                          optarg, MAX_SECTIONS_ARG);
                                goto finish;
                        }
                        names[n] = strndup(optarg, (size_t) (eq - optarg));
                        if (!names[n] || cli_read_file(eq + 1, INSTALL_PE_MAX_SIZE, &datas[n], &secs[n].size) < 0)
                                goto finish;
                        secs[n].name = names[n];
                        secs[n].data = datas[n];
                        n++;
                        break;
                }
                case 'h':
                        help(stdout);
                        status = LANTERN_EXIT_OK;
                        goto finish;
                default:
                        goto finish;
                }
        if (argc - optind != 2) {
                cli_error("build-stub wants STUB and OUT");
                goto finish;
        }
        if (cli_read_file(argv[optind], INSTALL_STUB_MAX, &stub, &stub_size) < 0)
                goto finish;
        measure_pe_error pe_err = {};
        int r = install_pe_add_sections(stub, stub_size, secs, n, &pe_err, &out, &out_size);
        if (r < 0) {
                cli_error("%s: offset %llu: %s", argv[optind], (unsigned long long) pe_err.offset,
                          pe_err.what ? pe_err.what : strerror(-r));
                goto finish;
        }
        r = install_write_file_atomic(argv[optind + 1], out, out_size, 0644);
        if (r < 0) {
                cli_error("%s: cannot write: %s", argv[optind + 1], strerror(-r));
                goto finish;
        }
        status = LANTERN_EXIT_OK;
finish:
        for (size_t i = 0; i < MAX_SECTIONS_ARG; i++) {
                free(names[i]);
                free(datas[i]);
        }
        free(stub);
        free(out);
        return status;
}

static int load_key_cert(const char *key_path, const char *cert_path, EVP_PKEY **ret_key, X509 **ret_cert) {
        int r;
        if (key_path) {
                r = install_pem_read_key(key_path, ret_key);
                if (r == -EBADMSG) {
                        cli_error("%s: not a PEM private key (or encrypted)", key_path);
                        return -EINVAL;
                }
                if (r < 0) {
                        cli_error("%s: cannot open: %s", key_path, strerror(-r));
                        return r;
                }
        }
        r = install_pem_read_cert(cert_path, ret_cert);
        if (r == -EBADMSG) {
                cli_error("%s: not a PEM certificate", cert_path);
                return -EINVAL;
        }
        if (r < 0) {
                cli_error("%s: cannot open: %s", cert_path, strerror(-r));
                return r;
        }
        return 0;
}

/* lantern install sign --key KEY --cert CERT IN OUT; lantern install verify --cert CERT FILE... */
static int verb_sign_or_verify(int argc, char **argv, bool sign) {
        static const struct option options[] = {
                { "key", required_argument, NULL, 'k' },
                { "cert", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *key_path = NULL, *cert_path = NULL;
        EVP_PKEY *key = NULL;
        X509 *cert = NULL;
        uint8_t *in = NULL, *out = NULL;
        size_t in_size = 0, out_size = 0;
        int c, r, status = LANTERN_EXIT_INPUT;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'k':
                        key_path = optarg;
                        break;
                case 'c':
                        cert_path = optarg;
                        break;
                case 'h':
                        help(stdout);
                        return LANTERN_EXIT_OK;
                default:
                        return LANTERN_EXIT_INPUT;
                }
        if (!cert_path || (sign && (!key_path || argc - optind != 2)) || (!sign && argc - optind < 1)) {
                cli_error(sign ? "sign wants --key KEY --cert CERT IN OUT" : "verify wants --cert CERT FILE...");
                return LANTERN_EXIT_INPUT;
        }
        if (load_key_cert(sign ? key_path : NULL, cert_path, &key, &cert) < 0)
                goto finish;
        if (sign) {
                measure_pe_error pe_err = {};
                if (cli_read_file(argv[optind], CLI_MAX_PE, &in, &in_size) < 0)
                        goto finish;
                r = install_authenticode_sign(in, in_size, key, cert, &pe_err, &out, &out_size);
                if (r < 0) {
                        if (r == -EBADMSG)
                                cli_error("%s: offset %llu: %s", argv[optind], (unsigned long long) pe_err.offset,
                                          pe_err.what);
                        else
                                cli_error("%s: cannot sign: %s", argv[optind],
                                          r == -EIO ? "the key does not match the certificate, or OpenSSL failed"
                                                    : strerror(-r));
                        goto finish;
                }
                r = install_write_file_atomic(argv[optind + 1], out, out_size, 0644);
                if (r < 0) {
                        cli_error("%s: cannot write: %s", argv[optind + 1], strerror(-r));
                        goto finish;
                }
                status = LANTERN_EXIT_OK;
                goto finish;
        }
        status = LANTERN_EXIT_OK;
        for (int i = optind; i < argc; i++) {
                install_signature_state st;
                free(in);
                in = NULL;
                if (cli_read_file(argv[i], CLI_MAX_PE, &in, &in_size) < 0) {
                        status = LANTERN_EXIT_INPUT;
                        goto finish;
                }
                r = install_authenticode_check(in, in_size, cert, &st);
                if (r < 0) {
                        cli_error("%s: not a PE file", argv[i]);
                        status = LANTERN_EXIT_INPUT;
                        goto finish;
                }
                printf("%s: %s\n", argv[i], install_signature_state_name(st));
                if (st != INSTALL_SIGNATURE_VALID)
                        status = LANTERN_EXIT_MISMATCH;
        }
finish:
        EVP_PKEY_free(key);
        X509_free(cert);
        free(in);
        free(out);
        return status;
}

int install_main(int argc, char **argv) {
        if (argc >= 2 && strcmp(argv[1], "build-stub") == 0)
                return verb_build_stub(argc - 1, argv + 1);
        if (argc >= 2 && strcmp(argv[1], "sign") == 0)
                return verb_sign_or_verify(argc - 1, argv + 1, true);
        if (argc >= 2 && strcmp(argv[1], "verify") == 0)
                return verb_sign_or_verify(argc - 1, argv + 1, false);
        return verb_install(argc, argv);
}
