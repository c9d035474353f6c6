/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Builds PE32 and PE32+ images byte by byte for the unit tests, so every field and offset is known from the
 * construction, not from the parser. The including file defines HEADERS first: SizeOfHeaders, which is
 * also the file offset of the first section's data. */

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#ifndef HEADERS
#error "define HEADERS (SizeOfHeaders of the built images) before including pe-builder.h"
#endif

#define LFANEW 0x40

typedef struct spec {
        const char *name;
        uint32_t vsize;     /* 0: the data length */
        const char *data;   /* raw data, padded with zeros to a multiple of 0x200 */
        uint32_t vaddr;     /* 0: 0x1000 * (index + 1) */
} spec;

static inline void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}
static inline void put32(uint8_t *p, uint32_t v) {
        put16(p, (uint16_t) v);
        put16(p + 2, (uint16_t) (v >> 16));
}

/* Offsets in a built PE. */
#define COFF (LFANEW + 4)
#define OPT (COFF + 20)
static inline size_t opt_size(bool pe32) {
        return pe32 ? 96 + 16 * 8 : 112 + 16 * 8;
}
static inline size_t table_offset(bool pe32) {
        return OPT + opt_size(pe32);
}

/* Builds a PE32 or PE32+ image with the given sections into buf (zeroed first); returns its size. */
static inline size_t build_pe(uint8_t *buf, size_t cap, bool pe32, const spec *s, size_t n) {
        size_t raw = HEADERS, table = table_offset(pe32);
        uint32_t image = 0x1000;

        memset(buf, 0, cap);
        buf[0] = 'M';
        buf[1] = 'Z';
        put32(buf + 0x3c, LFANEW);
        memcpy(buf + LFANEW, "PE\0\0", 4);
        put16(buf + COFF, 0x8664);
        put16(buf + COFF + 2, (uint16_t) n);
        put16(buf + COFF + 16, (uint16_t) opt_size(pe32));
        put16(buf + OPT, pe32 ? 0x10b : 0x20b);
        put32(buf + OPT + 32, 0x1000);   /* SectionAlignment */
        put32(buf + OPT + 36, 0x200);    /* FileAlignment */
        put32(buf + OPT + 60, HEADERS);  /* SizeOfHeaders */
        put32(buf + OPT + 64, 0x12345678); /* CheckSum: skipped by Authenticode */
        put16(buf + OPT + 68, 10);       /* EFI application */
        put32(buf + OPT + (pe32 ? 92 : 108), 16);
        for (size_t i = 0; i < n; i++) {
                uint8_t *h = buf + table + 40 * i;
                size_t len = strlen(s[i].data), rawsize = (len + 0x1ff) & ~(size_t) 0x1ff;
                uint32_t va = s[i].vaddr ? s[i].vaddr : (uint32_t) (0x1000 * (i + 1));
                uint32_t vs = s[i].vsize ? s[i].vsize : (uint32_t) len;
                memcpy(h, s[i].name, strlen(s[i].name) < 8 ? strlen(s[i].name) : 8);
                put32(h + 8, vs);
                put32(h + 12, va);
                put32(h + 16, (uint32_t) rawsize);
                put32(h + 20, (uint32_t) raw);
                put32(h + 36, 0x40000040);
                memcpy(buf + raw, s[i].data, len);
                raw += rawsize;
                if (va + vs > image)
                        image = (va + vs + 0xfff) & ~0xfffu;
        }
        put32(buf + OPT + 56, image);
        return raw;
}
