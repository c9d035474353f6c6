/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Minimal TAP-style checks for unit tests: each CHECK prints "ok - name" or "not ok - name"; the test
 * runner counts the lines. tap_done() returns the exit status. */

#include <stdio.h>
#include <string.h>

static int tap_failed;

#define CHECK(cond, ...)                                                                    \
        do {                                                                                \
                bool tap_ok_ = (cond);                                                      \
                printf("%s - ", tap_ok_ ? "ok" : "not ok");                                 \
                printf(__VA_ARGS__);                                                        \
                if (!tap_ok_) {                                                             \
                        printf("  (%s:%d: %s)", __FILE__, __LINE__, #cond);                 \
                        tap_failed++;                                                       \
                }                                                                           \
                putchar('\n');                                                              \
        } while (0)

#define CHECK_MEM(a, b, n, ...) CHECK(memcmp((a), (b), (n)) == 0, __VA_ARGS__)

static inline int tap_done(void) {
        fflush(stdout);
        return tap_failed ? 1 : 0;
}
