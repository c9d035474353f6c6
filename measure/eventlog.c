/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eventlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

static const struct {
        uint32_t type;
        const char *name;
} event_types[] = {
        { MEASURE_EV_PREBOOT_CERT, "EV_PREBOOT_CERT" },
        { MEASURE_EV_POST_CODE, "EV_POST_CODE" },
        { MEASURE_EV_UNUSED, "EV_UNUSED" },
        { MEASURE_EV_NO_ACTION, "EV_NO_ACTION" },
        { MEASURE_EV_SEPARATOR, "EV_SEPARATOR" },
        { MEASURE_EV_ACTION, "EV_ACTION" },
        { MEASURE_EV_EVENT_TAG, "EV_EVENT_TAG" },
        { MEASURE_EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS" },
        { MEASURE_EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION" },
        { MEASURE_EV_CPU_MICROCODE, "EV_CPU_MICROCODE" },
        { MEASURE_EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS" },
        { MEASURE_EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES" },
        { MEASURE_EV_COMPACT_HASH, "EV_COMPACT_HASH" },
        { MEASURE_EV_IPL, "EV_IPL" },
        { MEASURE_EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA" },
        { MEASURE_EV_NONHOST_CODE, "EV_NONHOST_CODE" },
        { MEASURE_EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG" },
        { MEASURE_EV_NONHOST_INFO, "EV_NONHOST_INFO" },
        { MEASURE_EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS" },
        { MEASURE_EV_POST_CODE2, "EV_POST_CODE2" },
        { MEASURE_EV_EFI_EVENT_BASE, "EV_EFI_EVENT_BASE" },
        { MEASURE_EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
        { MEASURE_EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT" },
        { MEASURE_EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION" },
        { MEASURE_EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER" },
        { MEASURE_EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
        { MEASURE_EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT" },
        { MEASURE_EV_EFI_ACTION, "EV_EFI_ACTION" },
        { MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
        { MEASURE_EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES" },
        { MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
        { MEASURE_EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2" },
        { MEASURE_EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2" },
        { MEASURE_EV_EFI_GPT_EVENT2, "EV_EFI_GPT_EVENT2" },
        { MEASURE_EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT" },
        { MEASURE_EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY" },
        { MEASURE_EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB" },
        { MEASURE_EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
};

const char *measure_event_type_name(uint32_t type) {
        for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
                if (event_types[i].type == type)
                        return event_types[i].name;
        return NULL;
}

static const char spec_id_03[16] = "Spec ID Event03"; /* with its NUL */
static const char startup_locality[16] = "StartupLocality";

__attribute__((format(printf, 4, 5)))
static int fail(measure_eventlog_error *err, size_t index, size_t offset, const char *fmt, ...) {
        if (err) {
                va_list ap;
                err->index = index;
                err->offset = offset;
                va_start(ap, fmt);
                vsnprintf(err->message, sizeof(err->message), fmt, ap);
                va_end(ap);
        }
        return -EBADMSG;
}

/* Reads a fixed-size field or reports which field was cut short, and where. */
#define NEED(b, n, what)                                                                                      \
        do {                                                                                                  \
                if (measure_buf_left(b) < (size_t) (n))                                                       \
                        return fail(err, index, (b)->pos, "truncated: %s needs %zu bytes, %zu left", what,    \
                                    (size_t) (n), measure_buf_left(b));                                       \
        } while (0)

/* TCG_PCR_EVENT: PCRIndex, EventType, SHA-1 digest, EventSize, Event. */
static int parse_pcr_event(measure_buf *b, size_t index, measure_event *ev, measure_eventlog_error *err) {
        const uint8_t *digest = NULL, *data = NULL;
        uint32_t size = 0;

        NEED(b, 4, "the PCR index");
        measure_buf_get_u32(b, &ev->pcr);
        NEED(b, 4, "the event type");
        measure_buf_get_u32(b, &ev->type);
        NEED(b, 20, "the SHA-1 digest");
        measure_buf_get_bytes(b, 20, &digest);
        NEED(b, 4, "the event size");
        size_t size_offset = b->pos;
        measure_buf_get_u32(b, &size);
        if (size > measure_buf_left(b))
                return fail(err, index, size_offset, "event size %" PRIu32 " exceeds the %zu bytes left", size,
                            measure_buf_left(b));
        ev->data_offset = b->pos;
        measure_buf_get_bytes(b, size, &data);

        ev->n_digests = 1;
        ev->digests[0] = (measure_event_digest) {
                .alg_id = MEASURE_ALG_SHA1,
                .alg = measure_alg_by_id(MEASURE_ALG_SHA1),
                .digest = digest,
                .size = 20,
        };
        ev->data = data;
        ev->data_size = size;
        return 0;
}

static int parse_spec_id(measure_eventlog *log, const measure_event *ev, measure_eventlog_error *err) {
        measure_buf b = measure_buf_make(ev->data, ev->data_size);
        const size_t index = 0, base = ev->data_offset;
        uint32_t n = 0;

#undef NEED
#define NEED(b, n, what)                                                                                      \
        do {                                                                                                  \
                if (measure_buf_left(b) < (size_t) (n))                                                       \
                        return fail(err, index, base + (b)->pos,                                              \
                                    "truncated Spec ID event: %s needs %zu bytes, %zu left", what,            \
                                    (size_t) (n), measure_buf_left(b));                                       \
        } while (0)

        NEED(&b, 16 + 4 + 4, "the signature, platform class and version");
        measure_buf_skip(&b, 16);
        measure_buf_get_u32(&b, &log->platform_class);
        measure_buf_get_u8(&b, &log->spec_version_minor);
        measure_buf_get_u8(&b, &log->spec_version_major);
        measure_buf_get_u8(&b, &log->spec_errata);
        measure_buf_get_u8(&b, &log->uintn_size);
        NEED(&b, 4, "the algorithm count");
        size_t count_offset = base + b.pos;
        measure_buf_get_u32(&b, &n);
        if (n == 0 || n > MEASURE_EVENTLOG_MAX_ALGS)
                return fail(err, index, count_offset, "Spec ID event lists %" PRIu32 " algorithms (1 to %d allowed)",
                            n, MEASURE_EVENTLOG_MAX_ALGS);
        for (uint32_t i = 0; i < n; i++) {
                uint16_t id = 0, size = 0;
                size_t at = base + b.pos;

                NEED(&b, 4, "an algorithm entry");
                measure_buf_get_u16(&b, &id);
                measure_buf_get_u16(&b, &size);
                for (size_t j = 0; j < i; j++)
                        if (log->algs[j].id == id)
                                return fail(err, index, at, "Spec ID event lists algorithm 0x%04x twice", id);
                const measure_alg *alg = measure_alg_by_id(id);
                if (alg && alg->size != size)
                        return fail(err, index, at + 2, "Spec ID event gives %s a digest size of %u, not %zu",
                                    alg->name, size, alg->size);
                if (size == 0 || size > MEASURE_DIGEST_MAX)
                        return fail(err, index, at + 2,
                                    "Spec ID event gives algorithm 0x%04x a digest size of %u (1 to %d allowed)", id,
                                    size, MEASURE_DIGEST_MAX);
                log->algs[i] = (measure_eventlog_alg) { .id = id, .size = size, .alg = alg };
        }
        log->n_algs = n;

        uint8_t vendor_size = 0;
        NEED(&b, 1, "the vendor info size");
        measure_buf_get_u8(&b, &vendor_size);
        NEED(&b, vendor_size, "the vendor info");
        measure_buf_skip(&b, vendor_size);
        if (measure_buf_left(&b) != 0)
                return fail(err, index, base + b.pos, "%zu unexpected bytes after the Spec ID event",
                            measure_buf_left(&b));
        return 0;
#undef NEED
}

int measure_eventlog_open(const uint8_t *data, size_t size, measure_eventlog *ret, measure_eventlog_error *ret_error) {
        measure_eventlog log = { .data = data, .size = size };
        measure_event ev = {};
        measure_buf b = measure_buf_make(data, size);
        int r;

        if (size == 0)
                return fail(ret_error, 0, 0, "empty event log");
        r = parse_pcr_event(&b, 0, &ev, ret_error);
        if (r < 0)
                return r;

        if (ev.type == MEASURE_EV_NO_ACTION && ev.data_size >= sizeof(spec_id_03) &&
            memcmp(ev.data, spec_id_03, sizeof(spec_id_03)) == 0) {
                if (ev.pcr != 0)
                        return fail(ret_error, 0, 0, "the Spec ID event is logged for PCR %" PRIu32 ", not 0", ev.pcr);
                log.format = MEASURE_EVENTLOG_CRYPTO_AGILE;
                r = parse_spec_id(&log, &ev, ret_error);
                if (r < 0)
                        return r;
        } else {
                if (ev.pcr >= MEASURE_PCR_COUNT)
                        return fail(ret_error, 0, 0, "PCR index %" PRIu32 " out of range (0 to 23)", ev.pcr);
                log.format = MEASURE_EVENTLOG_SHA1;
                log.n_algs = 1;
                log.algs[0] = (measure_eventlog_alg) {
                        .id = MEASURE_ALG_SHA1, .size = 20, .alg = measure_alg_by_id(MEASURE_ALG_SHA1),
                };
        }
        *ret = log;
        return 0;
}

void measure_eventlog_iter_init(measure_eventlog_iter *it, const measure_eventlog *log) {
        *it = (measure_eventlog_iter) { .log = log };
}

static const measure_eventlog_alg *log_alg(const measure_eventlog *log, uint16_t id) {
        for (size_t i = 0; i < log->n_algs; i++)
                if (log->algs[i].id == id)
                        return &log->algs[i];
        return NULL;
}

#define NEED(b, n, what)                                                                                      \
        do {                                                                                                  \
                if (measure_buf_left(b) < (size_t) (n))                                                       \
                        return fail(err, index, (b)->pos, "truncated: %s needs %zu bytes, %zu left", what,    \
                                    (size_t) (n), measure_buf_left(b));                                       \
        } while (0)

/* TCG_PCR_EVENT2: PCRIndex, EventType, TPML_DIGEST_VALUES (count, then {hashAlg, digest}), EventSize, Event. */
static int parse_pcr_event2(const measure_eventlog *log, measure_buf *b, size_t index, measure_event *ev,
                            measure_eventlog_error *err) {
        uint32_t count = 0, size = 0;
        const uint8_t *data = NULL;

        NEED(b, 4, "the PCR index");
        measure_buf_get_u32(b, &ev->pcr);
        NEED(b, 4, "the event type");
        measure_buf_get_u32(b, &ev->type);
        NEED(b, 4, "the digest count");
        size_t count_offset = b->pos;
        measure_buf_get_u32(b, &count);
        if (count != log->n_algs)
                return fail(err, index, count_offset,
                            "digest count %" PRIu32 " differs from the %zu algorithms of the Spec ID event", count,
                            log->n_algs);
        for (uint32_t i = 0; i < count; i++) {
                uint16_t id = 0;
                size_t at = b->pos;

                NEED(b, 2, "a digest's algorithm");
                measure_buf_get_u16(b, &id);
                const measure_eventlog_alg *a = log_alg(log, id);
                if (!a)
                        return fail(err, index, at, "digest algorithm 0x%04x is not in the Spec ID event", id);
                for (uint32_t j = 0; j < i; j++)
                        if (ev->digests[j].alg_id == id)
                                return fail(err, index, at, "digest algorithm 0x%04x appears twice", id);
                NEED(b, a->size, "a digest");
                ev->digests[i] = (measure_event_digest) {
                        .alg_id = id, .alg = a->alg, .digest = b->data + b->pos, .size = a->size,
                };
                measure_buf_skip(b, a->size);
        }
        ev->n_digests = count;
        NEED(b, 4, "the event size");
        size_t size_offset = b->pos;
        measure_buf_get_u32(b, &size);
        if (size > measure_buf_left(b))
                return fail(err, index, size_offset, "event size %" PRIu32 " exceeds the %zu bytes left", size,
                            measure_buf_left(b));
        ev->data_offset = b->pos;
        measure_buf_get_bytes(b, size, &data);
        ev->data = data;
        ev->data_size = size;
        return 0;
}

int measure_eventlog_next(measure_eventlog_iter *it, measure_event *ret, measure_eventlog_error *ret_error) {
        const measure_eventlog *log = it->log;
        measure_buf b = { .data = log->data, .size = log->size, .pos = it->pos };
        measure_eventlog_error *err = ret_error;
        size_t index = it->index;
        measure_event ev = { .index = index, .offset = it->pos };
        int r;

        if (it->pos >= log->size)
                return 0;
        if (index >= MEASURE_EVENTLOG_MAX_EVENTS)
                return fail(err, index, it->pos, "more than %d events", MEASURE_EVENTLOG_MAX_EVENTS);

        if (index == 0 || log->format == MEASURE_EVENTLOG_SHA1)
                r = parse_pcr_event(&b, index, &ev, err);
        else
                r = parse_pcr_event2(log, &b, index, &ev, err);
        if (r < 0)
                return r;
        ev.header = index == 0 && log->format == MEASURE_EVENTLOG_CRYPTO_AGILE;
        if (ev.pcr >= MEASURE_PCR_COUNT)
                return fail(err, index, it->pos, "PCR index %" PRIu32 " out of range (0 to 23)", ev.pcr);

        ev.record_size = b.pos - it->pos;
        it->pos = b.pos;
        it->index++;
        *ret = ev;
        return 1;
}
#undef NEED

const measure_event_digest *measure_event_digest_for(const measure_event *ev, uint16_t alg_id) {
        for (size_t i = 0; i < ev->n_digests; i++)
                if (ev->digests[i].alg_id == alg_id)
                        return &ev->digests[i];
        return NULL;
}

int measure_eventlog_replay(const measure_eventlog *log, measure_bank *ret_banks, size_t *ret_n,
                            measure_eventlog_error *ret_error) {
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        measure_eventlog_iter it;
        measure_event ev;
        size_t n = 0;
        int r;

        for (size_t i = 0; i < log->n_algs; i++)
                if (log->algs[i].alg && measure_alg_available(log->algs[i].alg))
                        measure_bank_init(&banks[n++], log->algs[i].alg, 0);

        measure_eventlog_iter_init(&it, log);
        while ((r = measure_eventlog_next(&it, &ev, ret_error)) > 0) {
                if (ev.type == MEASURE_EV_NO_ACTION) {
                        /* TCG PC Client PFP 10.4.5.3: StartupLocality sets PCR 0's reset value. It must come
                         * before the first extend of PCR 0 to have any meaning. */
                        if (ev.pcr == 0 && ev.data_size == sizeof(startup_locality) + 1 &&
                            memcmp(ev.data, startup_locality, sizeof(startup_locality)) == 0)
                                for (size_t i = 0; i < n; i++)
                                        if (!(banks[i].extended & 1))
                                                banks[i].pcr[0][banks[i].alg->size - 1] = ev.data[16];
                        continue;
                }
                for (size_t i = 0; i < n; i++) {
                        const measure_event_digest *d = measure_event_digest_for(&ev, banks[i].alg->id);
                        if (!d)
                                return fail(ret_error, ev.index, ev.offset, "no %s digest", banks[i].alg->name);
                        r = measure_bank_extend(&banks[i], ev.pcr, d->digest);
                        if (r < 0)
                                return fail(ret_error, ev.index, ev.offset, "cannot extend PCR %" PRIu32 " (%s)",
                                            ev.pcr, strerror(-r));
                }
        }
        if (r < 0)
                return r;
        memcpy(ret_banks, banks, n * sizeof(banks[0]));
        *ret_n = n;
        return 0;
}
