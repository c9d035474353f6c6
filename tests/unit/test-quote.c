/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Quote verification and the verifier's input parsing, without a TPM.
 *
 * The quote below was made by tpm2-tools on swtpm and accepted by tpm2_checkquote:
 *   tpm2_createak -C 0x81010001 -c ak.ctx -u ak.pub -G ecc -g sha256 -s ecdsa
 *   tpm2_quote -c ak.ctx -l sha256:0,7,11 -q 6c616e7465726e -m msg -s sig -o pcr -F values -g sha256
 *   tpm2_checkquote -u ak.pub -m msg -s sig -f pcr -l sha256:0,7,11 -q 6c616e7465726e -g sha256
 * Base64 vectors are RFC 4648's (section 10). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak.h"
#include "base64.h"
#include "quote.h"
#include "tap.h"
#include "verifier-golden.h"
#include "verifier-request.h"

static const uint8_t ak_public[] = {
        0x00, 0x58, 0x00, 0x23, 0x00, 0x0b, 0x00, 0x05, 0x00, 0x72, 0x00, 0x00,
        0x00, 0x10, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x03, 0x00, 0x10, 0x00, 0x20,
        0xc2, 0xe6, 0xbc, 0x59, 0xe8, 0x15, 0x61, 0x50, 0x58, 0x39, 0xba, 0x73,
        0xc2, 0x7f, 0xcf, 0x59, 0x44, 0x96, 0xb4, 0xae, 0x4f, 0x61, 0x53, 0xa8,
        0x78, 0x70, 0x97, 0x44, 0x98, 0x0f, 0x09, 0x26, 0x00, 0x20, 0x2a, 0x1a,
        0x5c, 0x34, 0x95, 0x0f, 0x1d, 0x82, 0x4e, 0xe0, 0x26, 0xce, 0x8d, 0x75,
        0xc6, 0x73, 0x07, 0x8c, 0x14, 0xdb, 0x13, 0xf3, 0xe5, 0xa2, 0xc5, 0xaa,
        0x6c, 0xa6, 0x5f, 0xc3, 0xfa, 0xc4,
};

static const uint8_t message[] = {
        0xff, 0x54, 0x43, 0x47, 0x80, 0x18, 0x00, 0x22, 0x00, 0x0b, 0x38, 0x71,
        0x1c, 0x09, 0x86, 0x6f, 0x93, 0xc8, 0x0b, 0x37, 0x0d, 0x8e, 0xe5, 0x30,
        0x8e, 0xa2, 0x34, 0xd8, 0x31, 0xd6, 0xa9, 0x02, 0xa0, 0xf8, 0x53, 0x52,
        0x0f, 0x2a, 0x07, 0xca, 0x4b, 0x27, 0x00, 0x07, 0x6c, 0x61, 0x6e, 0x74,
        0x65, 0x72, 0x6e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x99, 0x1a, 0x00,
        0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x19, 0x10, 0x23,
        0x00, 0x16, 0x36, 0x36, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0b, 0x03, 0x81,
        0x08, 0x00, 0x00, 0x20, 0x9b, 0xf6, 0xec, 0x3b, 0x88, 0xec, 0xb6, 0x7e,
        0xe5, 0x77, 0x0d, 0x0c, 0xd7, 0xb7, 0xdb, 0x4c, 0xfb, 0xd3, 0xb5, 0x87,
        0x3d, 0xa2, 0x51, 0xd0, 0x26, 0x33, 0x45, 0xe2, 0xc4, 0xbf, 0x64, 0x37,
};

static const uint8_t signature[] = {
        0x00, 0x18, 0x00, 0x0b, 0x00, 0x20, 0x9b, 0x92, 0xb1, 0xf6, 0x69, 0x1c,
        0xfc, 0x53, 0x0e, 0x48, 0x56, 0x6d, 0x9d, 0x22, 0xcb, 0x9e, 0x20, 0xac,
        0xbc, 0x8b, 0xfd, 0x86, 0x4b, 0xe9, 0xb3, 0x94, 0xde, 0x2f, 0xc4, 0x17,
        0xd5, 0x41, 0x00, 0x20, 0x2a, 0xe0, 0x97, 0x64, 0x2b, 0x83, 0xb7, 0x84,
        0xc6, 0x1c, 0xcd, 0x0a, 0xf0, 0xa6, 0x95, 0x5d, 0x04, 0xad, 0xc3, 0x24,
        0xb7, 0xcf, 0x91, 0x0a, 0xa2, 0x48, 0x00, 0x21, 0x6e, 0x27, 0xa6, 0x6c,
};

