/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TCG event log walker, replay, event data decoders and digest checks, on logs built here byte by byte
 * (expected PCR values folded with OpenSSL directly) and on the captured boot logs in tests/fixtures/boot. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "eventdata.h"
#include "eventlog.h"
#include "tap.h"

/* ---- a little log builder ----------------------------------------------------------------------------- */

typedef struct out {
        uint8_t b[65536];
        size_t n;
} out;

static void put(out *o, const void *p, size_t n) {
        if (n)
                memcpy(o->b + o->n, p, n);
        o->n += n;
}
static void put8(out *o, uint8_t v) {
        put(o, &v, 1);
}
static void put16(out *o, uint16_t v) {
        uint8_t b[2] = { (uint8_t) v, (uint8_t) (v >> 8) };
        put(o, b, 2);
}
static void put32(out *o, uint32_t v) {
        put16(o, (uint16_t) v);
        put16(o, (uint16_t) (v >> 16));
}
static void put64(out *o, uint64_t v) {
        put32(o, (uint32_t) v);
        put32(o, (uint32_t) (v >> 32));
}
static void put_utf16(out *o, const char *s) {
        for (; *s; s++)
                put16(o, (uint8_t) *s);
        put16(o, 0);
}

static const EVP_MD *md_of(uint16_t alg) {
        switch (alg) {
        case 0x0004:
                return EVP_sha1();
        case 0x000B:
                return EVP_sha256();
        case 0x000C:
                return EVP_sha384();
        default:
                return NULL;
        }
}

static void evp_hash(uint16_t alg, const void *p, size_t n, uint8_t *ret) {
        unsigned len;
        EVP_Digest(n ? p : "", n, ret, &len, md_of(alg), NULL);
}

/* pcr = H(pcr || digest), with OpenSSL directly. */
static void evp_extend(uint16_t alg, uint8_t *pcr, const uint8_t *digest) {
        uint8_t buf[128];
        size_t n = (size_t) EVP_MD_get_size(md_of(alg));
        memcpy(buf, pcr, n);
        memcpy(buf + n, digest, n);
        evp_hash(alg, buf, 2 * n, pcr);
}

/* The algorithms of the built crypto-agile log: sha1, sha256 and one the registry does not know. */
static const struct {
        uint16_t id, size;
} log_algs[] = { { 0x0004, 20 }, { 0x000B, 32 }, { 0x0027, 32 } };
#define N_LOG_ALGS 3

static void put_header(out *o, uint32_t n_algs_field) {
        out spec = {};
        put(&spec, "Spec ID Event03", 16);
        put32(&spec, 0);  /* platform class: client */
        put8(&spec, 0);   /* minor */
        put8(&spec, 2);   /* major */
        put8(&spec, 0);   /* errata */
        put8(&spec, 2);   /* uintn size */
        put32(&spec, n_algs_field);
        for (size_t i = 0; i < N_LOG_ALGS; i++) {
                put16(&spec, log_algs[i].id);
                put16(&spec, log_algs[i].size);
        }
        put8(&spec, 0); /* vendor info size */

        put32(o, 0);
        put32(o, MEASURE_EV_NO_ACTION);
        uint8_t zero[20] = {};
        put(o, zero, 20);
        put32(o, (uint32_t) spec.n);
        put(o, spec.b, spec.n);
}

/* An event whose digests are H(hashed), or all zero when hashed is NULL; otherwise the unknown algorithm
 * gets 0x5a bytes. */
static void put_event2(out *o, uint32_t pcr, uint32_t type, const void *hashed, size_t hashed_n, const void *data,
                       size_t data_n) {
        put32(o, pcr);
        put32(o, type);
        put32(o, N_LOG_ALGS);
        for (size_t i = 0; i < N_LOG_ALGS; i++) {
                uint8_t d[64] = {};
                put16(o, log_algs[i].id);
                if (md_of(log_algs[i].id) && hashed)
                        evp_hash(log_algs[i].id, hashed, hashed_n, d);
                else if (hashed)
                        memset(d, 0x5a, sizeof(d));
                put(o, d, log_algs[i].size);
        }
        put32(o, (uint32_t) data_n);
        put(o, data, data_n);
}

static const char action[] = "Calling EFI Application from Boot Option";
static const uint8_t sep[4] = {};

