/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: LUKS2 token JSON as read from a disk header (systemd-tpm2 and lantern-tpm2 tokens). A token
 * that parses is written back and read again: the second text must equal the first (what Lantern writes, it
 * reads back unchanged). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "luks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        attest_luks_token t = {}, again = {};
        char err[512], *json, *first = NULL, *second = NULL;

        if (size > 1 << 20)
                return 0;
        json = malloc(size + 1);
        if (!json)
                return 0;
        memcpy(json, data, size);
        json[size] = '\0';
        if (attest_luks_token_from_json(json, &t, err, sizeof(err)) == 0) {
                /* A token read from disk has no keyslot of its own choosing only when keyslots is empty. */
                if (t.keyslot >= 0 && attest_luks_token_to_json(&t, &first) == 0) {
                        if (attest_luks_token_from_json(first, &again, err, sizeof(err)) != 0)
                                abort(); /* Lantern's own token text must parse */
                        if (attest_luks_token_to_json(&again, &second) != 0 || strcmp(first, second) != 0)
                                abort(); /* and give the same text again */
                        attest_luks_token_done(&again);
                }
                attest_luks_token_done(&t);
        }
        free(first);
        free(second);
        free(json);
        return 0;
}