static const uint8_t pcr_values[] = {
        0x17, 0x7e, 0x29, 0xc4, 0x17, 0xb6, 0xb6, 0x1c, 0x7c, 0xf4, 0x6e, 0xd3,
        0x0b, 0x44, 0x68, 0x93, 0x1f, 0x58, 0x64, 0x25, 0x27, 0xa2, 0x68, 0xb5,
        0x56, 0x25, 0x4e, 0x39, 0xb9, 0x41, 0xec, 0x6a, 0x65, 0xca, 0xf8, 0xdd,
        0x1e, 0x0e, 0xa7, 0xa6, 0x34, 0x7b, 0x63, 0x5d, 0x2b, 0x37, 0x9c, 0x93,
        0xb9, 0xa1, 0x35, 0x1e, 0xdc, 0x2a, 0xfc, 0x3e, 0xcd, 0xa7, 0x00, 0xe5,
        0x34, 0xeb, 0x30, 0x68, 0x74, 0xe2, 0xb1, 0x23, 0x8b, 0x2e, 0xd0, 0x4d,
        0x92, 0xce, 0x6c, 0x66, 0xdf, 0x64, 0x93, 0xd5, 0xd7, 0x01, 0xfb, 0xa7,
        0x0e, 0x5b, 0x06, 0x87, 0xe5, 0x38, 0xe7, 0xe2, 0xc8, 0x29, 0xf1, 0x1f,
};

static const uint8_t nonce[] = { 'l', 'a', 'n', 't', 'e', 'r', 'n' };
#define MASK ((1u << 0) | (1u << 7) | (1u << 11))