/* Builds the test log; ret_ends gets the end offset of every record. */
static size_t build_agile(out *o, size_t *ret_ends, size_t *ret_n) {
        size_t n = 0;
        *o = (out) {};
        put_header(o, N_LOG_ALGS);
        ret_ends[n++] = o->n;
        put_event2(o, 0, MEASURE_EV_NO_ACTION, NULL, 0, "StartupLocality\0\3", 17);
        ret_ends[n++] = o->n;
        out crtm = {};
        put_utf16(&crtm, "1.0");
        put_event2(o, 0, MEASURE_EV_S_CRTM_VERSION, crtm.b, crtm.n, crtm.b, crtm.n);
        ret_ends[n++] = o->n;
        for (uint32_t pcr = 0; pcr < 2; pcr++) {
                put_event2(o, pcr, MEASURE_EV_SEPARATOR, sep, 4, sep, 4);
                ret_ends[n++] = o->n;
        }
        put_event2(o, 4, MEASURE_EV_EFI_ACTION, action, strlen(action), action, strlen(action));
        ret_ends[n++] = o->n;
        /* systemd-stub's section name: logged as UTF-16, measured as ASCII with its NUL. */
        out name = {};
        put_utf16(&name, ".linux");
        put_event2(o, 11, MEASURE_EV_IPL, ".linux", 7, name.b, name.n);
        ret_ends[n++] = o->n;
        /* ...and the section contents, which are not in the log. */
        put_event2(o, 11, MEASURE_EV_IPL, "kernel bytes", 12, name.b, name.n);
        ret_ends[n++] = o->n;
        *ret_n = n;
        return o->n;
}

static bool walk_all(const uint8_t *data, size_t size, size_t *ret_events, measure_eventlog_error *err) {
        measure_eventlog log;
        measure_eventlog_iter it;
        measure_event ev;
        size_t n = 0;
        int r;

        if (measure_eventlog_open(data, size, &log, err) < 0)
                return false;
        measure_eventlog_iter_init(&it, &log);
        while ((r = measure_eventlog_next(&it, &ev, err)) > 0) {
                measure_eventdata *d = NULL;
                measure_eventdata_error derr;
                measure_digest_check c;
                if (measure_eventdata_decode(ev.type, ev.data, ev.data_size, &d, &derr) == 0)
                        measure_eventdata_free(d);
                measure_event_check_digest(&ev, &c);
                n++;
        }
        if (r < 0)
                return false;
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        size_t nb;
        if (measure_eventlog_replay(&log, banks, &nb, err) < 0)
                return false;
        if (ret_events)
                *ret_events = n;
        return true;
}

