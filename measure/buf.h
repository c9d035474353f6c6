/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A bounds-checked little-endian reader over a byte buffer. Every get returns false on a short read and
 * then leaves the cursor where it was, so a parser can name the offset of the field that did not fit. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct measure_buf {
        const uint8_t *data;
        size_t size;
        size_t pos;
} measure_buf;

static inline measure_buf measure_buf_make(const void *data, size_t size) {
        return (measure_buf) { .data = data, .size = size, .pos = 0 };
}

static inline size_t measure_buf_left(const measure_buf *b) {
        return b->size - b->pos;
}

static inline bool measure_buf_get_bytes(measure_buf *b, size_t n, const uint8_t **ret) {
        if (n > measure_buf_left(b))
                return false;
        if (ret)
                *ret = b->data + b->pos;
        b->pos += n;
        return true;
}

static inline bool measure_buf_skip(measure_buf *b, size_t n) {
        return measure_buf_get_bytes(b, n, NULL);
}

static inline bool measure_buf_get_u8(measure_buf *b, uint8_t *ret) {
        const uint8_t *p;
        if (!measure_buf_get_bytes(b, 1, &p))
                return false;
        *ret = p[0];
        return true;
}

static inline bool measure_buf_get_u16(measure_buf *b, uint16_t *ret) {
        const uint8_t *p;
        if (!measure_buf_get_bytes(b, 2, &p))
                return false;
        *ret = (uint16_t) (p[0] | p[1] << 8);
        return true;
}

static inline bool measure_buf_get_u32(measure_buf *b, uint32_t *ret) {
        const uint8_t *p;
        if (!measure_buf_get_bytes(b, 4, &p))
                return false;
        *ret = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
        return true;
}

static inline bool measure_buf_get_u64(measure_buf *b, uint64_t *ret) {
        uint32_t lo, hi;
        size_t start = b->pos;
        if (!measure_buf_get_u32(b, &lo) || !measure_buf_get_u32(b, &hi)) {
                b->pos = start;
                return false;
        }
        *ret = (uint64_t) hi << 32 | lo;
        return true;
}

/* Little-endian loads from a pointer the caller has already bounds-checked. */
static inline uint16_t measure_le16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}
static inline uint32_t measure_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static inline uint64_t measure_le64(const uint8_t *p) {
        return (uint64_t) measure_le32(p + 4) << 32 | measure_le32(p);
}

/* Little-endian stores to a pointer the caller has already bounds-checked. */
static inline void measure_put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}
static inline void measure_put_le32(uint8_t *p, uint32_t v) {
        measure_put_le16(p, (uint16_t) v);
        measure_put_le16(p + 2, (uint16_t) (v >> 16));
}
