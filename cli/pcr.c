/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"

int pcr_main(int argc, char **argv) {
        cli_error("pcr: not implemented yet");
        return LANTERN_EXIT_INPUT;
}
