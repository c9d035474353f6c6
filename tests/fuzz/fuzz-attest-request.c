/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: lanternd's request bodies (enroll, activate, attest, secret), the golden values, and, for
 * an attest request that parses, the quote checks and the event log replay it leads to. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quote.h"
#include "verifier-golden.h"
#include "verifier-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static verifier_enroll_request enroll;
        verifier_activate_request activate;
        verifier_attest_request attest;
        verifier_secret_request secret;
        verifier_golden golden = {};
        char err[1536];
        uint32_t mask;
        size_t idx;

        if (size == 0)
                return 0;
        const char *body = (const char *) data + 1;
        size_t n = size - 1;
        switch (data[0] % 5) {
        case 0:
                if (verifier_enroll_request_parse(body, n, &enroll, err, sizeof(err)) == 0)
                        attest_ak_check(&enroll.ak, err, sizeof(err));
                break;
        case 1:
                verifier_activate_request_parse(body, n, &activate, err, sizeof(err));
                break;
        case 2:
                if (verifier_attest_request_parse(body, n, &attest, err, sizeof(err)) == 0) {
                        attest_quote_selection(attest.message, attest.message_size, &mask, err, sizeof(err));
                        attest_eventlog_check(attest.eventlog, attest.eventlog_size, &attest.pcrs, err, sizeof(err));
                        verifier_attest_request_done(&attest);
                }
                break;
        case 3:
                verifier_secret_request_parse(body, n, &secret, err, sizeof(err));
                break;
        default:
                if (verifier_golden_parse(body, n, &golden, err, sizeof(err)) == 0) {
                        attest_pcrs p = { .mask = 0x1a90 };
                        verifier_golden_match(&golden, &p, &idx, err, sizeof(err));
                        verifier_golden_done(&golden);
                }
        }
        return 0;
}