static void test_agile(void) {
        static out o;
        size_t ends[16], n_ends;
        measure_eventlog log;
        measure_eventlog_error err = {};
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        size_t nb = 0;

        build_agile(&o, ends, &n_ends);
        CHECK(measure_eventlog_open(o.b, o.n, &log, &err) == 0, "crypto-agile log opens");
        CHECK(log.format == MEASURE_EVENTLOG_CRYPTO_AGILE && log.n_algs == 3, "format and algorithm count");
        CHECK(log.algs[0].alg && log.algs[1].alg && !log.algs[2].alg, "an unknown algorithm is kept without a bank");
        CHECK(log.spec_version_major == 2 && log.uintn_size == 2, "Spec ID version fields");

        measure_eventlog_iter it;
        measure_event ev;
        size_t i = 0;
        bool offsets_ok = true, checks_ok = true;
        measure_eventlog_iter_init(&it, &log);
        while (measure_eventlog_next(&it, &ev, &err) > 0) {
                size_t start = i == 0 ? 0 : ends[i - 1];
                offsets_ok &= ev.index == i && ev.offset == start && ev.offset + ev.record_size == ends[i];
                offsets_ok &= ev.header == (i == 0);
                measure_digest_check c;
                measure_event_check_digest(&ev, &c);
                /* Every event but the section contents has a digest defined by its data. */
                bool want_match = i != n_ends - 1;
                checks_ok &= want_match ? c.verdict == MEASURE_DIGEST_MATCH : c.verdict == MEASURE_DIGEST_NOT_CHECKABLE;
                if (want_match && c.verdict != MEASURE_DIGEST_MATCH)
                        printf("# event %zu: %s (%s)\n", i, measure_digest_verdict_name(c.verdict), c.rule);
                i++;
        }
        CHECK(i == n_ends && offsets_ok, "walker yields every record with its index and offset");
        CHECK(checks_ok, "digest checks: zero, data, UTF-16-as-ASCII match; section contents not checkable");

        CHECK(measure_eventlog_replay(&log, banks, &nb, &err) == 0 && nb == 2,
              "replay gives the sha1 and sha256 banks");
        bool values_ok = true;
        for (size_t b = 0; b < nb; b++) {
                uint16_t alg = banks[b].alg->id;
                size_t sz = banks[b].alg->size;
                uint8_t pcr0[64] = {}, pcr1[64] = {}, pcr4[64] = {}, pcr11[64] = {}, d[64];
                out crtm = {};

                pcr0[sz - 1] = 3; /* StartupLocality 3 */
                put_utf16(&crtm, "1.0");
                evp_hash(alg, crtm.b, crtm.n, d);
                evp_extend(alg, pcr0, d);
                evp_hash(alg, sep, 4, d);
                evp_extend(alg, pcr0, d);
                evp_extend(alg, pcr1, d);
                evp_hash(alg, action, strlen(action), d);
                evp_extend(alg, pcr4, d);
                evp_hash(alg, ".linux", 7, d);
                evp_extend(alg, pcr11, d);
                evp_hash(alg, "kernel bytes", 12, d);
                evp_extend(alg, pcr11, d);
                values_ok &= memcmp(banks[b].pcr[0], pcr0, sz) == 0 && memcmp(banks[b].pcr[1], pcr1, sz) == 0 &&
                             memcmp(banks[b].pcr[4], pcr4, sz) == 0 && memcmp(banks[b].pcr[11], pcr11, sz) == 0;
                values_ok &= banks[b].extended == ((1u << 0) | (1u << 1) | (1u << 4) | (1u << 11));
        }
        CHECK(values_ok, "replayed PCRs 0 (locality 3), 1, 4, 11 equal an OpenSSL fold; only they are extended");

        /* Every cut: a valid shorter log exactly at record ends, an error naming a reachable offset elsewhere. */
        bool cuts_ok = true;
        for (size_t k = 0; k < o.n; k++) {
                bool boundary = false;
                for (size_t j = 0; j < n_ends; j++)
                        boundary |= ends[j] == k;
                size_t n_events = 0;
                err = (measure_eventlog_error) {};
                bool ok = walk_all(o.b, k, &n_events, &err);
                if (ok != boundary || (!ok && (err.offset > k || !err.message[0]))) {
                        printf("# cut %zu: ok=%d offset=%zu %s\n", k, ok, err.offset, err.message);
                        cuts_ok = false;
                }
        }
        CHECK(cuts_ok, "every cut of the built log is either between records or an error at or before the cut");

        /* Data the digest does not cover: changing the action text keeps the replay, fails the check. */
        size_t at = ends[5] - strlen(action);
        o.b[at] ^= 0x20;
        measure_eventlog_open(o.b, o.n, &log, &err);
        measure_eventlog_iter_init(&it, &log);
        measure_digest_check c = {};
        while (measure_eventlog_next(&it, &ev, &err) > 0)
                if (ev.type == MEASURE_EV_EFI_ACTION)
                        measure_event_check_digest(&ev, &c);
        CHECK(c.verdict == MEASURE_DIGEST_MISMATCH && c.mismatch_alg == 0x0004,
              "edited action text is a sha1 mismatch");
        o.b[at] ^= 0x20;

        /* Relabel the separator of PCR 1 as a boot variable: the data no longer fits the claimed type. */
        size_t type_at = ends[3] + 4;
        o.b[type_at] = 0x02, o.b[type_at + 3] = 0x80;
        measure_eventlog_open(o.b, o.n, &log, &err);
        measure_eventlog_iter_init(&it, &log);
        c = (measure_digest_check) {};
        while (measure_eventlog_next(&it, &ev, &err) > 0)
                if (ev.type == MEASURE_EV_EFI_VARIABLE_BOOT)
                        measure_event_check_digest(&ev, &c);
        CHECK(c.verdict == MEASURE_DIGEST_MISMATCH, "a separator relabelled EV_EFI_VARIABLE_BOOT fails its check");
}

/* One error case: build the log, damage it, expect an error at exactly this index and offset. */
static void expect_error(const char *what, const uint8_t *data, size_t size, size_t index, size_t offset) {
        measure_eventlog_error err = {};
        bool ok = walk_all(data, size, NULL, &err);
        CHECK(!ok && err.index == index && err.offset == offset && err.message[0],
              "%s: error at event %zu offset 0x%zx", what, index, offset);
        if (ok || err.index != index || err.offset != offset)
                printf("#   got ok=%d event %zu offset 0x%zx: %s\n", ok, err.index, err.offset, err.message);
}

