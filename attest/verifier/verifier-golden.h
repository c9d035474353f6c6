/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Golden values: the output of `lantern predict --json` registered for a machine. Each generation (and
 * specialisation) with predicted sha256 PCRs is one entry; a quote matches an entry when every PCR the entry
 * predicts is quoted with that value. */

#include <stddef.h>
#include <stdint.h>

#include "quote.h"

#define VERIFIER_GOLDEN_MAX (4u << 20)     /* bytes of JSON */
#define VERIFIER_GOLDEN_MAX_ENTRIES 4096

typedef struct verifier_golden_entry {
        char profile[64];
        long generation;
        char specialisation[64]; /* "" for none */
        char label[128];
        attest_pcrs pcrs;
} verifier_golden_entry;

typedef struct verifier_golden {
        size_t n;
        verifier_golden_entry *entries;
} verifier_golden;

/* Errors name the JSON path: "$.generations[3].pcrs.sha256: ...". */
int verifier_golden_parse(const char *json, size_t size, verifier_golden *ret, char *errbuf, size_t errlen);
void verifier_golden_done(verifier_golden *g);

/* The first entry every predicted PCR of which equals the quoted value: *ret_index, and 0. Else -ENOENT, with
 * *ret_index the closest entry (fewest differing PCRs; SIZE_MAX when there is none) and reason naming its
 * differing PCRs with both values. */
int verifier_golden_match(const verifier_golden *g, const attest_pcrs *quoted, size_t *ret_index, char *reason,
                          size_t reason_len);

/* "generation 3 (specialisation debug) of profile system, \"NixOS 24.05\"" */
void verifier_golden_describe(const verifier_golden_entry *e, char *buf, size_t len);