static void test_quote(void) {
        TPM2B_PUBLIC ak;
        attest_pcrs pcrs;
        uint32_t mask = 0, selected = 0;
        uint8_t buf[sizeof(message)], other_nonce[sizeof(nonce)];
        char err[512];
        int r;

        CHECK(attest_public_parse(ak_public, sizeof(ak_public), &ak, err, sizeof(err)) == 0, "tpm2_createak's ak.pub parses");
        CHECK(attest_ak_check(&ak, err, sizeof(err)) == 0, "tpm2_createak's AK is a restricted signing key");
        CHECK(attest_public_parse(ak_public, sizeof(ak_public) - 1, &ak, err, sizeof(err)) == -EBADMSG,
              "a truncated TPM2B_PUBLIC is refused");
        attest_public_parse(ak_public, sizeof(ak_public), &ak, err, sizeof(err));

        CHECK(attest_quote_selection(message, sizeof(message), &mask, err, sizeof(err)) == 0 && mask == MASK,
              "the quote selects sha256 PCRs 0, 7, 11");
        CHECK(attest_pcrs_from_values(mask, pcr_values, sizeof(pcr_values), &pcrs, err, sizeof(err)) == 0,
              "tpm2_quote's values file reads as 3 PCRs");
        CHECK(attest_pcrs_from_values(mask, pcr_values, sizeof(pcr_values) - 1, &pcrs, err, sizeof(err)) == -EBADMSG,
              "a values file one byte short is refused");
        attest_pcrs_from_values(mask, pcr_values, sizeof(pcr_values), &pcrs, err, sizeof(err));

        r = attest_quote_verify(&ak, message, sizeof(message), signature, sizeof(signature), nonce, sizeof(nonce),
                                &pcrs, &selected, err, sizeof(err));
        CHECK(r == 0 && selected == MASK, "tpm2_quote's quote verifies (signature, nonce, PCR digest)");

        memcpy(other_nonce, nonce, sizeof(nonce));
        other_nonce[0] ^= 1;
        r = attest_quote_verify(&ak, message, sizeof(message), signature, sizeof(signature), other_nonce,
                                sizeof(other_nonce), &pcrs, NULL, err, sizeof(err));
        CHECK(r == -EPERM && strstr(err, "nonce"), "another nonce: -EPERM naming the nonce");

        attest_pcrs changed = pcrs;
        changed.value[7][0] ^= 1;
        r = attest_quote_verify(&ak, message, sizeof(message), signature, sizeof(signature), nonce, sizeof(nonce),
                                &changed, NULL, err, sizeof(err));
        CHECK(r == -EPERM && strstr(err, "PCR digest"), "a changed PCR 7: -EPERM naming the PCR digest");

        attest_pcrs missing = pcrs;
        missing.mask &= ~(1u << 11);
        r = attest_quote_verify(&ak, message, sizeof(message), signature, sizeof(signature), nonce, sizeof(nonce),
                                &missing, NULL, err, sizeof(err));
        CHECK(r == -EBADMSG, "PCR 11 value missing: -EBADMSG");

        /* Every byte of the message is covered by the signature or refused as malformed. */
        bool all = true;
        for (size_t i = 0; i < sizeof(message); i++) {
                memcpy(buf, message, sizeof(message));
                buf[i] ^= 0x01;
                r = attest_quote_verify(&ak, buf, sizeof(buf), signature, sizeof(signature), NULL, 0, NULL, NULL,
                                        err, sizeof(err));
                if (r != -EPERM && r != -EBADMSG && r != -EOPNOTSUPP)
                        all = false;
        }
        CHECK(all, "every single-bit change of the message is refused");

        uint8_t sig[sizeof(signature)];
        memcpy(sig, signature, sizeof(sig));
        sig[10] ^= 0x80;
        r = attest_quote_verify(&ak, message, sizeof(message), sig, sizeof(sig), NULL, 0, NULL, NULL, err, sizeof(err));
        CHECK(r == -EPERM, "a changed signature byte: -EPERM");
        CHECK(attest_quote_verify(&ak, message, sizeof(message), signature, sizeof(signature) - 1, NULL, 0, NULL, NULL,
                                  err, sizeof(err)) == -EBADMSG, "a truncated signature: -EBADMSG");
        CHECK(attest_quote_selection(message, 10, &mask, err, sizeof(err)) == -EBADMSG, "a truncated message: -EBADMSG");
        memcpy(buf, message, sizeof(message));
        buf[0] = 0;
        CHECK(attest_quote_selection(buf, sizeof(buf), &mask, err, sizeof(err)) == -EBADMSG &&
              strstr(err, "not a TPM-generated quote"), "magic changed: not a TPM-generated quote");
}

