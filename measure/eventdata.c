/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eventdata.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "buf.h"

/* ---- text building ---------------------------------------------------------------------------------- */

typedef struct sb {
        char *s;
        size_t n, cap;
        bool oom;
} sb;

static void sb_grow(sb *b, size_t extra) {
        if (b->oom)
                return;
        if (b->n + extra + 1 <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + extra + 1)
                cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
                b->oom = true;
                return;
        }
        b->s = s;
        b->cap = cap;
}

static void sb_putn(sb *b, const char *s, size_t n) {
        sb_grow(b, n);
        if (b->oom)
                return;
        memcpy(b->s + b->n, s, n);
        b->n += n;
        b->s[b->n] = 0;
}

static void sb_puts(sb *b, const char *s) {
        sb_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(sb *b, const char *fmt, ...) {
        char tmp[256];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                sb_putn(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
}

static void sb_hex(sb *b, const uint8_t *p, size_t n) {
        static const char digits[] = "0123456789abcdef";
        sb_grow(b, 2 * n);
        if (b->oom)
                return;
        for (size_t i = 0; i < n; i++) {
                b->s[b->n++] = digits[p[i] >> 4];
                b->s[b->n++] = digits[p[i] & 15];
        }
        b->s[b->n] = 0;
}

/* Printable ASCII as is, anything else as \xNN, so the text is safe on a terminal and in JSON. */
static void sb_ascii(sb *b, const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (p[i] >= 0x20 && p[i] < 0x7f)
                        sb_putn(b, (const char *) &p[i], 1);
                else
                        sb_printf(b, "\\x%02x", p[i]);
        }
}

static void sb_codepoint(sb *b, uint32_t c) {
        char u[4];
        if (c < 0x20 || c == 0x7f)
                sb_printf(b, "\\x%02x", c);
        else if (c < 0x80) {
                u[0] = (char) c;
                sb_putn(b, u, 1);
        } else if (c < 0x800) {
                u[0] = (char) (0xc0 | c >> 6);
                u[1] = (char) (0x80 | (c & 0x3f));
                sb_putn(b, u, 2);
        } else if (c < 0x10000) {
                u[0] = (char) (0xe0 | c >> 12);
                u[1] = (char) (0x80 | ((c >> 6) & 0x3f));
                u[2] = (char) (0x80 | (c & 0x3f));
                sb_putn(b, u, 3);
        } else {
                u[0] = (char) (0xf0 | c >> 18);
                u[1] = (char) (0x80 | ((c >> 12) & 0x3f));
                u[2] = (char) (0x80 | ((c >> 6) & 0x3f));
                u[3] = (char) (0x80 | (c & 0x3f));
                sb_putn(b, u, 4);
        }
}

/* UTF-16LE (n code units) to UTF-8, stopping at the first NUL; bad surrogates become U+FFFD. */
static void sb_utf16(sb *b, const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint32_t c = measure_le16(p + 2 * i);
                if (c == 0)
                        break;
                if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
                        uint32_t lo = measure_le16(p + 2 * (i + 1));
                        if (lo >= 0xdc00 && lo < 0xe000) {
                                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                                i++;
                        } else
                                c = 0xfffd;
                } else if (c >= 0xd800 && c < 0xe000)
                        c = 0xfffd;
                sb_codepoint(b, c);
        }
}

static char *sb_take(sb *b) {
        if (b->oom) {
                free(b->s);
                return NULL;
        }
        if (!b->s)
                return strdup("");
        return b->s;
}

