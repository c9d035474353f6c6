/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern attest: remote attestation against lanternd, and TPM2 quotes in tpm2-tools' file formats. */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ak.h"
#include "cli.h"
#include "client.h"
#include "quote.h"
#include "tpm.h"

/* PCRs quoted by default: the firmware's (0-7), the kernel's (9) and the stub's (11, 12). */
#define DEFAULT_PCRS "0-9,11,12"

static void attest_usage(FILE *f) {
        fputs("Usage: lantern attest --verifier URL [--tcti CONF] [--eventlog FILE] [--pcrs LIST] [--json]\n"
              "       lantern attest quote --nonce HEX [--pcrs LIST] --message F --signature F --pcr F\n"
              "                            [--ak-public F] [--tcti CONF]\n"
              "       lantern attest check-quote --ak-public F --message F --signature F --pcr F [--nonce HEX]\n"
              "                                  [--eventlog FILE]\n"
              "       lantern attest id [--tcti CONF]\n"
              "\n"
              "Attests this machine to lanternd: enrolls its AK when the verifier does not know it\n"
              "(credential activation against the EK certificate), quotes the PCRs with the verifier's\n"
              "nonce and sends the quote with the event log. Prints the verdict; exit 0 only on a pass.\n"
              "\n"
              "  --verifier URL   lanternd's base URL, e.g. http://127.0.0.1:7780\n"
              "  --tcti CONF      TPM to use (default: $TPM2TOOLS_TCTI, else the tctildr default)\n"
              "  --eventlog FILE  default " ATTEST_CLIENT_EVENTLOG_DEFAULT "\n"
              "  --pcrs LIST      sha256 PCRs to quote (default " DEFAULT_PCRS ")\n"
              "  --save-request F also write the attest request body to F\n"
              "  --json           print the verifier's answer as JSON\n"
              "\n"
              "quote: TPM2_Quote with the AK; writes tpm2-tools' formats: --message (TPMS_ATTEST),\n"
              "--signature (TPMT_SIGNATURE), --pcr (the values, concatenated), --ak-public (TPM2B_PUBLIC),\n"
              "so `tpm2_checkquote -u AK -m MSG -s SIG -f PCR -l sha256:LIST -q NONCE` checks them.\n"
              "check-quote: verifies such files (ours or tpm2_quote's with --pcrs_format values): the\n"
              "signature, the nonce, the PCR digest and, with --eventlog, the log's replay.\n"
              "id: prints the machine id the verifier uses (SHA-256 of the EK's public key).\n",
              f);
}

typedef struct attest_args {
        const char *verifier, *tcti, *eventlog, *nonce, *message, *signature, *pcr, *ak_public, *save_request;
        uint32_t pcrs;
        bool json;
} attest_args;