static void set32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v, p[1] = (uint8_t) (v >> 8), p[2] = (uint8_t) (v >> 16), p[3] = (uint8_t) (v >> 24);
}

static void test_errors(void) {
        static out o, d;
        size_t ends[16], n;

        build_agile(&o, ends, &n);
        expect_error("empty log", o.b, 0, 0, 0);

        /* Header: 32 bytes of TCG_PCR_EVENT, then the Spec ID: signature 16, class 4, version 4, count at 0x38. */
        d = o;
        set32(d.b + 0x38, 0);
        expect_error("Spec ID with 0 algorithms", d.b, d.n, 0, 0x38);
        set32(d.b + 0x38, 0xffffffff);
        expect_error("Spec ID with 2^32-1 algorithms", d.b, d.n, 0, 0x38);
        d = o;
        d.b[0x3c + 4 + 2] = 20; /* sha256 given 20 bytes */
        expect_error("Spec ID sha256 digest size 20", d.b, d.n, 0, 0x3c + 4 + 2);
        d = o;
        d.b[0x3c + 4] = 0x04; /* second algorithm sha1 again */
        expect_error("Spec ID lists sha1 twice", d.b, d.n, 0, 0x3c + 4);
        d = o;
        set32(d.b + 28, 0xffffffff);
        expect_error("header event size 2^32-1", d.b, d.n, 0, 28);
        d = o;
        d.b[0x3c + 12] = 1; /* vendor info size 1 eats the next record's first byte... */
        expect_error("vendor info past the Spec ID event", d.b, d.n, 0, 0x3c + 13);

        /* Event 1 (StartupLocality): PCR, type, count at +8, then sha1 alg at +12. */
        size_t e1 = ends[0];
        d = o;
        set32(d.b + e1 + 8, 0);
        expect_error("digest count 0", d.b, d.n, 1, e1 + 8);
        set32(d.b + e1 + 8, 0x7fffffff);
        expect_error("digest count 2^31-1", d.b, d.n, 1, e1 + 8);
        d = o;
        d.b[e1 + 12] = 0x99;
        expect_error("digest algorithm not in the Spec ID", d.b, d.n, 1, e1 + 12);
        d = o;
        d.b[e1 + 12 + 22] = 0x04; /* the sha256 entry says sha1 */
        expect_error("digest algorithm twice", d.b, d.n, 1, e1 + 12 + 22);
        size_t size_at = e1 + 12 + (2 + 20) + (2 + 32) + (2 + 32);
        d = o;
        set32(d.b + size_at, 0xfffffff0);
        expect_error("event size 2^32-16", d.b, d.n, 1, size_at);
        d = o;
        set32(d.b + e1, 24);
        expect_error("PCR index 24", d.b, d.n, 1, e1);
        d = o;
        set32(d.b + ends[n - 2] + 12 + 22 + 34 + 34, (uint32_t) (o.n - ends[n - 1]) + 14 + 1);
        expect_error("last event's size one past the end", d.b, d.n, n - 1, ends[n - 2] + 12 + 22 + 34 + 34);
}

