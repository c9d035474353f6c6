/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern pcr read: PCR values from a TPM, in every active bank or the ones asked for. */

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "tpm.h"

#define MAX_BANKS 8

static void pcr_usage(FILE *f) {
        fputs("Usage: lantern pcr read [--tcti CONF] [--bank B[,B...]] [--json] [PCRS]\n"
              "\n"
              "Reads PCR values from a TPM and prints one line per value: <bank> <pcr> <hex>.\n"
              "\n"
              "  --tcti CONF   TPM to use (e.g. swtpm:port=2321, device:/dev/tpmrm0);\n"
              "                default: $TPM2TOOLS_TCTI, else the tctildr default\n"
              "  --bank LIST   banks to read, e.g. sha1,sha256 (default: every active bank)\n"
              "  --json        print {\"<bank>\":{\"<pcr>\":\"<hex>\",...},...}\n"
              "  PCRS          e.g. 0,4,7 or 0-7,11 or all (default: all, 0-23)\n",
              f);
}

typedef struct pcr_args {
        const char *tcti;
        const measure_alg *banks[MAX_BANKS];
        size_t n_banks; /* 0: every active bank */
        uint32_t mask;
        bool json;
} pcr_args;

static int parse_argv(int argc, char **argv, pcr_args *ret) {
        static const struct option options[] = {
                { "tcti", required_argument, NULL, 'T' },
                { "bank", required_argument, NULL, 'b' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        pcr_args a = { .mask = (UINT32_C(1) << MEASURE_PCR_COUNT) - 1 };
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'T':
                        a.tcti = optarg;
                        break;
                case 'b':
                        if (cli_parse_banks(optarg, a.banks, MAX_BANKS, &a.n_banks) < 0)
                                return -EINVAL;
                        break;
                case 'j':
                        a.json = true;
                        break;
                case 'h':
                        pcr_usage(stdout);
                        return 0;
                default:
                        cli_error("pcr read: unknown or incomplete option '%s'", argv[optind - 1]);
                        return -EINVAL;
                }
        if (optind < argc && cli_parse_pcrs(argv[optind++], &a.mask) < 0)
                return -EINVAL;
        if (optind < argc) {
                cli_error("pcr read: unexpected argument '%s'", argv[optind]);
                return -EINVAL;
        }
        *ret = a;
        return 1;
}

/* Adds one bank's values to the JSON object, or prints them as text lines. */
static int output_bank(json_object *root, const measure_alg *alg, uint32_t mask,
                       uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX]) {
        char hex[2 * MEASURE_DIGEST_MAX + 1], key[4];
        json_object *bank = NULL;

        if (root) {
                bank = json_object_new_object();
                if (!bank || json_object_object_add(root, alg->name, bank) < 0) {
                        json_object_put(bank);
                        return -ENOMEM;
                }
        }
        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++) {
                if (!(mask & (UINT32_C(1) << pcr)))
                        continue;
                if (!root) {
                        cli_print_pcr(stdout, alg, pcr, values[pcr]);
                        continue;
                }
                snprintf(key, sizeof(key), "%u", pcr);
                json_object *v = json_object_new_string(measure_hex(values[pcr], alg->size, hex));
                if (!v || json_object_object_add(bank, key, v) < 0) {
                        json_object_put(v);
                        return -ENOMEM;
                }
        }
        return 0;
}

static int pcr_read(const pcr_args *a) {
        static uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
        const measure_alg *banks[MAX_BANKS];
        size_t n_banks = a->n_banks;
        char err[512] = "";
        attest_tpm *tpm = NULL;
        json_object *root = NULL;
        int ret = LANTERN_EXIT_INPUT, r;

        r = attest_tpm_open(a->tcti, &tpm, err, sizeof(err));
        if (r < 0) {
                cli_error("pcr read: cannot reach the TPM: %s", err);
                return LANTERN_EXIT_INPUT;
        }

        if (n_banks > 0)
                memcpy(banks, a->banks, n_banks * sizeof(banks[0]));
        else if (attest_tpm_active_banks(tpm, banks, MAX_BANKS, &n_banks, err, sizeof(err)) < 0) {
                cli_error("pcr read: %s", err);
                goto finish;
        }

        if (a->json && !(root = json_object_new_object())) {
                cli_error("pcr read: out of memory");
                goto finish;
        }
        for (size_t i = 0; i < n_banks; i++) {
                uint32_t got;
                r = attest_tpm_pcr_read(tpm, banks[i], a->mask, values, &got, err, sizeof(err));
                if (r < 0) {
                        cli_error("pcr read: %s bank: %s", banks[i]->name, err);
                        goto finish;
                }
                if (got == 0) {
                        cli_error("pcr read: bank %s is not active on this TPM", banks[i]->name);
                        goto finish;
                }
                if (got != a->mask)
                        cli_error("pcr read: the TPM returned only some of the %s PCRs asked for", banks[i]->name);
                if (output_bank(root, banks[i], got, values) < 0) {
                        cli_error("pcr read: out of memory");
                        goto finish;
                }
        }
        if (root)
                printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
                                                                            JSON_C_TO_STRING_SPACED |
                                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
        ret = fflush(stdout) == 0 ? LANTERN_EXIT_OK : LANTERN_EXIT_INPUT;
finish:
        json_object_put(root);
        attest_tpm_free(tpm);
        return ret;
}

int pcr_main(int argc, char **argv) {
        pcr_args a;
        int r;

        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                pcr_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        }
        if (strcmp(argv[1], "read") != 0) {
                cli_error("pcr: unknown verb '%s' (known: read)", argv[1]);
                return LANTERN_EXIT_INPUT;
        }
        r = parse_argv(argc - 1, argv + 1, &a);
        if (r <= 0)
                return r < 0 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        return pcr_read(&a);
}
