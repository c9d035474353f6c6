/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-loadoptions.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define MAX_CMDLINE (1u << 20)

/* One UTF-8 sequence at s (n bytes left): its length and code point, UINT32_MAX when invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *ret) {
        size_t len;
        uint32_t c;

        if (!(s[0] & 0x80)) {
                *ret = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0) {
                len = 2;
                c = s[0] & 0x1f;
        } else if ((s[0] & 0xf0) == 0xe0) {
                len = 3;
                c = s[0] & 0x0f;
        } else if ((s[0] & 0xf8) == 0xf0) {
                len = 4;
                c = s[0] & 0x07;
        } else if ((s[0] & 0xfc) == 0xf8) {
                len = 5;
                c = s[0] & 0x03;
        } else if ((s[0] & 0xfe) == 0xfc) {
                len = 6;
                c = s[0] & 0x01;
        } else {
                *ret = UINT32_MAX;
                return 1;
        }
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
