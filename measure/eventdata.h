/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What an event's data means: decoders for the event types of the TCG PC Client PFP and the UEFI
 * spec (variables, images and their device paths, GPT, firmware blobs, tagged events), and the rules that
 * say which digests are defined by the data alone, so a log that lies about them can be caught. */

#include <stddef.h>
#include <stdint.h>

#include "eventlog.h"

typedef enum measure_field_kind {
        MEASURE_FIELD_STRING,
        MEASURE_FIELD_UINT,
        MEASURE_FIELD_HEX, /* text holds lowercase hex of raw bytes */
} measure_field_kind;

typedef struct measure_field {
        char *key;
        measure_field_kind kind;
        char *text;     /* STRING and HEX */
        uint64_t value; /* UINT */
} measure_field;

/* The decoded data of one event: an ordered list of named fields. */
typedef struct measure_eventdata {
        size_t n_fields, allocated;
        measure_field *fields;
} measure_eventdata;

/* Where decoding stopped: offset is relative to the start of the event data. */
typedef struct measure_eventdata_error {
        size_t offset;
        char message[128];
} measure_eventdata_error;

/* Decodes one event's data. Types without a decoder give a single "data" HEX field. Returns 0, -EBADMSG
 * with *ret_error filled when the data does not fit its type's structure, or -ENOMEM. Output is bounded by
 * a small multiple of size. */
int measure_eventdata_decode(uint32_t type, const uint8_t *data, size_t size, measure_eventdata **ret,
                             measure_eventdata_error *ret_error);
measure_eventdata *measure_eventdata_free(measure_eventdata *d);

/* Converts an EFI device path (a sequence of nodes up to End) to the UEFI text form, e.g.
 * "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x0,0xffff,0x0)/HD(1,GPT,<guid>,0x800,0x32000)/\EFI\BOOT\BOOTX64.EFI".
 * Unknown nodes are shown as Path(type,subtype,hex). *ret is malloc'd. */
int measure_devicepath_to_text(const uint8_t *data, size_t size, char **ret, measure_eventdata_error *ret_error);

/* Lowercase registry form of an EFI_GUID (mixed-endian, as the UEFI spec prints it) into buf (37 bytes). */
char *measure_guid_to_text(const uint8_t guid[16], char *buf);

/* Digest check of one event against its data. */
typedef enum measure_digest_verdict {
        MEASURE_DIGEST_NOT_CHECKABLE, /* the digest covers something that is not in the log */
        MEASURE_DIGEST_MATCH,
        MEASURE_DIGEST_MISMATCH,
} measure_digest_verdict;

typedef struct measure_digest_check {
        measure_digest_verdict verdict;
        const char *rule;       /* what the digest was compared with, e.g. "hash of the event data" */
        uint16_t mismatch_alg;  /* first algorithm that did not match (MISMATCH only) */
        size_t n_checked;       /* digests compared (algorithms OpenSSL cannot compute are skipped) */
} measure_digest_check;

/* Recomputes the digests of events whose digest is defined by their data:
 *  - EV_NO_ACTION: all zero;
 *  - EV_SEPARATOR, EV_ACTION, EV_EFI_ACTION, EV_OMIT_BOOT_DEVICE_EVENTS, EV_S_CRTM_VERSION, EV_EFI_GPT_EVENT:
 *    the hash of the event data;
 *  - EV_EFI_VARIABLE_DRIVER_CONFIG/_BOOT2/_AUTHORITY: the hash of the whole UEFI_VARIABLE_DATA;
 *    EV_EFI_VARIABLE_BOOT: the hash of the variable's data only, as EDK2 measures it;
 *  - EV_IPL and EV_EVENT_TAG: matched when the digest covers the logged text itself (or, for systemd-stub's
 *    section names, that text as ASCII with its NUL); otherwise not checkable, since the digest then covers a
 *    file or section that is not in the log. */
int measure_event_check_digest(const measure_event *ev, measure_digest_check *ret);
const char *measure_digest_verdict_name(measure_digest_verdict v);
