/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The TCG PC Client event log: the crypto-agile format (a TCG_PCR_EVENT header carrying the
 * "Spec ID Event03" structure, then TCG_PCR_EVENT2 records with one digest per algorithm) and the old
 * SHA-1-only format (TCG_PCR_EVENT records only). Parsing is a walk over the caller's buffer: events point
 * into it and nothing is allocated per event. Every length is checked before it is read. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "pcr.h"

/* Event types (TCG PC Client Platform Firmware Profile, section 10.4.1). */
enum {
        MEASURE_EV_PREBOOT_CERT = 0x00000000,
        MEASURE_EV_POST_CODE = 0x00000001,
        MEASURE_EV_UNUSED = 0x00000002,
        MEASURE_EV_NO_ACTION = 0x00000003,
        MEASURE_EV_SEPARATOR = 0x00000004,
        MEASURE_EV_ACTION = 0x00000005,
        MEASURE_EV_EVENT_TAG = 0x00000006,
        MEASURE_EV_S_CRTM_CONTENTS = 0x00000007,
        MEASURE_EV_S_CRTM_VERSION = 0x00000008,
        MEASURE_EV_CPU_MICROCODE = 0x00000009,
        MEASURE_EV_PLATFORM_CONFIG_FLAGS = 0x0000000A,
        MEASURE_EV_TABLE_OF_DEVICES = 0x0000000B,
        MEASURE_EV_COMPACT_HASH = 0x0000000C,
        MEASURE_EV_IPL = 0x0000000D,
        MEASURE_EV_IPL_PARTITION_DATA = 0x0000000E,
        MEASURE_EV_NONHOST_CODE = 0x0000000F,
        MEASURE_EV_NONHOST_CONFIG = 0x00000010,
        MEASURE_EV_NONHOST_INFO = 0x00000011,
        MEASURE_EV_OMIT_BOOT_DEVICE_EVENTS = 0x00000012,
        MEASURE_EV_POST_CODE2 = 0x00000013,
        MEASURE_EV_EFI_EVENT_BASE = 0x80000000,
        MEASURE_EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001,
        MEASURE_EV_EFI_VARIABLE_BOOT = 0x80000002,
        MEASURE_EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003,
        MEASURE_EV_EFI_BOOT_SERVICES_DRIVER = 0x80000004,
        MEASURE_EV_EFI_RUNTIME_SERVICES_DRIVER = 0x80000005,
        MEASURE_EV_EFI_GPT_EVENT = 0x80000006,
        MEASURE_EV_EFI_ACTION = 0x80000007,
        MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x80000008,
        MEASURE_EV_EFI_HANDOFF_TABLES = 0x80000009,
        MEASURE_EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x8000000A,
        MEASURE_EV_EFI_HANDOFF_TABLES2 = 0x8000000B,
        MEASURE_EV_EFI_VARIABLE_BOOT2 = 0x8000000C,
        MEASURE_EV_EFI_GPT_EVENT2 = 0x8000000D,
        MEASURE_EV_EFI_HCRTM_EVENT = 0x80000010,
        MEASURE_EV_EFI_VARIABLE_AUTHORITY = 0x800000E0,
        MEASURE_EV_EFI_SPDM_FIRMWARE_BLOB = 0x800000E1,
        MEASURE_EV_EFI_SPDM_FIRMWARE_CONFIG = 0x800000E2,
};

/* "EV_SEPARATOR", or NULL for a type without a name. */
const char *measure_event_type_name(uint32_t type);

/* Caps: more algorithms than this in a Spec ID event, or more events than this, is refused. */
#define MEASURE_EVENTLOG_MAX_ALGS 16
#define MEASURE_EVENTLOG_MAX_EVENTS 1000000

/* Where and why a log could not be parsed. index is the number of the event (0 = the first record, the
 * header in the crypto-agile format); offset is the byte offset of the field that did not fit or was wrong. */
typedef struct measure_eventlog_error {
        size_t index;
        size_t offset;
        char message[160];
} measure_eventlog_error;

typedef enum measure_eventlog_format {
        MEASURE_EVENTLOG_SHA1,         /* TCG_PCR_EVENT records only */
        MEASURE_EVENTLOG_CRYPTO_AGILE, /* TCG_PCR_EVENT header, then TCG_PCR_EVENT2 records */
} measure_eventlog_format;

/* One algorithm of the Spec ID event's table. alg is NULL for an algorithm the registry does not know
 * (its digests are skipped by size and cannot be replayed). */
typedef struct measure_eventlog_alg {
        uint16_t id;
        uint16_t size;
        const measure_alg *alg;
} measure_eventlog_alg;

typedef struct measure_eventlog {
        const uint8_t *data;
        size_t size;
        measure_eventlog_format format;
        size_t n_algs;
        measure_eventlog_alg algs[MEASURE_EVENTLOG_MAX_ALGS];
        /* From the Spec ID event (crypto-agile only). */
        uint32_t platform_class;
        uint8_t spec_version_major, spec_version_minor, spec_errata, uintn_size;
} measure_eventlog;

typedef struct measure_event_digest {
        uint16_t alg_id;
        const measure_alg *alg; /* NULL when unknown to the registry */
        const uint8_t *digest;
        size_t size;
} measure_event_digest;

typedef struct measure_event {
        size_t index;
        size_t offset; /* of the record */
        size_t record_size;
        bool header; /* the TCG_PCR_EVENT that carries the Spec ID event of a crypto-agile log */
        uint32_t pcr;
        uint32_t type;
        size_t n_digests;
        measure_event_digest digests[MEASURE_EVENTLOG_MAX_ALGS];
        const uint8_t *data;
        uint32_t data_size;
        size_t data_offset;
} measure_event;

/* Recognises the format and reads the Spec ID event. data must stay valid while the log is used. An
 * empty buffer, or a crypto-agile header that is truncated or inconsistent, is an error. */
int measure_eventlog_open(const uint8_t *data, size_t size, measure_eventlog *ret, measure_eventlog_error *ret_error);

/* Walks the records from the first one (the header included). */
typedef struct measure_eventlog_iter {
        const measure_eventlog *log;
        size_t pos;
        size_t index;
} measure_eventlog_iter;

void measure_eventlog_iter_init(measure_eventlog_iter *it, const measure_eventlog *log);
/* Returns 1 and fills *ret with the next event, 0 at the end of the log, or -EBADMSG with *ret_error
 * filled when the record at the cursor is truncated or inconsistent. */
int measure_eventlog_next(measure_eventlog_iter *it, measure_event *ret, measure_eventlog_error *ret_error);

/* The digest of one algorithm in an event, or NULL when the event has none for it. */
const measure_event_digest *measure_event_digest_for(const measure_event *ev, uint16_t alg_id);

/* Replays the whole log: one bank per algorithm the log carries and the registry can compute, in the
 * log's algorithm order. EV_NO_ACTION events are not extended; a StartupLocality EV_NO_ACTION event sets the
 * starting value of PCR 0. banks must hold MEASURE_EVENTLOG_MAX_ALGS entries. */
int measure_eventlog_replay(const measure_eventlog *log, measure_bank *banks, size_t *ret_n,
                            measure_eventlog_error *ret_error);