static void test_sha1_format(void) {
        static out o;
        const char *strings[] = { "POST CODE", "Calling EFI Application from Boot Option" };
        uint32_t pcrs[] = { 0, 4 };
        uint8_t want0[20] = {}, want4[20] = {}, d[20];

        for (size_t i = 0; i < 2; i++) {
                put32(&o, pcrs[i]);
                put32(&o, i == 0 ? MEASURE_EV_POST_CODE : MEASURE_EV_EFI_ACTION);
                evp_hash(0x0004, strings[i], strlen(strings[i]), d);
                put(&o, d, 20);
                put32(&o, (uint32_t) strlen(strings[i]));
                put(&o, strings[i], strlen(strings[i]));
                evp_extend(0x0004, pcrs[i] == 0 ? want0 : want4, d);
        }
        put32(&o, 0);
        put32(&o, MEASURE_EV_SEPARATOR);
        evp_hash(0x0004, sep, 4, d);
        put(&o, d, 20);
        put32(&o, 4);
        put(&o, sep, 4);
        evp_extend(0x0004, want0, d);

        measure_eventlog log;
        measure_eventlog_error err;
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        size_t n = 0;
        CHECK(measure_eventlog_open(o.b, o.n, &log, &err) == 0 && log.format == MEASURE_EVENTLOG_SHA1,
              "SHA-1 format log opens as such");
        CHECK(measure_eventlog_replay(&log, banks, &n, &err) == 0 && n == 1 && banks[0].alg->id == 0x0004,
              "SHA-1 log replays into the sha1 bank only");
        CHECK(memcmp(banks[0].pcr[0], want0, 20) == 0 && memcmp(banks[0].pcr[4], want4, 20) == 0,
              "SHA-1 log PCRs 0 and 4 equal an OpenSSL fold");
        bool cuts_ok = true;
        size_t ends[] = { 8 + 20 + 4 + 9, 8 + 20 + 4 + 9 + 32 + 40, o.n };
        for (size_t k = 0; k < o.n; k++) {
                bool boundary = k == ends[0] || k == ends[1];
                err = (measure_eventlog_error) {};
                bool ok = walk_all(o.b, k, NULL, &err);
                cuts_ok &= ok == boundary && (ok || err.offset <= k);
        }
        CHECK(cuts_ok, "every cut of the SHA-1 log is between records or an error");
}

/* ---- decoders ----------------------------------------------------------------------------------------- */

static const char *field(const measure_eventdata *d, const char *key) {
        static char buf[64];
        for (size_t i = 0; i < d->n_fields; i++)
                if (strcmp(d->fields[i].key, key) == 0) {
                        if (d->fields[i].kind == MEASURE_FIELD_UINT) {
                                snprintf(buf, sizeof(buf), "%llu", (unsigned long long) d->fields[i].value);
                                return buf;
                        }
                        return d->fields[i].text;
                }
        return NULL;
}

static bool field_is(const measure_eventdata *d, const char *key, const char *want) {
        const char *got = field(d, key);
        if (!got || strcmp(got, want) != 0) {
                printf("#   %s: got \"%s\", want \"%s\"\n", key, got ? got : "(none)", want);
                return false;
        }
        return true;
}

static void put_node(out *o, uint8_t type, uint8_t sub, const void *body, size_t n) {
        put8(o, type);
        put8(o, sub);
        put16(o, (uint16_t) (n + 4));
        put(o, body, n);
}

static const uint8_t esp_guid[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                      0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b };
#define ESP_GUID_TEXT "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"

/* PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)/HD(1,GPT,<esp guid>,0x800,0x100000)/\EFI\BOOT\BOOTX64.EFI */
static void put_disk_path(out *o) {
        out b = {};
        put32(&b, 0x0a0341d0), put32(&b, 0);
        put_node(o, 2, 1, b.b, b.n);
        b = (out) {};
        put8(&b, 2), put8(&b, 0x1f);
        put_node(o, 1, 1, b.b, b.n);
        b = (out) {};
        put16(&b, 0), put16(&b, 0xffff), put16(&b, 0);
        put_node(o, 3, 0x12, b.b, b.n);
        b = (out) {};
        put32(&b, 1), put64(&b, 0x800), put64(&b, 0x100000), put(&b, esp_guid, 16), put8(&b, 2), put8(&b, 2);
        put_node(o, 4, 1, b.b, b.n);
        b = (out) {};
        put_utf16(&b, "\\EFI\\BOOT\\BOOTX64.EFI");
        put_node(o, 4, 4, b.b, b.n);
        put_node(o, 0x7f, 0xff, NULL, 0);
}
#define DISK_PATH_TEXT                                                                                        \
        "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)/HD(1,GPT," ESP_GUID_TEXT                             \
        ",0x800,0x100000)/\\EFI\\BOOT\\BOOTX64.EFI"

static measure_eventdata *decode(uint32_t type, const out *o, measure_eventdata_error *err) {
        measure_eventdata *d = NULL;
        measure_eventdata_error e = {};
        if (measure_eventdata_decode(type, o->b, o->n, &d, err ? err : &e) < 0)
                return NULL;
        return d;
}