char *measure_guid_to_text(const uint8_t g[16], char *buf) {
        snprintf(buf, 37, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", measure_le32(g),
                 measure_le16(g + 4), measure_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
        return buf;
}

static void sb_guid(sb *b, const uint8_t g[16]) {
        char t[37];
        sb_puts(b, measure_guid_to_text(g, t));
}

/* ---- string heuristics -------------------------------------------------------------------------------- */

/* UTF-16LE with one NUL at the end and none before it, no control characters. */
static bool looks_utf16(const uint8_t *p, size_t n) {
        if (n < 2 || n % 2 != 0 || measure_le16(p + n - 2) != 0)
                return false;
        for (size_t i = 0; i + 2 < n; i += 2) {
                uint16_t c = measure_le16(p + i);
                if (c < 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

/* Printable ASCII/UTF-8 bytes, optionally followed by NULs only. Returns the text length or -1. */
static ssize_t text_length(const uint8_t *p, size_t n) {
        size_t len = n;
        while (len > 0 && p[len - 1] == 0)
                len--;
        if (len == 0)
                return n > 0 ? 0 : -1;
        for (size_t i = 0; i < len; i++)
                if (p[i] < 0x20 || p[i] == 0x7f)
                        if (p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
                                return -1;
        return (ssize_t) len;
}

/* ---- fields ------------------------------------------------------------------------------------------- */

measure_eventdata *measure_eventdata_free(measure_eventdata *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_fields; i++) {
                free(d->fields[i].key);
                free(d->fields[i].text);
        }
        free(d->fields);
        free(d);
        return NULL;
}

static measure_field *field_new(measure_eventdata *d, const char *key) {
        if (d->n_fields == d->allocated) {
                size_t n = d->allocated ? d->allocated * 2 : 8;
                measure_field *f = realloc(d->fields, n * sizeof(*f));
                if (!f)
                        return NULL;
                d->fields = f;
                d->allocated = n;
        }
        char *k = strdup(key);
        if (!k)
                return NULL;
        measure_field *f = &d->fields[d->n_fields++];
        *f = (measure_field) { .key = k };
        return f;
}

static int add_text(measure_eventdata *d, const char *key, measure_field_kind kind, sb *text) {
        char *t = sb_take(text);
        *text = (sb) {};
        if (!t)
                return -ENOMEM;
        measure_field *f = field_new(d, key);
        if (!f) {
                free(t);
                return -ENOMEM;
        }
        f->kind = kind;
        f->text = t;
        return 0;
}

static int add_string(measure_eventdata *d, const char *key, const char *s) {
        sb b = {};
        sb_puts(&b, s);
        return add_text(d, key, MEASURE_FIELD_STRING, &b);
}

static int add_ascii(measure_eventdata *d, const char *key, const uint8_t *p, size_t n) {
        sb b = {};
        sb_ascii(&b, p, n);
        return add_text(d, key, MEASURE_FIELD_STRING, &b);
}

static int add_utf16(measure_eventdata *d, const char *key, const uint8_t *p, size_t n_units) {
        sb b = {};
        sb_utf16(&b, p, n_units);
        return add_text(d, key, MEASURE_FIELD_STRING, &b);
}

static int add_hex(measure_eventdata *d, const char *key, const uint8_t *p, size_t n) {
        sb b = {};
        sb_hex(&b, p, n);
        return add_text(d, key, MEASURE_FIELD_HEX, &b);
}

static int add_guid(measure_eventdata *d, const char *key, const uint8_t *g) {
        char t[37];
        return add_string(d, key, measure_guid_to_text(g, t));
}

static int add_uint(measure_eventdata *d, const char *key, uint64_t v) {
        measure_field *f = field_new(d, key);
        if (!f)
                return -ENOMEM;
        f->kind = MEASURE_FIELD_UINT;
        f->value = v;
        return 0;
}

/* A string of unknown encoding: UTF-16 when it looks like it, else text, else hex. */
static int add_some_string(measure_eventdata *d, const char *key, const uint8_t *p, size_t n) {
        ssize_t len;
        if (looks_utf16(p, n))
                return add_utf16(d, key, p, n / 2);
        if ((len = text_length(p, n)) >= 0)
                return add_ascii(d, key, p, (size_t) len);
        return add_hex(d, key, p, n);
}

__attribute__((format(printf, 3, 4)))
static int bad(measure_eventdata_error *err, size_t offset, const char *fmt, ...) {
        if (err) {
                va_list ap;
                err->offset = offset;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

#define NEED(b, n, what)                                                                                      \
        do {                                                                                                  \
                if (measure_buf_left(b) < (uint64_t) (n))                                                     \
                        return bad(err, (b)->pos, "truncated: %s needs %" PRIu64 " bytes, %zu left", what,    \
                                   (uint64_t) (n), measure_buf_left(b));                                      \
        } while (0)

#define TRY(expr)                                                                                             \
        do {                                                                                                  \
                int r_ = (expr);                                                                              \
                if (r_ < 0)                                                                                   \
                        return r_;                                                                            \
        } while (0)

static int expect_end(const measure_buf *b, measure_eventdata_error *err, const char *what) {
        if (measure_buf_left(b) != 0)
                return bad(err, b->pos, "%zu unexpected bytes after %s", measure_buf_left(b), what);
        return 0;
}

/* ---- device paths ------------------------------------------------------------------------------------- */

static void eisa_id(sb *b, uint32_t hid) {
        if ((hid & 0xffff) == 0x41d0) {
                sb_printf(b, "PNP%04" PRIX32, hid >> 16);
                return;
        }
        char v[3] = {
                (char) (((hid >> 10) & 0x1f) + 'A' - 1),
                (char) (((hid >> 5) & 0x1f) + 'A' - 1),
                (char) ((hid & 0x1f) + 'A' - 1),
        };
        sb_putn(b, v, 3);
        sb_printf(b, "%04" PRIX32, hid >> 16);
}

/* One node body (after the 4-byte header) as text. Returns 0 or -EBADMSG when the node is too short. */
static int devicepath_node(sb *b, uint8_t type, uint8_t sub, const uint8_t *p, size_t n, size_t at,
                           measure_eventdata_error *err) {
#define NODE(name, min)                                                                                       \
        do {                                                                                                  \
                if (n < (min))                                                                                \
                        return bad(err, at, "device path node %s has %zu data bytes, needs %d", name, n,      \
                                   (int) (min));                                                              \
        } while (0)
        switch (type << 8 | sub) {
        case 0x0101:
                NODE("Pci", 2);
                sb_printf(b, "Pci(0x%x,0x%x)", p[1], p[0]);
                return 0;
        case 0x0103:
                NODE("MemoryMapped", 20);
                sb_printf(b, "MemoryMapped(0x%" PRIx32 ",0x%" PRIx64 ",0x%" PRIx64 ")", measure_le32(p),
                          measure_le64(p + 4), measure_le64(p + 12));
                return 0;
        case 0x0104:
        case 0x030a:
        case 0x0403: {
                const char *name = type == 1 ? "VenHw" : type == 3 ? "VenMsg" : "VenMedia";
                NODE(name, 16);
                sb_printf(b, "%s(", name);
                sb_guid(b, p);
                if (n > 16) {
                        sb_puts(b, ",");
                        sb_hex(b, p + 16, n - 16);
                }
                sb_puts(b, ")");
                return 0;
        }
        case 0x0105:
                NODE("Ctrl", 4);
                sb_printf(b, "Ctrl(0x%" PRIx32 ")", measure_le32(p));
                return 0;
        case 0x0201: {
                NODE("Acpi", 8);
                uint32_t hid = measure_le32(p), uid = measure_le32(p + 4);
                if (hid == 0x0a0341d0)
                        sb_printf(b, "PciRoot(0x%" PRIx32 ")", uid);
                else if (hid == 0x0a0841d0)
                        sb_printf(b, "PcieRoot(0x%" PRIx32 ")", uid);
                else {
                        sb_puts(b, "Acpi(");
                        eisa_id(b, hid);
                        sb_printf(b, ",0x%" PRIx32 ")", uid);
                }
                return 0;
        }
        case 0x0203:
                NODE("AcpiAdr", 4);
                sb_printf(b, "AcpiAdr(0x%" PRIx32 ")", measure_le32(p));
                return 0;
        case 0x0301:
                NODE("Ata", 4);
                sb_printf(b, "Ata(0x%x,0x%x,0x%x)", p[0], p[1], measure_le16(p + 2));
                return 0;
        case 0x0302:
                NODE("Scsi", 4);
                sb_printf(b, "Scsi(0x%x,0x%x)", measure_le16(p), measure_le16(p + 2));
                return 0;
        case 0x0305:
                NODE("USB", 2);
                sb_printf(b, "USB(0x%x,0x%x)", p[0], p[1]);
                return 0;
        case 0x030b:
                NODE("MAC", 33);
                sb_puts(b, "MAC(");
                sb_hex(b, p, 6);
                sb_printf(b, ",0x%x)", p[32]);
                return 0;
        case 0x030c:
                NODE("IPv4", 8);
                sb_printf(b, "IPv4(%u.%u.%u.%u)", p[4], p[5], p[6], p[7]);
                return 0;
        case 0x0312:
                NODE("Sata", 6);
                sb_printf(b, "Sata(0x%x,0x%x,0x%x)", measure_le16(p), measure_le16(p + 2), measure_le16(p + 4));
                return 0;
        case 0x0317:
                NODE("NVMe", 12);
                sb_printf(b, "NVMe(0x%" PRIx32 ",%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X)", measure_le32(p),
                          p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]);
                return 0;
        case 0x0318:
                sb_puts(b, "Uri(");
                sb_ascii(b, p, n);
                sb_puts(b, ")");
                return 0;
        case 0x0401: {
                NODE("HD", 38);
                uint32_t part = measure_le32(p);
                uint64_t start = measure_le64(p + 4), size = measure_le64(p + 12);
                const uint8_t *sig = p + 20;
                uint8_t format = p[36], sigtype = p[37];
                if (sigtype == 2) {
                        sb_printf(b, "HD(%" PRIu32 ",GPT,", part);
                        sb_guid(b, sig);
                } else if (sigtype == 1)
                        sb_printf(b, "HD(%" PRIu32 ",MBR,0x%08" PRIx32, part, measure_le32(sig));
                else
                        sb_printf(b, "HD(%" PRIu32 ",%u,0", part, format);
                sb_printf(b, ",0x%" PRIx64 ",0x%" PRIx64 ")", start, size);
                return 0;
        }
        case 0x0402:
                NODE("CDROM", 20);
                sb_printf(b, "CDROM(0x%" PRIx32 ",0x%" PRIx64 ",0x%" PRIx64 ")", measure_le32(p),
                          measure_le64(p + 4), measure_le64(p + 12));
                return 0;
        case 0x0404:
                sb_utf16(b, p, n / 2);
                return 0;
        case 0x0405:
                NODE("Media", 16);
                sb_puts(b, "Media(");
                sb_guid(b, p);
                sb_puts(b, ")");
                return 0;
        case 0x0406:
        case 0x0407:
                NODE(sub == 6 ? "FvFile" : "Fv", 16);
                sb_puts(b, sub == 6 ? "FvFile(" : "Fv(");
                sb_guid(b, p);
                sb_puts(b, ")");
                return 0;
        case 0x0408:
                NODE("Offset", 20);
                sb_printf(b, "Offset(0x%" PRIx64 ",0x%" PRIx64 ")", measure_le64(p + 4), measure_le64(p + 12));
                return 0;
        default:
                sb_printf(b, "Path(%u,%u,", type, sub);
                sb_hex(b, p, n);
                sb_puts(b, ")");
                return 0;
        }
#undef NODE
}

/* Appends the text of a device path; *ret_consumed = bytes up to and including the End node. */
static int sb_devicepath(sb *b, const uint8_t *data, size_t size, size_t base, measure_eventdata_error *err) {
        measure_buf in = measure_buf_make(data, size);
        bool first = true;

        for (;;) {
                uint8_t type = 0, sub = 0;
                uint16_t len = 0;
                size_t at = in.pos;

                if (measure_buf_left(&in) == 0)
                        return bad(err, base + at, "device path has no end node");
                if (measure_buf_left(&in) < 4)
                        return bad(err, base + at, "truncated device path node: header needs 4 bytes, %zu left",
                                   measure_buf_left(&in));
                measure_buf_get_u8(&in, &type);
                measure_buf_get_u8(&in, &sub);
                measure_buf_get_u16(&in, &len);
                if (len < 4)
                        return bad(err, base + at + 2, "device path node length %u is below 4", len);
                if ((size_t) len - 4 > measure_buf_left(&in))
                        return bad(err, base + at + 2, "device path node length %u exceeds the %zu bytes left", len,
                                   measure_buf_left(&in) + 4);
                const uint8_t *body = in.data + in.pos;
                measure_buf_skip(&in, (size_t) len - 4);
                if (type == 0x7f) {
                        if (sub == 0xff)
                                return 0;
                        sb_puts(b, ",");
                        first = true;
                        continue;
                }
                if (!first)
                        sb_puts(b, "/");
                first = false;
                TRY(devicepath_node(b, type, sub, body, (size_t) len - 4, base + at, err));
        }
}

int measure_devicepath_to_text(const uint8_t *data, size_t size, char **ret, measure_eventdata_error *ret_error) {
        sb b = {};
        int r = sb_devicepath(&b, data, size, 0, ret_error);
        if (r < 0) {
                free(b.s);
                return r;
        }
        char *t = sb_take(&b);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

static int add_devicepath(measure_eventdata *d, const char *key, const uint8_t *p, size_t n, size_t base,
                          measure_eventdata_error *err) {
        sb b = {};
        int r = sb_devicepath(&b, p, n, base, err);
        if (r < 0) {
                free(b.s);
                return r;
        }
        return add_text(d, key, MEASURE_FIELD_STRING, &b);
}

/* ---- decoders ----------------------------------------------------------------------------------------- */

static const uint8_t efi_global_guid[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                             0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };

static int decode_no_action(measure_eventdata *d, const uint8_t *data, size_t size, measure_eventdata_error *err) {
        measure_buf b = measure_buf_make(data, size);
        const uint8_t *sig = NULL;

        if (size < 16 || text_length(data, 16) < 0)
                return add_hex(d, "data", data, size);
        measure_buf_get_bytes(&b, 16, &sig);
        TRY(add_ascii(d, "signature", sig, (size_t) text_length(sig, 16)));

        if (memcmp(sig, "StartupLocality\0", 16) == 0) {
                uint8_t locality = 0;
                NEED(&b, 1, "the locality");
                measure_buf_get_u8(&b, &locality);
                TRY(add_uint(d, "locality", locality));
                return expect_end(&b, err, "the locality");
        }
        if (memcmp(sig, "Spec ID Event03\0", 16) == 0 || memcmp(sig, "Spec ID Event00\0", 16) == 0) {
                bool agile = sig[14] == '3';
                uint32_t platform = 0, n = 0;
                uint8_t minor = 0, major = 0, errata = 0, uintn = 0, vendor = 0;
                char version[16];

                NEED(&b, 8, "the platform class and version");
                measure_buf_get_u32(&b, &platform);
                measure_buf_get_u8(&b, &minor);
                measure_buf_get_u8(&b, &major);
                measure_buf_get_u8(&b, &errata);
                measure_buf_get_u8(&b, &uintn);
                TRY(add_uint(d, "platform_class", platform));
                snprintf(version, sizeof(version), "%u.%u", major, minor);
                TRY(add_string(d, "spec_version", version));
                TRY(add_uint(d, "spec_errata", errata));
                TRY(add_uint(d, "uintn_size", uintn));
                if (agile) {
                        sb algs = {};
                        NEED(&b, 4, "the algorithm count");
                        measure_buf_get_u32(&b, &n);
                        if (n > MEASURE_EVENTLOG_MAX_ALGS)
                                return bad(err, b.pos - 4, "%" PRIu32 " algorithms (at most %d)", n,
                                           MEASURE_EVENTLOG_MAX_ALGS);
                        if (measure_buf_left(&b) < (size_t) n * 4) {
                                size_t left = measure_buf_left(&b);
                                return bad(err, b.pos, "truncated: the algorithm table needs %zu bytes, %zu left",
                                           (size_t) n * 4, left);
                        }
                        for (uint32_t i = 0; i < n; i++) {
                                uint16_t id = 0, sz = 0;
                                measure_buf_get_u16(&b, &id);
                                measure_buf_get_u16(&b, &sz);
                                const measure_alg *alg = measure_alg_by_id(id);
                                if (i > 0)
                                        sb_puts(&algs, ", ");
                                if (alg)
                                        sb_printf(&algs, "%s (%u bytes)", alg->name, sz);
                                else
                                        sb_printf(&algs, "0x%04x (%u bytes)", id, sz);
                        }
                        TRY(add_text(d, "algorithms", MEASURE_FIELD_STRING, &algs));
                }
                NEED(&b, 1, "the vendor info size");
                measure_buf_get_u8(&b, &vendor);
                NEED(&b, vendor, "the vendor info");
                TRY(add_hex(d, "vendor_info", b.data + b.pos, vendor));
                measure_buf_skip(&b, vendor);
                return expect_end(&b, err, "the vendor info");
        }
        if (measure_buf_left(&b) > 0)
                TRY(add_hex(d, "data", b.data + b.pos, measure_buf_left(&b)));
        return 0;
}

static int decode_blob(measure_eventdata *d, measure_buf *b, measure_eventdata_error *err) {
        uint64_t base = 0, length = 0;
        NEED(b, 16, "the blob base and length");
        measure_buf_get_u64(b, &base);
        measure_buf_get_u64(b, &length);
        TRY(add_uint(d, "blob_base", base));
        TRY(add_uint(d, "blob_length", length));
        return expect_end(b, err, "the blob");
}

static int decode_description(measure_eventdata *d, measure_buf *b, measure_eventdata_error *err) {
        uint8_t n = 0;
        NEED(b, 1, "the description size");
        measure_buf_get_u8(b, &n);
        NEED(b, n, "the description");
        ssize_t len = text_length(b->data + b->pos, n);
        TRY(add_ascii(d, "description", b->data + b->pos, len >= 0 ? (size_t) len : n));
        measure_buf_skip(b, n);
        return 0;
}

static const char *table_name(const uint8_t g[16]) {
        static const struct {
                uint8_t guid[16];
                const char *name;
        } tables[] = {
                { { 0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11, 0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81 },
                  "ACPI 2.0" },
                { { 0x30, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11, 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d },
                  "ACPI 1.0" },
                { { 0x31, 0x2d, 0x9d, 0xeb, 0x88, 0x2d, 0xd3, 0x11, 0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d },
                  "SMBIOS" },
                { { 0x44, 0x15, 0xfd, 0xf2, 0x94, 0x97, 0x2c, 0x4a, 0x99, 0x2e, 0xe5, 0xbb, 0xcf, 0x20, 0xe3, 0x94 },
                  "SMBIOS3" },
        };
        for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
                if (memcmp(tables[i].guid, g, 16) == 0)
                        return tables[i].name;
        return NULL;
}

static int decode_handoff(measure_eventdata *d, measure_buf *b, measure_eventdata_error *err) {
        uint64_t count = 0;
        NEED(b, 8, "the table count");
        measure_buf_get_u64(b, &count);
        if (count > measure_buf_left(b) / 24)
                return bad(err, b->pos - 8, "table count %" PRIu64 " does not fit in the %zu bytes left", count,
                           measure_buf_left(b));
        TRY(add_uint(d, "tables", count));
        for (uint64_t i = 0; i < count; i++) {
                const uint8_t *guid = NULL;
                uint64_t addr = 0;
                char key[32];
                sb t = {};

                measure_buf_get_bytes(b, 16, &guid);
                measure_buf_get_u64(b, &addr);
                sb_guid(&t, guid);
                if (table_name(guid))
                        sb_printf(&t, " (%s)", table_name(guid));
                sb_printf(&t, " at 0x%" PRIx64, addr);
                snprintf(key, sizeof(key), "table[%" PRIu64 "]", i);
                TRY(add_text(d, key, MEASURE_FIELD_STRING, &t));
        }
        return expect_end(b, err, "the tables");
}

static bool utf16_name_is(const uint8_t *p, uint64_t n_units, const char *ascii) {
        size_t len = strlen(ascii);
        /* The name length counts characters without a NUL, but some firmware counts the NUL too. */
        if (n_units != len && !(n_units == len + 1 && measure_le16(p + 2 * len) == 0))
                return false;
        for (size_t i = 0; i < len; i++)
                if (measure_le16(p + 2 * i) != (uint8_t) ascii[i])
                        return false;
        return true;
}

static bool is_hex4(uint16_t c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static bool is_boot_entry(const uint8_t *p, uint64_t n) {
        if (n != 8 && !(n == 9 && measure_le16(p + 16) == 0))
                return false;
        for (size_t i = 0; i < 4; i++)
                if (measure_le16(p + 2 * i) != (uint8_t) "Boot"[i])
                        return false;
        for (size_t i = 4; i < 8; i++)
                if (!is_hex4(measure_le16(p + 2 * i)))
                        return false;
        return true;
}

/* EFI_LOAD_OPTION: Attributes, FilePathListLength, Description (UTF-16, NUL), FilePathList, OptionalData. */
static int decode_load_option(measure_eventdata *d, measure_buf *b, measure_eventdata_error *err) {
        uint32_t attrs = 0;
        uint16_t fp_len = 0;
        size_t units = 0;

        NEED(b, 6, "the load option attributes and device path size");
        measure_buf_get_u32(b, &attrs);
        measure_buf_get_u16(b, &fp_len);
        TRY(add_uint(d, "attributes", attrs));
        size_t start = b->pos;
        for (;;) {
                NEED(b, 2, "the load option description");
                uint16_t c = 0;
                measure_buf_get_u16(b, &c);
                if (c == 0)
                        break;
                units++;
        }
        TRY(add_utf16(d, "description", b->data + start, units));
        NEED(b, fp_len, "the load option device path");
        TRY(add_devicepath(d, "device_path", b->data + b->pos, fp_len, b->pos, err));
        measure_buf_skip(b, fp_len);
        if (measure_buf_left(b) > 0)
                TRY(add_hex(d, "optional_data", b->data + b->pos, measure_buf_left(b)));
        return 0;
}

/* UEFI_VARIABLE_DATA: VariableName (GUID), UnicodeNameLength, VariableDataLength, UnicodeName, VariableData. */
static int decode_variable(measure_eventdata *d, const uint8_t *data, size_t size, measure_eventdata_error *err) {
        measure_buf b = measure_buf_make(data, size);
        const uint8_t *guid = NULL, *name = NULL, *value = NULL;
        uint64_t name_len = 0, data_len = 0;

        NEED(&b, 32, "the variable GUID and lengths");
        measure_buf_get_bytes(&b, 16, &guid);
        measure_buf_get_u64(&b, &name_len);
        measure_buf_get_u64(&b, &data_len);
        if (name_len > measure_buf_left(&b) / 2)
                return bad(err, 16, "variable name length %" PRIu64 " exceeds the %zu bytes left", name_len,
                           measure_buf_left(&b));
        measure_buf_get_bytes(&b, (size_t) name_len * 2, &name);
        if (data_len > measure_buf_left(&b))
                return bad(err, 24, "variable data length %" PRIu64 " exceeds the %zu bytes left", data_len,
                           measure_buf_left(&b));
        size_t value_offset = b.pos;
        measure_buf_get_bytes(&b, (size_t) data_len, &value);
        TRY(expect_end(&b, err, "the variable data"));

        TRY(add_guid(d, "vendor", guid));
        TRY(add_utf16(d, "name", name, (size_t) name_len));
        TRY(add_uint(d, "data_size", data_len));

        bool global = memcmp(guid, efi_global_guid, 16) == 0;
        measure_buf v = measure_buf_make(value, (size_t) data_len);
        if (global && utf16_name_is(name, name_len, "BootOrder")) {
                sb t = {};
                if (data_len % 2 != 0)
                        return bad(err, value_offset, "BootOrder has an odd size %" PRIu64, data_len);
                for (size_t i = 0; i < data_len / 2; i++)
                        sb_printf(&t, "%sBoot%04X", i ? "," : "", measure_le16(value + 2 * i));
                TRY(add_text(d, "boot_order", MEASURE_FIELD_STRING, &t));
        } else if (global && is_boot_entry(name, name_len)) {
                int r = decode_load_option(d, &v, err);
                if (r < 0) {
                        if (err)
                                err->offset += value_offset;
                        return r;
                }
        } else if (global && data_len == 1 &&
                   (utf16_name_is(name, name_len, "SecureBoot") || utf16_name_is(name, name_len, "SetupMode") ||
                    utf16_name_is(name, name_len, "AuditMode") || utf16_name_is(name, name_len, "DeployedMode"))) {
                TRY(add_uint(d, "value", value[0]));
        }
        return add_hex(d, "data", value, (size_t) data_len);
}

/* UEFI_IMAGE_LOAD_EVENT: location, length, link-time address, device path length, device path. */
static int decode_image(measure_eventdata *d, const uint8_t *data, size_t size, measure_eventdata_error *err) {
        measure_buf b = measure_buf_make(data, size);
        uint64_t location = 0, length = 0, link = 0, dp_len = 0;

        NEED(&b, 32, "the image location, length, link address and device path length");
        measure_buf_get_u64(&b, &location);
        measure_buf_get_u64(&b, &length);
        measure_buf_get_u64(&b, &link);
        measure_buf_get_u64(&b, &dp_len);
        TRY(add_uint(d, "image_location", location));
        TRY(add_uint(d, "image_length", length));
        TRY(add_uint(d, "image_link_time_address", link));
        if (dp_len > measure_buf_left(&b))
                return bad(err, 24, "device path length %" PRIu64 " exceeds the %zu bytes left", dp_len,
                           measure_buf_left(&b));
        if (dp_len > 0)
                TRY(add_devicepath(d, "device_path", b.data + b.pos, (size_t) dp_len, b.pos, err));
        measure_buf_skip(&b, (size_t) dp_len);
        return expect_end(&b, err, "the device path");
}

/* UEFI_GPT_DATA: EFI_PARTITION_TABLE_HEADER (92 bytes), NumberOfPartitions, the partition entries. */
static int decode_gpt(measure_eventdata *d, const uint8_t *data, size_t size, measure_eventdata_error *err) {
        measure_buf b = measure_buf_make(data, size);
        const uint8_t *hdr = NULL;
        uint64_t count = 0;

        NEED(&b, 92, "the GPT header");
        measure_buf_get_bytes(&b, 92, &hdr);
        if (memcmp(hdr, "EFI PART", 8) != 0)
                return bad(err, 0, "GPT header signature is not \"EFI PART\"");
        uint32_t entry_size = measure_le32(hdr + 84);
        TRY(add_guid(d, "disk_guid", hdr + 56));
        TRY(add_uint(d, "partition_entry_size", entry_size));
        if (entry_size < 128 || entry_size > 4096)
                return bad(err, 84, "partition entry size %" PRIu32 " (128 to 4096 allowed)", entry_size);
        NEED(&b, 8, "the partition count");
        measure_buf_get_u64(&b, &count);
        if (count > measure_buf_left(&b) / entry_size)
                return bad(err, 92, "partition count %" PRIu64 " does not fit in the %zu bytes left", count,
                           measure_buf_left(&b));
        TRY(add_uint(d, "partitions", count));
        for (uint64_t i = 0; i < count; i++) {
                const uint8_t *e = b.data + b.pos;
                char key[40], t[37];
                sb s = {};

                measure_buf_skip(&b, entry_size);
                sb_printf(&s, "type %s", measure_guid_to_text(e, t));
                sb_printf(&s, " guid %s", measure_guid_to_text(e + 16, t));
                sb_printf(&s, " lba 0x%" PRIx64 "-0x%" PRIx64 " attributes 0x%" PRIx64 " name \"",
                          measure_le64(e + 32), measure_le64(e + 40), measure_le64(e + 48));
                sb_utf16(&s, e + 56, 36);
                sb_puts(&s, "\"");
                snprintf(key, sizeof(key), "partition[%" PRIu64 "]", i);
                TRY(add_text(d, key, MEASURE_FIELD_STRING, &s));
        }
        return expect_end(&b, err, "the partition entries");
}

static const struct {
        uint32_t id;
        const char *name;
} event_tags[] = {
        { 0x8f3b22ec, "Linux initrd" },
        { 0x8f3b22ed, "Linux LoadOptions" },
        { 0xf5bc582a, "systemd-boot loader.conf" },
        { 0x6c46f751, "systemd-stub devicetree addon" },
        { 0x49dffe0f, "systemd-stub initrd addon" },
        { 0xdac08e1a, "systemd-stub ucode addon" },
        { 0x13aed6db, "systemd-stub UKI profile" },
        { 0xd5cb7cbc, "systemd-stub SMBIOS type 1" },
        { 0xe0d47bc8, "systemd-stub SMBIOS type 2" },
        { 0xc0b3bd23, "systemd-stub SMBIOS type 11" },
};

/* TCG_PCClientTaggedEvent: taggedEventID, taggedEventDataSize, taggedEventData. */
static int decode_tag(measure_eventdata *d, const uint8_t *data, size_t size, measure_eventdata_error *err) {
        measure_buf b = measure_buf_make(data, size);
        uint32_t id = 0, n = 0;
        char hex[16];

        NEED(&b, 8, "the tag id and size");
        measure_buf_get_u32(&b, &id);
        measure_buf_get_u32(&b, &n);
        snprintf(hex, sizeof(hex), "0x%08" PRIx32, id);
        TRY(add_string(d, "tag_id", hex));
        for (size_t i = 0; i < sizeof(event_tags) / sizeof(event_tags[0]); i++)
                if (event_tags[i].id == id)
                        TRY(add_string(d, "tag", event_tags[i].name));
        if (n > measure_buf_left(&b))
                return bad(err, 4, "tagged data size %" PRIu32 " exceeds the %zu bytes left", n, measure_buf_left(&b));
        TRY(add_some_string(d, "tag_data", b.data + b.pos, n));
        measure_buf_skip(&b, n);
        return expect_end(&b, err, "the tagged data");
}

int measure_eventdata_decode(uint32_t type, const uint8_t *data, size_t size, measure_eventdata **ret,
                             measure_eventdata_error *ret_error) {
        measure_eventdata_error *err = ret_error;
        measure_eventdata *d = calloc(1, sizeof(*d));
        measure_buf b = measure_buf_make(data, size);
        ssize_t len;
        int r = 0;

        if (!d)
                return -ENOMEM;
        switch (type) {
        case MEASURE_EV_NO_ACTION:
                r = decode_no_action(d, data, size, err);
                break;
        case MEASURE_EV_SEPARATOR:
                if (size == 4)
                        r = add_uint(d, "value", measure_le32(data));
                else
                        r = add_hex(d, "data", data, size);
                break;
        case MEASURE_EV_ACTION:
        case MEASURE_EV_EFI_ACTION:
        case MEASURE_EV_OMIT_BOOT_DEVICE_EVENTS:
                r = add_ascii(d, "string", data, size);
                break;
        case MEASURE_EV_POST_CODE:
        case MEASURE_EV_POST_CODE2:
        case MEASURE_EV_S_CRTM_CONTENTS:
                if ((len = text_length(data, size)) > 0)
                        r = add_ascii(d, "string", data, (size_t) len);
                else if (size == 16)
                        r = decode_blob(d, &b, err);
                else
                        r = add_hex(d, "data", data, size);
                break;
        case MEASURE_EV_S_CRTM_VERSION:
        case MEASURE_EV_IPL:
        case MEASURE_EV_COMPACT_HASH:
                r = add_some_string(d, "string", data, size);
                break;
        case MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB:
                r = decode_blob(d, &b, err);
                break;
        case MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB2:
                r = decode_description(d, &b, err);
                if (r >= 0)
                        r = decode_blob(d, &b, err);
                break;
        case MEASURE_EV_EFI_HANDOFF_TABLES:
                r = decode_handoff(d, &b, err);
                break;
        case MEASURE_EV_EFI_HANDOFF_TABLES2:
                r = decode_description(d, &b, err);
                if (r >= 0)
                        r = decode_handoff(d, &b, err);
                break;
        case MEASURE_EV_EFI_VARIABLE_DRIVER_CONFIG:
        case MEASURE_EV_EFI_VARIABLE_BOOT:
        case MEASURE_EV_EFI_VARIABLE_BOOT2:
        case MEASURE_EV_EFI_VARIABLE_AUTHORITY:
                r = decode_variable(d, data, size, err);
                break;
        case MEASURE_EV_EFI_BOOT_SERVICES_APPLICATION:
        case MEASURE_EV_EFI_BOOT_SERVICES_DRIVER:
        case MEASURE_EV_EFI_RUNTIME_SERVICES_DRIVER:
                r = decode_image(d, data, size, err);
                break;
        case MEASURE_EV_EFI_GPT_EVENT:
                r = decode_gpt(d, data, size, err);
                break;
        case MEASURE_EV_EVENT_TAG:
                r = decode_tag(d, data, size, err);
                break;
        default:
                r = add_hex(d, "data", data, size);
                break;
        }
        if (r < 0) {
                measure_eventdata_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

/* ---- digest checks ------------------------------------------------------------------------------------ */

const char *measure_digest_verdict_name(measure_digest_verdict v) {
        switch (v) {
        case MEASURE_DIGEST_MATCH:
                return "ok";
        case MEASURE_DIGEST_MISMATCH:
                return "mismatch";
        default:
                return "not checkable";
        }
}

/* Compares every computable digest of ev with the hash of the concatenation of parts. Returns MATCH,
 * MISMATCH (first bad algorithm in *ret_bad) or NOT_CHECKABLE when no digest could be computed. */
typedef struct part {
        const void *p;
        size_t n;
} part;

static measure_digest_verdict compare(const measure_event *ev, const part *parts, size_t n_parts, uint16_t *ret_bad,
                                      size_t *ret_checked) {
        size_t checked = 0;
        for (size_t i = 0; i < ev->n_digests; i++) {
                const measure_event_digest *dg = &ev->digests[i];
                uint8_t want[MEASURE_DIGEST_MAX];
                measure_hasher *h = NULL;

                if (!dg->alg || !measure_alg_available(dg->alg))
                        continue;
                if (measure_hasher_new(dg->alg, &h) < 0)
                        continue;
                bool okh = true;
                for (size_t k = 0; k < n_parts; k++)
                        okh = okh && measure_hasher_update(h, parts[k].p, parts[k].n) >= 0;
                okh = okh && measure_hasher_final(h, want) >= 0;
                measure_hasher_free(h);
                if (!okh)
                        continue;
                checked++;
                if (memcmp(want, dg->digest, dg->size) != 0) {
                        *ret_bad = dg->alg_id;
                        *ret_checked = checked;
                        return MEASURE_DIGEST_MISMATCH;
                }
        }
        *ret_checked = checked;
        return checked > 0 ? MEASURE_DIGEST_MATCH : MEASURE_DIGEST_NOT_CHECKABLE;
}

static measure_digest_verdict compare_data(const measure_event *ev, const void *p, size_t n, uint16_t *ret_bad,
                                           size_t *ret_checked) {
        part one = { p, n };
        return compare(ev, &one, 1, ret_bad, ret_checked);
}

/* Converts UTF-16 text with its NUL to ASCII with one NUL, if every character is ASCII. */
static bool utf16_to_ascii(const uint8_t *p, size_t n, char *buf, size_t bufsize, size_t *ret_len) {
        if (!looks_utf16(p, n) || n / 2 > bufsize)
                return false;
        for (size_t i = 0; i < n / 2; i++) {
                uint16_t c = measure_le16(p + 2 * i);
                if (c > 0x7f)
                        return false;
                buf[i] = (char) c;
        }
        *ret_len = n / 2;
        return true;
}

int measure_event_check_digest(const measure_event *ev, measure_digest_check *ret) {
        measure_digest_check c = { .verdict = MEASURE_DIGEST_NOT_CHECKABLE };
        uint16_t badalg = 0;

        switch (ev->type) {
        case MEASURE_EV_NO_ACTION: {
                /* TCG PC Client PFP 10.4.5: EV_NO_ACTION events are not extended; their digests are zero. */
                c.rule = "zero digest (EV_NO_ACTION)";
                c.verdict = MEASURE_DIGEST_MATCH;
                for (size_t i = 0; i < ev->n_digests; i++) {
                        c.n_checked++;
                        for (size_t k = 0; k < ev->digests[i].size; k++)
                                if (ev->digests[i].digest[k] != 0) {
                                        c.verdict = MEASURE_DIGEST_MISMATCH;
                                        c.mismatch_alg = ev->digests[i].alg_id;
                                }
                        if (c.verdict == MEASURE_DIGEST_MISMATCH)
                                break;
                }
                break;
        }
        case MEASURE_EV_SEPARATOR:
        case MEASURE_EV_ACTION:
        case MEASURE_EV_EFI_ACTION:
        case MEASURE_EV_OMIT_BOOT_DEVICE_EVENTS:
        case MEASURE_EV_S_CRTM_VERSION:
        case MEASURE_EV_EFI_GPT_EVENT:
        case MEASURE_EV_EFI_VARIABLE_DRIVER_CONFIG:
        case MEASURE_EV_EFI_VARIABLE_BOOT2:
        case MEASURE_EV_EFI_VARIABLE_AUTHORITY:
                c.rule = "hash of the event data";
                c.verdict = compare_data(ev, ev->data, ev->data_size, &badalg, &c.n_checked);
                break;
        case MEASURE_EV_EFI_VARIABLE_BOOT: {
                /* EDK2 measures only the variable's contents (VariableData) for boot variables. */
                measure_buf b = measure_buf_make(ev->data, ev->data_size);
                uint64_t name_len, data_len;
                c.rule = "hash of the variable data";
                if (!measure_buf_skip(&b, 16) || !measure_buf_get_u64(&b, &name_len) ||
                    !measure_buf_get_u64(&b, &data_len) || name_len > measure_buf_left(&b) / 2 ||
                    !measure_buf_skip(&b, (size_t) name_len * 2) || data_len != measure_buf_left(&b)) {
                        c.rule = "malformed UEFI_VARIABLE_DATA";
                        c.verdict = MEASURE_DIGEST_MISMATCH;
                        c.mismatch_alg = ev->n_digests > 0 ? ev->digests[0].alg_id : 0;
                        break;
                }
                c.verdict = compare_data(ev, b.data + b.pos, (size_t) data_len, &badalg, &c.n_checked);
                break;
        }
        case MEASURE_EV_IPL: {
                /* Text measured as logged (systemd-boot's command line, grub's strings), or a systemd-stub
                 * section name logged as UTF-16 but measured as ASCII with its NUL. Anything else (the
                 * section contents that share the name's description) covers data not in the log. */
                char ascii[256];
                size_t n;
                uint16_t b2 = 0;
                size_t k = 0;
                if (compare_data(ev, ev->data, ev->data_size, &b2, &k) == MEASURE_DIGEST_MATCH) {
                        c.rule = "hash of the event data";
                        c.verdict = MEASURE_DIGEST_MATCH;
                        c.n_checked = k;
                } else if (utf16_to_ascii(ev->data, ev->data_size, ascii, sizeof(ascii), &n) &&
                           compare_data(ev, ascii, n, &b2, &k) == MEASURE_DIGEST_MATCH) {
                        c.rule = "hash of the event text as ASCII with its NUL";
                        c.verdict = MEASURE_DIGEST_MATCH;
                        c.n_checked = k;
                } else
                        c.rule = "digest covers data that is not in the log";
                break;
        }
        case MEASURE_EV_EVENT_TAG: {
                uint16_t b2 = 0;
                size_t k = 0;
                if (ev->data_size >= 8 && measure_le32(ev->data + 4) == ev->data_size - 8 &&
                    compare_data(ev, ev->data + 8, ev->data_size - 8, &b2, &k) == MEASURE_DIGEST_MATCH) {
                        c.rule = "hash of the tagged data";
                        c.verdict = MEASURE_DIGEST_MATCH;
                        c.n_checked = k;
                } else
                        c.rule = "digest covers data that is not in the log";
                break;
        }
        default:
                c.rule = "digest covers data that is not in the log";
                break;
        }
        if (c.verdict == MEASURE_DIGEST_MISMATCH && !c.mismatch_alg)
                c.mismatch_alg = badalg;
        *ret = c;
        return 0;
}