static int parse_argv(int argc, char **argv, const char *verb, attest_args *ret) {
        static const struct option options[] = {
                { "verifier", required_argument, NULL, 'v' },
                { "tcti", required_argument, NULL, 'T' },
                { "eventlog", required_argument, NULL, 'e' },
                { "pcrs", required_argument, NULL, 'p' },
                { "nonce", required_argument, NULL, 'n' },
                { "message", required_argument, NULL, 'm' },
                { "signature", required_argument, NULL, 's' },
                { "pcr", required_argument, NULL, 'f' },
                { "ak-public", required_argument, NULL, 'u' },
                { "save-request", required_argument, NULL, 'S' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        attest_args a = {};
        int c;

        cli_parse_pcrs(DEFAULT_PCRS, &a.pcrs);
        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'v':
                        a.verifier = optarg;
                        break;
                case 'T':
                        a.tcti = optarg;
                        break;
                case 'e':
                        a.eventlog = optarg;
                        break;
                case 'p':
                        if (cli_parse_pcrs(optarg, &a.pcrs) < 0)
                                return -EINVAL;
                        break;
                case 'n':
                        a.nonce = optarg;
                        break;
                case 'm':
                        a.message = optarg;
                        break;
                case 's':
                        a.signature = optarg;
                        break;
                case 'f':
                        a.pcr = optarg;
                        break;
                case 'u':
                        a.ak_public = optarg;
                        break;
                case 'S':
                        a.save_request = optarg;
                        break;
                case 'j':
                        a.json = true;
                        break;
                case 'h':
                        attest_usage(stdout);
                        return 0;
                default:
                        cli_error("attest%s%s: unknown or incomplete option '%s'", verb ? " " : "", verb ? verb : "",
                                  argv[optind - 1]);
                        return -EINVAL;
                }
        if (optind < argc) {
                cli_error("attest: unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        *ret = a;
        return 1;
}

static int parse_nonce(const char *hex, uint8_t *buf, size_t *ret_size) {
        size_t len = strlen(hex);
        if (len == 0 || len % 2 || len / 2 > ATTEST_NONCE_MAX || measure_unhex(hex, buf, len / 2) < 0) {
                cli_error("attest: --nonce '%s': want 1 to %d bytes of hex", hex, ATTEST_NONCE_MAX);
                return -EINVAL;
        }
        *ret_size = len / 2;
        return 0;
}

static int write_file(const char *path, const void *data, size_t size) {
        FILE *f = fopen(path, "we");
        if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
                cli_error("attest: cannot write %s: %s", path, strerror(errno));
                return -EIO;
        }
        return 0;
}

static int open_keys(const char *tcti, attest_tpm **tpm, attest_key *ak, uint8_t **cert, size_t *cert_size,
                     char *machine) {
        char err[512] = "";
        int r = attest_tpm_open(tcti, tpm, err, sizeof(err));
        if (r < 0) {
                cli_error("attest: cannot reach the TPM: %s", err);
                return r;
        }
        if (cert) {
                r = attest_ek_cert_read(*tpm, cert, cert_size, err, sizeof(err));
                if (r >= 0)
                        r = attest_machine_id(*cert, *cert_size, machine, err, sizeof(err));
                if (r < 0) {
                        cli_error("attest: EK certificate: %s", err);
                        return r;
                }
        }
        if (ak && (r = attest_ak_create(*tpm, ak, err, sizeof(err))) < 0) {
                cli_error("attest: cannot create the AK: %s", err);
                return r;
        }
        return 0;
}

static int verb_id(const attest_args *a) {
        attest_tpm *tpm = NULL;
        uint8_t *cert = NULL;
        size_t size = 0;
        char machine[ATTEST_MACHINE_ID_LEN + 1];
        int r = open_keys(a->tcti, &tpm, NULL, &cert, &size, machine);
        if (r >= 0)
                printf("%s\n", machine);
        free(cert);
        attest_tpm_free(tpm);
        return r < 0 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
}

static int verb_quote(const attest_args *a) {
        uint8_t nonce[ATTEST_NONCE_MAX], values[MEASURE_PCR_COUNT * 32], pub[sizeof(TPM2B_PUBLIC) + 8];
        size_t nonce_size, n, pub_size;
        attest_tpm *tpm = NULL;
        attest_key ak = { .handle = 0 };
        attest_quote *q = NULL;
        char err[512] = "";
        int ret = LANTERN_EXIT_INPUT;

        if (!a->nonce || !a->message || !a->signature || !a->pcr) {
                cli_error("attest quote: --nonce, --message, --signature and --pcr are required");
                return LANTERN_EXIT_INPUT;
        }
        if (parse_nonce(a->nonce, nonce, &nonce_size) < 0)
                return LANTERN_EXIT_INPUT;
        q = calloc(1, sizeof(*q));
        if (!q || open_keys(a->tcti, &tpm, &ak, NULL, NULL, NULL) < 0)
                goto finish;
        if (attest_quote_create(tpm, &ak, nonce, nonce_size, a->pcrs, q, err, sizeof(err)) < 0) {
                cli_error("attest quote: %s", err);
                goto finish;
        }
        n = attest_pcrs_to_values(&q->pcrs, values, sizeof(values));
        if (write_file(a->message, q->message, q->message_size) < 0 ||
            write_file(a->signature, q->signature, q->signature_size) < 0 || write_file(a->pcr, values, n) < 0)
                goto finish;
        if (a->ak_public && (attest_public_marshal(&ak.public, pub, sizeof(pub), &pub_size) < 0 ||
                             write_file(a->ak_public, pub, pub_size) < 0))
                goto finish;
        ret = LANTERN_EXIT_OK;
finish:
        attest_key_release(tpm, &ak);
        attest_tpm_free(tpm);
        free(q);
        return ret;
}

static int verb_check_quote(const attest_args *a) {
        uint8_t *msg = NULL, *sig = NULL, *vals = NULL, *pub = NULL, *log = NULL, nonce[ATTEST_NONCE_MAX];
        size_t msg_size, sig_size, vals_size, pub_size, log_size, nonce_size = 0;
        TPM2B_PUBLIC ak;
        attest_pcrs pcrs;
        uint32_t mask;
        char err[1536] = "";
        int r, ret = LANTERN_EXIT_INPUT;

        if (!a->ak_public || !a->message || !a->signature || !a->pcr) {
                cli_error("attest check-quote: --ak-public, --message, --signature and --pcr are required");
                return LANTERN_EXIT_INPUT;
        }
        if (a->nonce && parse_nonce(a->nonce, nonce, &nonce_size) < 0)
                return LANTERN_EXIT_INPUT;
        if (cli_read_file(a->ak_public, sizeof(TPM2B_PUBLIC), &pub, &pub_size) < 0 ||
            cli_read_file(a->message, ATTEST_MESSAGE_MAX, &msg, &msg_size) < 0 ||
            cli_read_file(a->signature, ATTEST_SIGNATURE_MAX, &sig, &sig_size) < 0 ||
            cli_read_file(a->pcr, MEASURE_PCR_COUNT * 32, &vals, &vals_size) < 0 ||
            (a->eventlog && cli_read_file(a->eventlog, CLI_MAX_EVENTLOG, &log, &log_size) < 0))
                goto finish;
        if (attest_public_parse(pub, pub_size, &ak, err, sizeof(err)) < 0) {
                cli_error("attest check-quote: %s: %s", a->ak_public, err);
                goto finish;
        }
        if (attest_quote_selection(msg, msg_size, &mask, err, sizeof(err)) < 0) {
                cli_error("attest check-quote: %s: %s", a->message, err);
                goto finish;
        }
        if (attest_pcrs_from_values(mask, vals, vals_size, &pcrs, err, sizeof(err)) < 0) {
                cli_error("attest check-quote: %s: %s", a->pcr, err);
                goto finish;
        }
        r = attest_quote_verify(&ak, msg, msg_size, sig, sig_size, a->nonce ? nonce : NULL, nonce_size, &pcrs, NULL,
                                err, sizeof(err));
        if (r == 0 && log)
                r = attest_eventlog_check(log, log_size, &pcrs, err, sizeof(err));
        if (r == -EPERM) {
                cli_error("attest check-quote: refused: %s", err);
                ret = LANTERN_EXIT_MISMATCH;
                goto finish;
        }
        if (r < 0) {
                cli_error("attest check-quote: %s", err);
                goto finish;
        }
        printf("quote verified: signature, %s%s%d sha256 PCRs\n", a->nonce ? "nonce, " : "",
               log ? "event log replay, " : "", __builtin_popcount(mask));
        ret = LANTERN_EXIT_OK;
finish:
        free(msg);
        free(sig);
        free(vals);
        free(pub);
        free(log);
        return ret;
}

static int verb_run(const attest_args *a) {
        attest_client_options o = {
                .verifier = a->verifier,
                .tcti = a->tcti,
                .eventlog = a->eventlog,
                .pcrs = a->pcrs,
                .timeout = 30,
                .save_request = a->save_request,
        };
        attest_client_result res = {};
        char err[1536] = "";
        json_object *v = NULL, *f;
        int r;

        if (!a->verifier) {
                cli_error("attest: --verifier URL is required");
                return LANTERN_EXIT_INPUT;
        }
        if (strncmp(a->verifier, "http://", 7) != 0 && strncmp(a->verifier, "https://", 8) != 0) {
                cli_error("attest: --verifier '%s': want an http:// or https:// URL", a->verifier);
                return LANTERN_EXIT_INPUT;
        }
        r = attest_client_run(&o, &res, err, sizeof(err));
        if (r < 0) {
                cli_error("attest: %s", err);
                return LANTERN_EXIT_INPUT;
        }
        if (a->json)
                printf("%s\n", res.verdict);
        else {
                v = json_tokener_parse(res.verdict);
                printf("machine %s%s\n", res.machine, res.enrolled_now ? " (enrolled now)" : "");
                printf("verdict %s\n", res.pass ? "pass" : "fail");
                if (v && json_object_object_get_ex(v, "reason", &f))
                        printf("reason %s\n", json_object_get_string(f));
                if (v && json_object_object_get_ex(v, "secret", &f))
                        printf("secret %s\n", json_object_get_string(f));
                json_object_put(v);
        }
        fflush(stdout);
        r = res.pass ? LANTERN_EXIT_OK : LANTERN_EXIT_MISMATCH;
        attest_client_result_done(&res);
        return r;
}

int attest_main(int argc, char **argv) {
        const char *verb = NULL;
        attest_args a;
        int r;

        if (argc < 2) {
                attest_usage(stderr);
                return LANTERN_EXIT_INPUT;
        }
        if (argv[1][0] != '-') {
                verb = argv[1];
                if (strcmp(verb, "quote") != 0 && strcmp(verb, "check-quote") != 0 && strcmp(verb, "id") != 0) {
                        cli_error("attest: unknown verb '%s' (known: quote, check-quote, id; or --verifier URL)", verb);
                        return LANTERN_EXIT_INPUT;
                }
                argc--;
                argv++;
        }
        r = parse_argv(argc, argv, verb, &a);
        if (r <= 0)
                return r < 0 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        if (!verb)
                return verb_run(&a);
        if (strcmp(verb, "quote") == 0)
                return verb_quote(&a);
        if (strcmp(verb, "check-quote") == 0)
                return verb_check_quote(&a);
        return verb_id(&a);
}
