/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util.h"

void *stub_alloc(size_t size) {
        void *p = NULL;

        if (size == 0)
                return NULL;
        if (BS->AllocatePool(EfiLoaderData, size, &p) != EFI_SUCCESS)
                return NULL;
        return p;
}

void stub_free(void *p) {
        if (p)
                BS->FreePool(p);
}

size_t stub_strlen8(const char *s) {
        size_t n = 0;

        while (s[n])
                n++;
        return n;
}

bool stub_streq8(const char *a, const char *b) {
        for (; *a && *a == *b; a++, b++)
                ;
        return *a == *b;
}

CHAR16 *stub_ascii_to_utf16(const char *s) {
        size_t n = stub_strlen8(s);
        CHAR16 *r = stub_alloc((n + 1) * sizeof(CHAR16));

        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++)
                r[i] = (uint8_t) s[i];
        r[n] = 0;
        return r;
}

size_t stub_strsize16(const CHAR16 *s) {
        size_t n = 0;

        while (s[n])
                n++;
        return (n + 1) * sizeof(CHAR16);
}

/* The compiler and measure/pe.c may call memcmp; gnu-efi's libefi provides only memcpy and memset. */
int memcmp(const void *a, const void *b, size_t n) {
        const uint8_t *x = a, *y = b;

        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}
