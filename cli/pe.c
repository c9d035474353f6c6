/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"

int pe_main(int argc, char **argv) {
        cli_error("pe: not implemented yet");
        return LANTERN_EXIT_INPUT;
}
