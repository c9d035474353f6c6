/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TPM2_Quote: made by the AK over a selection of sha256 PCRs with a verifier's nonce as qualifying data, and
 * checked in software: the signature (OpenSSL EVP) over the TPMS_ATTEST message, the nonce (extraData), the
 * PCR digest (the hash of the quoted PCR values, in selection order), and the event log replayed to those
 * values.
 *
 * The files are tpm2-tools': the message is the marshalled TPMS_ATTEST (tpm2_quote --message), the signature
 * the marshalled TPMT_SIGNATURE (--signature, "tss" format), the PCR values the concatenated digests in
 * ascending PCR order (tpm2_quote --pcr with --pcrs_format values), so tpm2_checkquote reads ours and ours
 * reads tpm2_quote's.
 *
 * Errors: -EBADMSG malformed input, -EOPNOTSUPP a form not handled (several banks, an unknown scheme),
 * -EPERM a check that failed; errbuf says which. Nothing is printed. */

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "ak.h"
#include "pcr.h"
#include "tpm.h"

#define ATTEST_MESSAGE_MAX sizeof(TPMS_ATTEST)
#define ATTEST_SIGNATURE_MAX sizeof(TPMT_SIGNATURE)
#define ATTEST_NONCE_MAX 64

/* sha256 PCR values; mask says which are set. */
typedef struct attest_pcrs {
        uint32_t mask;
        uint8_t value[MEASURE_PCR_COUNT][32];
} attest_pcrs;

typedef struct attest_quote {
        uint8_t message[ATTEST_MESSAGE_MAX];
        size_t message_size;
        uint8_t signature[ATTEST_SIGNATURE_MAX];
        size_t signature_size;
        attest_pcrs pcrs; /* read right after the quote, checked against its digest */
} attest_quote;

/* Quotes the sha256 PCRs in mask with the AK and reads their values. */
int attest_quote_create(attest_tpm *tpm, const attest_key *ak, const uint8_t *nonce, size_t nonce_size,
                        uint32_t mask, attest_quote *ret, char *errbuf, size_t errlen);

/* Verifies a quote. nonce (NULL: not checked) must equal extraData. When pcrs is given, the PCRs the quote
 * selects must all be in it and their digest must equal the quote's. *ret_selected (may be NULL) gets the
 * quoted selection. */
int attest_quote_verify(const TPM2B_PUBLIC *ak, const uint8_t *message, size_t message_size,
                        const uint8_t *signature, size_t signature_size, const uint8_t *nonce, size_t nonce_size,
                        const attest_pcrs *pcrs, uint32_t *ret_selected, char *errbuf, size_t errlen);

/* The sha256 PCR selection of a quote message (for reading a values file in its order). */
int attest_quote_selection(const uint8_t *message, size_t message_size, uint32_t *ret_mask, char *errbuf,
                           size_t errlen);

/* Concatenated 32-byte values, ascending PCR order of mask (tpm2-tools' "values" format) <-> attest_pcrs. */
int attest_pcrs_from_values(uint32_t mask, const uint8_t *data, size_t size, attest_pcrs *ret, char *errbuf,
                            size_t errlen);
size_t attest_pcrs_to_values(const attest_pcrs *pcrs, uint8_t *buf, size_t max);

/* Replays the event log's sha256 bank and compares every PCR of pcrs->mask. On a difference, errbuf names
 * the PCR, both values, and the number and offset of the log's last event for that PCR. */
int attest_eventlog_check(const uint8_t *log, size_t log_size, const attest_pcrs *pcrs, char *errbuf,
                          size_t errlen);
