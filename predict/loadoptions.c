/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-loadoptions.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define MAX_CMDLINE (1u << 20)

/* How many leading one bits b has: 0 for ASCII, 1 for a continuation byte, else the length of the UTF-8
 * sequence it starts (the 5- and 6-byte forms of RFC 2279 too). */
static size_t leading_ones(unsigned char b) {
        size_t k = 0;
        while (k < 8 && (b & (0x80 >> k)))
                k++;
        return k;
}

/* One UTF-8 sequence at s (n bytes left): its length and code point, UINT32_MAX when invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *ret) {
        size_t len = leading_ones(s[0]);
        uint32_t c;

        if (len == 0) {
                *ret = s[0];
                return 1;
        }
        if (len < 2 || len > 6) {
                *ret = UINT32_MAX;
                return 1;
        }
        c = s[0] & (0x7f >> len);
        if (len > n) {
                *ret = UINT32_MAX;
                return len;
        }
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80) {
                        *ret = UINT32_MAX;
                        return len;
                }
                c = (c << 6) | (s[i] & 0x3f);
        }
        *ret = c;
        return len;
}

static bool is_whitespace(uint16_t c) {
        return c <= 0x20 || c == 0x7f;
}

static int to_bytes(const uint16_t *u, size_t n, uint8_t **ret, size_t *ret_size) {
        uint8_t *b = malloc(2 * (n + 1));
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                b[2 * i] = u[i] & 0xff;
                b[2 * i + 1] = u[i] >> 8;
        }
        b[2 * n] = b[2 * n + 1] = 0;
        *ret = b;
        *ret_size = 2 * (n + 1);
        return 0;
}

int predict_loadoptions_sdboot(const char *cmdline, size_t len, uint8_t **ret, size_t *ret_size) {
        const unsigned char *s = (const unsigned char *) cmdline;
        size_t n = 0, start = 0, end = 0;
        uint16_t *u;
        int r;

        if (len > MAX_CMDLINE)
                return -E2BIG;
        u = malloc((len + 1) * sizeof(uint16_t));
        if (!u)
                return -ENOMEM;
        while (len > 0 && *s) {
                uint32_t c;
                size_t k = utf8_next(s, len, &c);
                s += k;
                len = k > len ? 0 : len - k;
                if (c <= 0xd7ff || (c >= 0xe000 && c <= 0xffff))
                        u[n++] = (uint16_t) c;
        }
        /* mangle: skip leading whitespace, control characters become spaces, cut trailing whitespace */
        while (start < n && is_whitespace(u[start]))
                start++;
        size_t q = 0;
        for (size_t i = start; i < n; i++) {
                if (is_whitespace(u[i])) {
                        u[q++] = ' ';
                        continue;
                }
                u[q++] = u[i];
                end = q;
        }
        r = to_bytes(u, end, ret, ret_size);
        free(u);
        return r;
}

int predict_loadoptions_widen(const char *cmdline, size_t len, uint8_t **ret, size_t *ret_size) {
        uint16_t *u;
        size_t n = 0;
        int r;

        if (len > MAX_CMDLINE)
                return -E2BIG;
        u = malloc((len + 1) * sizeof(uint16_t));
        if (!u)
                return -ENOMEM;
        for (; n < len && cmdline[n]; n++)
                u[n] = (unsigned char) cmdline[n];
        r = to_bytes(u, n, ret, ret_size);
        free(u);
        return r;
}
