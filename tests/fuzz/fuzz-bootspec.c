/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness for the bootspec reader: any bytes must parse or fail with a message, never crash,
 * leak or read out of bounds; a parsed document must give a command line and an os-release text. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "predict-bootspec.h"
#include "predict-cmdline.h"

/* The parser is compiled into the harness itself so that libFuzzer's coverage instrumentation sees its
 * branches (the predict library is built without it); the linker then takes these definitions and leaves
 * the library's copies out. */
#include "../../predict/bootspec.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        predict_error err = {};
        predict_bootspec *b = NULL;

        if (predict_bootspec_parse((const char *) data, size, "fuzz.json", &err, &b) < 0) {
                if (!memchr(err.message, 0, sizeof(err.message)) || strncmp(err.message, "fuzz.json: ", 11) != 0)
                        abort();
                return 0;
        }
        for (size_t i = 0; i <= b->n_specialisations; i++) {
                const predict_bootspec_v1 *v = i == 0 ? &b->v1 : &b->specialisations[i - 1].v1;
                char *cmdline = NULL, *osrel = NULL;
                if (predict_cmdline(v, &cmdline) == 0)
                        free(cmdline);
                if (predict_osrel(NULL, 0, v, i == 0 ? NULL : b->specialisations[i - 1].name, 7, &osrel) == 0)
                        free(osrel);
        }
        predict_bootspec_free(b);
        return 0;
}