static void test_devicepaths(void) {
        out o = {};
        char *text = NULL;
        measure_eventdata_error err = {};

        put_disk_path(&o);
        CHECK(measure_devicepath_to_text(o.b, o.n, &text, &err) == 0 && strcmp(text, DISK_PATH_TEXT) == 0,
              "hard drive device path as UEFI text");
        if (text && strcmp(text, DISK_PATH_TEXT) != 0)
                printf("#   got %s\n", text);
        free(text);

        /* Fv(guid)/FvFile(guid), then an end-of-instance, VenMedia, MemoryMapped, Uri, NVMe, an unknown node. */
        o = (out) {};
        put_node(&o, 4, 7, esp_guid, 16);
        put_node(&o, 4, 6, esp_guid, 16);
        put_node(&o, 0x7f, 0x01, NULL, 0);
        put_node(&o, 4, 3, esp_guid, 16);
        out b = {};
        put32(&b, 11), put64(&b, 0x1000), put64(&b, 0x1fff);
        put_node(&o, 1, 3, b.b, b.n);
        put_node(&o, 3, 0x18, "http://10.0.2.2/x.efi", 21);
        b = (out) {};
        put32(&b, 1), put64(&b, 0x0102030405060708ull);
        put_node(&o, 3, 0x17, b.b, b.n);
        put_node(&o, 9, 9, "\xab\xcd", 2);
        put_node(&o, 0x7f, 0xff, NULL, 0);
        text = NULL;
        const char *want = "Fv(" ESP_GUID_TEXT ")/FvFile(" ESP_GUID_TEXT "),VenMedia(" ESP_GUID_TEXT
                           ")/MemoryMapped(0xb,0x1000,0x1fff)/Uri(http://10.0.2.2/x.efi)/"
                           "NVMe(0x1,08-07-06-05-04-03-02-01)/Path(9,9,abcd)";
        CHECK(measure_devicepath_to_text(o.b, o.n, &text, &err) == 0 && strcmp(text, want) == 0,
              "firmware volume, vendor, memory, URI, NVMe and unknown nodes as text");
        if (text && strcmp(text, want) != 0)
                printf("#   got %s\n", text);
        free(text);

        /* Broken paths. */
        o = (out) {};
        put_node(&o, 4, 4, "a\0", 2);
        CHECK(measure_devicepath_to_text(o.b, o.n, &text, &err) == -EBADMSG && err.offset == o.n,
              "a path without an end node is an error at its end");
        o.b[2] = 3;
        CHECK(measure_devicepath_to_text(o.b, o.n, &text, &err) == -EBADMSG && err.offset == 2,
              "a node length below 4 is an error at the length");
        o.b[2] = 0xff;
        CHECK(measure_devicepath_to_text(o.b, o.n, &text, &err) == -EBADMSG && err.offset == 2,
              "a node longer than the path is an error at the length");
        o = (out) {};
        put_node(&o, 4, 1, "\1\0\0\0", 4);
        put_node(&o, 0x7f, 0xff, NULL, 0);
        CHECK(measure_devicepath_to_text(o.b, o.n, &text, &err) == -EBADMSG && err.offset == 0,
              "a hard drive node too short for its fields is an error");
}

