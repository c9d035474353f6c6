/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The attestation client: talks to lanternd over HTTP (libcurl). One run: read the EK certificate, recreate
 * the AK, enroll with the verifier when it does not know this AK (credential activation), fetch a nonce,
 * quote, and send the quote with the PCR values and the event log. Nothing is printed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ATTEST_CLIENT_EVENTLOG_DEFAULT "/sys/kernel/security/tpm0/binary_bios_measurements"
#define ATTEST_CLIENT_EVENTLOG_MAX (4u << 20)
#define ATTEST_CLIENT_RESPONSE_MAX (1u << 20)

typedef struct attest_client_options {
        const char *verifier; /* base URL, e.g. http://127.0.0.1:7780 */
        const char *tcti;
        const char *eventlog; /* NULL: ATTEST_CLIENT_EVENTLOG_DEFAULT */
        uint32_t pcrs;        /* sha256 PCRs to quote */
        long timeout;         /* seconds per HTTP request */
        const char *save_request; /* write the attest request body there (NULL: no) */
} attest_client_options;

typedef struct attest_client_result {
        char machine[65];
        bool enrolled_now; /* this run enrolled the machine */
        int status;        /* HTTP status of the attest request */
        bool pass;         /* a passing verdict */
        char *verdict;     /* the response body (JSON), malloc'd */
} attest_client_result;

/* 0 when a verdict was received (pass or fail: see ret->pass); a negative errno with errbuf set when no
 * verdict could be had (TPM, network, enrollment refused, malformed answer). */
int attest_client_run(const attest_client_options *o, attest_client_result *ret, char *errbuf, size_t errlen);
void attest_client_result_done(attest_client_result *r);
