/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The UKI measurement plan: the ordered list of PCR 11 measurements a UKI stub makes for a given UKI.
 * For each measured section, in the canonical order of uki-sections.h (not PE table order), the stub extends
 * PCR 11 twice: with the digest of the section name plus one NUL, then with the digest of the section's
 * in-memory bytes (VirtualSize of them; zeros past SizeOfRawData). Absent and empty sections and .pcrsig are
 * skipped. The section set and the name matching rules depend on the stub version, read from the UKI's
 * .sdmagic section. For the lantern stub's thin layout (.linuxh/.initrdh present), .linux/.initrd hold ESP
 * paths and the plan marks them external: the file's content is measured (the caller supplies it).
 *
 * The plan is data, built without allocation or libc (freestanding, like pe.c), so the UEFI stub and the
 * predictor execute the same plan. Folding it into PCR values (measure_uki_plan_fold) is hosted only and is
 * compiled out when MEASURE_FREESTANDING is defined or the compiler is freestanding. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pe.h"
#include "uki-sections.h"

/* Rules assumed when the UKI names no stub we know: Debian 12's systemd-stub. */
#define MEASURE_UKI_DEFAULT_RULES 252
/* The lantern stub measures systemd-stub 256's section set minus .sbat, matching names exactly. */
#define MEASURE_UKI_LANTERN_RULES 256
/* systemd-stub versions before this one measure nothing into PCR 11. */
#define MEASURE_UKI_MIN_RULES 252

typedef enum measure_uki_stub_kind {
        MEASURE_UKI_STUB_UNKNOWN, /* no .sdmagic, or one naming no stub: default rules assumed */
        MEASURE_UKI_STUB_SYSTEMD,
        MEASURE_UKI_STUB_LANTERN,
} measure_uki_stub_kind;

typedef struct measure_uki_stub {
        measure_uki_stub_kind kind;
        unsigned version;        /* systemd-stub major version from .sdmagic; 0 for others */
        unsigned rules;          /* the systemd-stub version whose section set applies */
        measure_pe_match match;  /* how section names are looked up */
        char ident[64];          /* the .sdmagic text between "LoaderInfo: " and " ####", "" when none */
} measure_uki_stub;

typedef struct measure_uki_measurement {
        measure_uki_section section; /* name: measure_uki_sections[section].name */
        uint16_t pe_index;           /* the section's index in the PE section table */
        uint64_t offset;             /* first byte in the buffer the plan was built from */
        uint32_t length;             /* bytes taken from the buffer */
        uint32_t zero_fill;          /* zero bytes measured after them (VirtualSize beyond SizeOfRawData) */
        /* Lantern thin layout (.linux/.initrd with a .linuxh/.initrdh section): the section holds an ESP path
         * and what is measured is that file's content, whose SHA-256 the section hash_pe_index holds. */
        bool external;
        uint16_t hash_pe_index;
} measure_uki_measurement;

/* Thin layout limits, as the lantern stub enforces them. */
#define MEASURE_UKI_THIN_PATH_MAX 1024
#define MEASURE_UKI_THIN_HASH_SIZE 32 /* SHA-256 */

typedef struct measure_uki_plan {
        measure_uki_stub stub;
        bool hardware_dependent; /* a .dtbauto section exists: the stub measures one chosen by the hardware */
        size_t n;
        measure_uki_measurement m[MEASURE_UKI_SECTION_MAX];
} measure_uki_plan;

/* Reads the stub identity from the .sdmagic section ("#### LoaderInfo: systemd-stub 252.39 ####" or
 * "#### LoaderInfo: lantern-stub 0.1 ####"). Never fails on content: an unknown or missing one gives
 * kind UNKNOWN with the default rules. Returns -EINVAL only for bad arguments. */
int measure_uki_stub_identify(const measure_pe *pe, const void *data, size_t size, measure_uki_stub *ret);

/* Whether this stub measures section s at all (known to its version, not .pcrsig). */
bool measure_uki_stub_measures(const measure_uki_stub *stub, measure_uki_section s);

/* Builds the plan for the UKI in data[0..size), parsed (either layout) into pe. Returns 0,
 * -EPROTONOSUPPORT (a systemd-stub older than 252: no PCR 11 measurements), -EBADMSG (a measured section
 * larger than SizeOfImage, a thin-layout hash section that is not 32 bytes or a path that is not 1 to 1024
 * printable ASCII characters), or -EINVAL; fills *error on failure and leaves *ret untouched. */
int measure_uki_plan_build(const measure_pe *pe, const void *data, size_t size, measure_pe_error *error,
                           measure_uki_plan *ret);

/* For an external (thin layout) measurement: the ESP path the section names (trailing NULs removed, as
 * stored, with backslashes) copied NUL-terminated into ret (MEASURE_UKI_THIN_PATH_MAX + 1 bytes), and a
 * pointer to the 32-byte SHA-256 the file must have. Returns 0 or -EINVAL. */
int measure_uki_thin_file(const measure_pe *pe, const void *data, size_t size, const measure_uki_measurement *m,
                          char *ret_path, const uint8_t **ret_sha256);

#if !defined(MEASURE_FREESTANDING) && __STDC_HOSTED__
#include "digest.h"

/* The bytes measured for an external (thin layout) measurement: the ESP file's content. */
typedef struct measure_uki_external {
        const void *data;
        size_t size;
} measure_uki_external;

/* Digests of one planned measurement's two events: of the section name with its NUL, and of its bytes
 * (ext's for an external measurement). */
int measure_uki_measurement_digests(const measure_uki_measurement *m, const void *data, size_t size,
                                    const measure_uki_external *ext, const measure_alg *alg,
                                    uint8_t *ret_name_digest, uint8_t *ret_data_digest);

/* PCR 11 after the plan's extends from zero, in each of n_algs banks. ext has plan->n entries, used for
 * external measurements (may be NULL when there are none; -ENXIO when one is needed and missing). */
int measure_uki_plan_fold(const measure_uki_plan *plan, const void *data, size_t size,
                          const measure_uki_external *ext, const measure_alg *const *algs, size_t n_algs,
                          uint8_t (*ret_values)[MEASURE_DIGEST_MAX]);
#endif