static void test_decoders(void) {
        measure_eventdata *d;
        measure_eventdata_error err = {};
        out o = {}, p = {};

        /* EV_EFI_BOOT_SERVICES_APPLICATION: UEFI_IMAGE_LOAD_EVENT. */
        put_disk_path(&p);
        put64(&o, 0x1c4d9018), put64(&o, 0x8eda10), put64(&o, 0), put64(&o, p.n), put(&o, p.b, p.n);
        d = decode(MEASURE_EV_EFI_BOOT_SERVICES_APPLICATION, &o, NULL);
        CHECK(d && field_is(d, "image_location", "474845208") && field_is(d, "image_length", "9361936") &&
              field_is(d, "device_path", DISK_PATH_TEXT), "boot services application: location, length, path");
        measure_eventdata_free(d);
        o.b[24] = 0xff; /* device path length beyond the data */
        CHECK(!decode(MEASURE_EV_EFI_BOOT_SERVICES_APPLICATION, &o, &err) && err.offset == 24,
              "image event with a device path length past the end fails at offset 24");

        /* EV_EFI_VARIABLE_BOOT: Boot0001 with an EFI_LOAD_OPTION. */
        static const uint8_t global[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                            0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
        out opt = {};
        put32(&opt, 1), put16(&opt, (uint16_t) p.n), put_utf16(&opt, "Linux"), put(&opt, p.b, p.n);
        o = (out) {};
        put(&o, global, 16), put64(&o, 8), put64(&o, opt.n);
        for (const char *s = "Boot0001"; *s; s++)
                put16(&o, (uint8_t) *s);
        put(&o, opt.b, opt.n);
        d = decode(MEASURE_EV_EFI_VARIABLE_BOOT, &o, NULL);
        CHECK(d && field_is(d, "vendor", "8be4df61-93ca-11d2-aa0d-00e098032b8c") && field_is(d, "name", "Boot0001") &&
              field_is(d, "description", "Linux") && field_is(d, "device_path", DISK_PATH_TEXT),
              "Boot0001: vendor, name, description and device path");
        measure_eventdata_free(d);
        o.b[16] = 0xff, o.b[17] = 0xff; /* name length 65535 characters */
        CHECK(!decode(MEASURE_EV_EFI_VARIABLE_BOOT, &o, &err) && err.offset == 16,
              "variable with a name length past the end fails at offset 16");

        /* EV_EFI_GPT_EVENT: header, 2 entries of 128 bytes. */
        o = (out) {};
        put(&o, "EFI PART", 8), put32(&o, 0x10000), put32(&o, 92), put32(&o, 0), put32(&o, 0);
        put64(&o, 1), put64(&o, 0x3fff), put64(&o, 34), put64(&o, 0x3fde), put(&o, esp_guid, 16);
        put64(&o, 2), put32(&o, 128), put32(&o, 128), put32(&o, 0);
        put64(&o, 2);
        for (int i = 0; i < 2; i++) {
                out e = {};
                put(&e, esp_guid, 16), put(&e, esp_guid, 16), put64(&e, 2048), put64(&e, 4095), put64(&e, 0);
                put_utf16(&e, i ? "root" : "ESP");
                while (e.n < 128)
                        put8(&e, 0);
                put(&o, e.b, 128);
        }
        d = decode(MEASURE_EV_EFI_GPT_EVENT, &o, NULL);
        CHECK(d && field_is(d, "disk_guid", ESP_GUID_TEXT) && field_is(d, "partitions", "2") &&
              field_is(d, "partition[1]", "type " ESP_GUID_TEXT " guid " ESP_GUID_TEXT
                                          " lba 0x800-0xfff attributes 0x0 name \"root\""),
              "GPT event: disk GUID and partition entries");
        measure_eventdata_free(d);
        o.b[92] = 3; /* three partitions, two present */
        CHECK(!decode(MEASURE_EV_EFI_GPT_EVENT, &o, &err) && err.offset == 92,
              "GPT event with more partitions than bytes fails at the count");

        /* EV_EFI_HANDOFF_TABLES: one ACPI 2.0 table. */
        static const uint8_t acpi20[16] = { 0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11,
                                            0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81 };
        o = (out) {};
        put64(&o, 1), put(&o, acpi20, 16), put64(&o, 0x7fb7e014);
        d = decode(MEASURE_EV_EFI_HANDOFF_TABLES, &o, NULL);
        CHECK(d && field_is(d, "table[0]", "8868e871-e4f1-11d3-bc22-0080c73c8881 (ACPI 2.0) at 0x7fb7e014"),
              "handoff tables: the ACPI 2.0 table");
        measure_eventdata_free(d);
        o.b[7] = 0x80;
        CHECK(!decode(MEASURE_EV_EFI_HANDOFF_TABLES, &o, &err) && err.offset == 0,
              "handoff tables with a huge count fail at the count");

        /* EV_EFI_PLATFORM_FIRMWARE_BLOB2. */
        o = (out) {};
        put8(&o, 9), put(&o, "POST CODE", 9), put64(&o, 0x820000), put64(&o, 0xe0000);
        d = decode(MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB2, &o, NULL);
        CHECK(d && field_is(d, "description", "POST CODE") && field_is(d, "blob_base", "8519680") &&
              field_is(d, "blob_length", "917504"), "firmware blob 2: description, base, length");
        measure_eventdata_free(d);
        o.n--;
        CHECK(!decode(MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB2, &o, &err) && err.offset == 10,
              "truncated firmware blob 2 fails at its length");

        /* EV_EVENT_TAG: Linux's initrd tag, then an unknown id. */
        o = (out) {};
        put32(&o, 0x8f3b22ec), put32(&o, 13), put(&o, "Linux initrd", 13);
        d = decode(MEASURE_EV_EVENT_TAG, &o, NULL);
        CHECK(d && field_is(d, "tag_id", "0x8f3b22ec") && field_is(d, "tag", "Linux initrd") &&
              field_is(d, "tag_data", "Linux initrd"), "Linux initrd tag");
        measure_eventdata_free(d);
        o.b[0] = 0x01;
        d = decode(MEASURE_EV_EVENT_TAG, &o, NULL);
        CHECK(d && field_is(d, "tag_id", "0x8f3b2201") && !field(d, "tag"), "unknown tag id shown as hex");
        measure_eventdata_free(d);
        o.b[4] = 14;
        CHECK(!decode(MEASURE_EV_EVENT_TAG, &o, &err) && err.offset == 4, "tag size past the end fails at offset 4");

        /* EV_IPL in both encodings, and EV_NO_ACTION StartupLocality. */
        o = (out) {};
        put_utf16(&o, "console=ttyS0");
        d = decode(MEASURE_EV_IPL, &o, NULL);
        CHECK(d && field_is(d, "string", "console=ttyS0"), "EV_IPL UTF-16 string");
        measure_eventdata_free(d);
        o = (out) {};
        put(&o, "grub_cmd: linux /vmlinuz", 25);
        d = decode(MEASURE_EV_IPL, &o, NULL);
        CHECK(d && field_is(d, "string", "grub_cmd: linux /vmlinuz"), "EV_IPL UTF-8 string");
        measure_eventdata_free(d);
        o = (out) {};
        put(&o, "StartupLocality\0\3", 17);
        d = decode(MEASURE_EV_NO_ACTION, &o, NULL);
        CHECK(d && field_is(d, "signature", "StartupLocality") && field_is(d, "locality", "3"),
              "StartupLocality event");
        measure_eventdata_free(d);
        put8(&o, 0);
        CHECK(!decode(MEASURE_EV_NO_ACTION, &o, &err) && err.offset == 17,
              "StartupLocality with a trailing byte fails");
}

/* ---- the captured boot logs, cut at every offset in-process --------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *ret_n) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        uint8_t *buf = malloc(1 << 20);
        size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
        fclose(f);
        *ret_n = n;
        return buf;
}

static void test_fixtures(void) {
        const char *top = getenv("LANTERN_FIXTURES");
        char dir[4096];
        size_t n_fixtures = 0;

        snprintf(dir, sizeof(dir), "%s/boot", top ? top : "tests/fixtures");
        DIR *dp = opendir(dir);
        CHECK(dp != NULL, "fixture directory %s opens (LANTERN_FIXTURES)", dir);
        if (!dp)
                return;
        for (struct dirent *de; (de = readdir(dp));) {
                char path[8192];
                size_t size = 0;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s/eventlog.bin", dir, de->d_name);
                uint8_t *data = slurp(path, &size);
                if (!data)
                        continue;
                n_fixtures++;

                /* Record ends, from walking the whole log. */
                measure_eventlog log;
                measure_eventlog_iter it;
                measure_eventlog_error err = {};
                measure_event ev;
                static bool boundary[1 << 20];
                size_t n_events = 0;
                memset(boundary, 0, sizeof(boundary));
                bool whole = measure_eventlog_open(data, size, &log, &err) == 0;
                measure_eventlog_iter_init(&it, &log);
                while (whole && measure_eventlog_next(&it, &ev, &err) > 0) {
                        boundary[ev.offset + ev.record_size] = true;
                        n_events++;
                }
                CHECK(whole && it.pos == size && n_events > 10, "%s: the whole log walks (%zu events)", de->d_name,
                      n_events);

                bool cuts_ok = true;
                for (size_t k = 0; k < size; k++) {
                        size_t got = 0;
                        err = (measure_eventlog_error) {};
                        bool ok = walk_all(data, k, &got, &err);
                        if (ok != boundary[k] || (!ok && err.offset > k)) {
                                if (cuts_ok)
                                        printf("#   cut %zu: ok=%d event %zu offset %zu: %s\n", k, ok, err.index,
                                               err.offset, err.message);
                                cuts_ok = false;
                        }
                }
                CHECK(cuts_ok, "%s: cut at each of %zu offsets: valid exactly between events, else an error",
                      de->d_name, size);
                free(data);
        }
        closedir(dp);
        CHECK(n_fixtures > 0, "at least one captured boot log");
}

int main(void) {
        test_agile();
        test_errors();
        test_sha1_format();
        test_devicepaths();
        test_decoders();
        test_fixtures();
        return tap_done();
}