static void test_base64(void) {
        static const struct { const char *in, *out; } v[] = {
                { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
                { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
        };
        uint8_t buf[16];
        size_t n;
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                char *e = attest_base64_encode((const uint8_t *) v[i].in, strlen(v[i].in));
                CHECK(e && strcmp(e, v[i].out) == 0, "RFC 4648 encode \"%s\"", v[i].in);
                free(e);
                int r = verifier_base64_decode(v[i].out, strlen(v[i].out), buf, sizeof(buf), &n);
                CHECK(r == 0 && n == strlen(v[i].in) && memcmp(buf, v[i].in, n) == 0, "RFC 4648 decode \"%s\"", v[i].out);
        }
        CHECK(verifier_base64_decode("Zm9vYmFy", 8, buf, 5, &n) == -E2BIG, "decoding into too small a buffer: -E2BIG");
        CHECK(verifier_base64_decode("Zm9", 3, buf, sizeof(buf), &n) == -EBADMSG, "length not a multiple of 4");
        CHECK(verifier_base64_decode("Zm=v", 4, buf, sizeof(buf), &n) == -EBADMSG, "padding inside");
        CHECK(verifier_base64_decode("Zm9v\nYmFy", 9, buf, sizeof(buf), &n) == -EBADMSG, "a line break");
        CHECK(verifier_base64_decode(" m9v", 4, buf, sizeof(buf), &n) == -EBADMSG, "a space");
}

static void test_json(void) {
        json_object *o = NULL;
        char err[256], deep[64];
        CHECK(verifier_json_parse("{}", 2, &o, err, sizeof(err)) == 0, "{} parses");
        json_object_put(o);
        CHECK(verifier_json_parse("{} x", 4, &o, err, sizeof(err)) == -EBADMSG && strstr(err, "offset 3"),
              "data after the value: refused at offset 3 (%s)", err);
        CHECK(verifier_json_parse("[]", 2, &o, err, sizeof(err)) == -EBADMSG, "an array is not a request");
        memset(deep, '[', 20);
        memset(deep + 20, ']', 20);
        CHECK(verifier_json_parse(deep, 40, &o, err, sizeof(err)) == -EBADMSG, "nesting of 20: refused");
        CHECK(verifier_json_parse("", 0, &o, err, sizeof(err)) == -EBADMSG, "empty body: refused");

        verifier_activate_request a;
        const char *ok = "{\"enrollment\":\"0123456789abcdef0123456789abcdef\",\"credential\":\"00ff\"}";
        CHECK(verifier_activate_request_parse(ok, strlen(ok), &a, err, sizeof(err)) == 0 && a.credential_size == 2,
              "activate request parses");
        const char *upper = "{\"enrollment\":\"0123456789ABCDEF0123456789abcdef\",\"credential\":\"00ff\"}";
        CHECK(verifier_activate_request_parse(upper, strlen(upper), &a, err, sizeof(err)) == -EBADMSG &&
              strstr(err, "$.enrollment"), "an enrollment id in uppercase: refused naming $.enrollment");
        const char *num = "{\"enrollment\":1,\"credential\":\"00ff\"}";
        CHECK(verifier_activate_request_parse(num, strlen(num), &a, err, sizeof(err)) == -EBADMSG &&
              strcmp(err, "$.enrollment: not a string") == 0, "enrollment as a number: $.enrollment: not a string");
}

static void test_golden(void) {
        const char *json =
                "{\"generations\":["
                "{\"profile\":\"system\",\"generation\":1,\"specialisation\":null,\"label\":\"a\",\"pcrs\":null},"
                "{\"profile\":\"system\",\"generation\":2,\"specialisation\":\"debug\",\"label\":\"b\",\"pcrs\":{\"sha256\":{"
                "\"7\":\"65caf8dd1e0ea7a6347b635d2b379c93b9a1351edc2afc3ecda700e534eb3068\","
                "\"11\":\"74e2b1238b2ed04d92ce6c66df6493d5d701fba70e5b0687e538e7e2c829f11f\"}}}]}";
        verifier_golden g = {};
        attest_pcrs quoted = {};
        size_t idx;
        char err[1024];

        CHECK(verifier_golden_parse(json, strlen(json), &g, err, sizeof(err)) == 0 && g.n == 2, "golden values parse");
        attest_pcrs_from_values(MASK, pcr_values, sizeof(pcr_values), &quoted, err, sizeof(err));
        CHECK(verifier_golden_match(&g, &quoted, &idx, err, sizeof(err)) == 0 && idx == 1,
              "the tpm2_quote PCRs match generation 2 (debug)");
        quoted.value[11][31] ^= 1;
        CHECK(verifier_golden_match(&g, &quoted, &idx, err, sizeof(err)) == -ENOENT && idx == 1 &&
              strstr(err, "closest is generation 2 (specialisation debug) of profile system, \"b\": PCR 11 expected "
                          "74e2b1238b2ed04d92ce6c66df6493d5d701fba70e5b0687e538e7e2c829f11f, quoted "),
              "PCR 11 changed: no match, the reason names PCR 11");
        quoted.mask &= ~(1u << 7);
        quoted.value[11][31] ^= 1;
        CHECK(verifier_golden_match(&g, &quoted, &idx, err, sizeof(err)) == -ENOENT && strstr(err, "PCR 7 is not quoted"),
              "PCR 7 not quoted: no match");
        verifier_golden_done(&g);
        const char *bad = "{\"generations\":[{\"pcrs\":{\"sha256\":{\"24\":\"00\"}}}]}";
        CHECK(verifier_golden_parse(bad, strlen(bad), &g, err, sizeof(err)) == -EBADMSG &&
              strcmp(err, "$.generations[0].pcrs.sha256.24: not a PCR index") == 0, "PCR 24 in golden values: %s", err);
        const char *none = "{\"generations\":[{\"pcrs\":null}]}";
        CHECK(verifier_golden_parse(none, strlen(none), &g, err, sizeof(err)) == -EBADMSG,
              "golden values without any predicted PCRs: refused");
}

int main(void) {
        test_quote();
        test_base64();
        test_json();
        test_golden();
        return tap_done();
}
