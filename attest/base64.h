/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Base64 encoding (RFC 4648 alphabet, padded, no line breaks), the form systemd's LUKS2 tokens and signed
 * policies and lanternd's JSON use. Decoders stay with their callers: each accepts a different strictness. */

#include <stddef.h>
#include <stdint.h>

/* The encoding of size bytes as a malloc'd NUL-terminated string, or NULL when out of memory or when size is
 * more than INT32_MAX / 2 bytes. */
char *attest_base64_encode(const uint8_t *data, size_t size);
