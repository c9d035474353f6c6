/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Console messages, pool memory and small string helpers shared by the stub's files. */

#include <efi.h>
#include <efilib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STUB_LOG_PREFIX L"lantern-stub: "

/* One line on the console. Macros, not functions: gnu-efi's Print() takes the format's arguments through its
 * own va_list, which a sysv-ABI wrapper could not forward. */
#define log_info(fmt, ...) Print(STUB_LOG_PREFIX fmt L"\n", ##__VA_ARGS__)
/* Prints "<message>: <status>" and evaluates to the status, so callers can "return log_error_status(...)". */
#define log_error_status(status, fmt, ...)                                              \
        ({                                                                              \
                EFI_STATUS log_status_ = (status);                                      \
                Print(STUB_LOG_PREFIX fmt L": %r\n", ##__VA_ARGS__, log_status_);       \
                log_status_;                                                            \
        })

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

void *stub_alloc(size_t size);            /* NULL on failure (and for size 0) */
void stub_free(void *p);                  /* accepts NULL */
#define STUB_FREE(p) do { stub_free(p); (p) = NULL; } while (0)

size_t stub_strlen8(const char *s);
bool stub_streq8(const char *a, const char *b);
/* An ASCII string as a new UTF-16 string (what systemd-stub puts in event data); NULL on allocation failure. */
CHAR16 *stub_ascii_to_utf16(const char *s);
/* Size in bytes of a UTF-16 string including its NUL (systemd's strsize16). */
size_t stub_strsize16(const CHAR16 *s);

int memcmp(const void *a, const void *b, size_t n);
