/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern: measured boot and remote attestation for NixOS. */

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lantern-config.h"

static const cli_noun nouns[] = {
        { "eventlog", eventlog_main, "show, replay and verify TCG PC Client event logs" },
        { "pcr", pcr_main, "read PCR values from a TPM" },
        { "pe", pe_main, "PE/COFF sections and Authenticode hashes" },
        { "uki", uki_main, "predict the PCR 11 value a unified kernel image produces" },
        { "predict", predict_main, "predict each NixOS generation's PCR 11 from its bootspec" },
        { "keys", keys_main, "create and enroll Secure Boot keys (PK, KEK, db)" },
        { "install", install_main, "install NixOS generations onto the ESP as signed stubs with systemd-boot" },
        { "attest", attest_main, "attest this machine to lanternd; TPM2 quotes in tpm2-tools' formats" },
        { "policy", policy_main, "sign PCR 11 policies in systemd-measure's format" },
        { "luks", luks_main, "seal LUKS2 keys to (predicted) PCRs as systemd-tpm2 tokens, and unlock with them" },
};

static void usage(FILE *f) {
        fprintf(f, "Usage: lantern <command> [options]\n\nCommands:\n");
        for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
                fprintf(f, "  %-10s %s\n", nouns[i].name, nouns[i].help);
        fprintf(f, "\nRun 'lantern <command> --help' for a command's options.\n"
                   "Exit status: 0 success, 1 a check failed, 2 bad input or usage.\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return LANTERN_EXIT_INPUT;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
                usage(stdout);
                return LANTERN_EXIT_OK;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("lantern %s\n", LANTERN_VERSION);
                return LANTERN_EXIT_OK;
        }
        for (size_t i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
                if (strcmp(argv[1], nouns[i].name) == 0)
                        return nouns[i].main(argc - 1, argv + 1);
        cli_error("unknown command '%s'", argv[1]);
        usage(stderr);
        return LANTERN_EXIT_INPUT;
}
