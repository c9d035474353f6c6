/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"

int eventlog_main(int argc, char **argv) {
        cli_error("eventlog: not implemented yet");
        return LANTERN_EXIT_INPUT;
}
