/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the boot chain makes of an entry's .cmdline text before it is measured and handed to Linux as
 * LoadOptions (UTF-16LE with a NUL, which is also what PCR 12 and PCR 9 hash):
 *   - systemd-boot 252-254 reads a type #2 entry's .cmdline as UTF-8, converts it to UCS-2 (invalid or short
 *     sequences and characters beyond U+FFFF are dropped, conversion stops at a NUL), turns control
 *     characters into spaces and cuts leading and trailing whitespace; it measures that into PCR 12 and passes
 *     it as LoadOptions;
 *   - the Lantern stub (like systemd-stub 252) widens its embedded .cmdline byte by byte when it uses it. */

#include <stddef.h>
#include <stdint.h>

/* UTF-16LE bytes including the terminating NUL: *ret is malloc'd, *ret_size counts bytes. */
int predict_loadoptions_sdboot(const char *cmdline, size_t len, uint8_t **ret, size_t *ret_size);
int predict_loadoptions_widen(const char *cmdline, size_t len, uint8_t **ret, size_t *ret_size);
