/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verifier-request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"
#include "tpm.h"

int verifier_json_parse(const char *body, size_t size, json_object **ret, char *errbuf, size_t errlen) {
        json_tokener *tok;
        json_object *o;
        size_t end;

        if (!ret || (!body && size))
                return -EINVAL;
        if (size == 0) {
                attest_set_error(errbuf, errlen, "empty body, a JSON object was expected");
                return -EBADMSG;
        }
        if (size > VERIFIER_BODY_MAX) {
                attest_set_error(errbuf, errlen, "body of %zu bytes, at most %u", size, VERIFIER_BODY_MAX);
                return -E2BIG;
        }
        tok = json_tokener_new_ex(VERIFIER_JSON_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, body, (int) size);
        end = json_tokener_get_parse_end(tok);
        if (!o || json_tokener_get_error(tok) != json_tokener_success) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                attest_set_error(errbuf, errlen, "body: offset %zu: %s", end,
                                 e == json_tokener_continue ? "unexpected end of JSON" : json_tokener_error_desc(e));
                json_object_put(o);
                json_tokener_free(tok);
                return -EBADMSG;
        }
        json_tokener_free(tok);
        while (end < size && (body[end] == ' ' || body[end] == '\n' || body[end] == '\r' || body[end] == '\t'))
                end++;
        if (end != size) {
                attest_set_error(errbuf, errlen, "body: offset %zu: data after the JSON value", end);
                json_object_put(o);
                return -EBADMSG;
        }
        if (!json_object_is_type(o, json_type_object)) {
                attest_set_error(errbuf, errlen, "body: a JSON object was expected");
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

int verifier_base64_decode(const char *in, size_t in_size, uint8_t *buf, size_t max, size_t *ret_size) {
        size_t pad = 0;
        int n;

        if (!in || !buf || !ret_size)
                return -EINVAL;
        if (in_size == 0) {
                *ret_size = 0;
                return 0;
        }
        if (in_size % 4 != 0 || in_size > INT32_MAX)
                return -EBADMSG;
        if (in_size / 4 * 3 > max + 2)
                return -E2BIG;
        if (in[in_size - 1] == '=')
                pad++;
        if (in[in_size - 2] == '=')
                pad++;
        for (size_t i = 0; i < in_size - pad; i++)
                if (!((in[i] >= 'A' && in[i] <= 'Z') || (in[i] >= 'a' && in[i] <= 'z') ||
                      (in[i] >= '0' && in[i] <= '9') || in[i] == '+' || in[i] == '/'))
                        return -EBADMSG;
        if (in_size / 4 * 3 - pad > max)
                return -E2BIG;
        /* EVP_DecodeBlock writes whole 3-byte groups: decode the last group into a scratch buffer. */
        size_t head = in_size - 4;
        uint8_t tail[3];
        n = head ? EVP_DecodeBlock(buf, (const unsigned char *) in, (int) head) : 0;
        if (n < 0 || EVP_DecodeBlock(tail, (const unsigned char *) in + head, 4) != 3)
                return -EBADMSG;
        memcpy(buf + n, tail, 3 - pad);
        *ret_size = (size_t) n + 3 - pad;
        return 0;
}

bool verifier_is_hex_id(const char *s, size_t len) {
        if (!s || strlen(s) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* Refuses members other than the known ones. */
static int check_members(json_object *o, const char *const *known, char *errbuf, size_t errlen) {
        json_object_object_foreach(o, key, val) {
                (void) val;
                bool found = false;
                for (size_t i = 0; known[i]; i++)
                        if (strcmp(key, known[i]) == 0)
                                found = true;
                if (!found) {
                        attest_set_error(errbuf, errlen, "$.%.64s: unknown member", key);
                        return -EBADMSG;
                }
        }
        return 0;
}

static int get_string(json_object *o, const char *key, const char **ret, size_t *ret_len, char *errbuf,
                      size_t errlen) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v)) {
                attest_set_error(errbuf, errlen, "$.%s: missing", key);
                return -EBADMSG;
        }
        if (!json_object_is_type(v, json_type_string)) {
                attest_set_error(errbuf, errlen, "$.%s: not a string", key);
                return -EBADMSG;
        }
        *ret = json_object_get_string(v);
        *ret_len = (size_t) json_object_get_string_len(v);
        return 0;
}

static int get_base64(json_object *o, const char *key, uint8_t *buf, size_t max, size_t *ret_size, char *errbuf,
                      size_t errlen) {
        const char *s;
        size_t len;
        int r = get_string(o, key, &s, &len, errbuf, errlen);
        if (r < 0)
                return r;
        r = verifier_base64_decode(s, len, buf, max, ret_size);
        if (r == -E2BIG) {
                attest_set_error(errbuf, errlen, "$.%s: more than %zu bytes", key, max);
                return -EBADMSG;
        }
        if (r < 0) {
                attest_set_error(errbuf, errlen, "$.%s: not base64", key);
                return -EBADMSG;
        }
        if (*ret_size == 0) {
                attest_set_error(errbuf, errlen, "$.%s: empty", key);
                return -EBADMSG;
        }
        return 0;
}

static int get_hex(json_object *o, const char *key, uint8_t *buf, size_t max, size_t *ret_size, char *errbuf,
                   size_t errlen) {
        const char *s;
        size_t len;
        int r = get_string(o, key, &s, &len, errbuf, errlen);
        if (r < 0)
                return r;
        if (len == 0 || len % 2 || len / 2 > max || measure_unhex(s, buf, len / 2) < 0) {
                attest_set_error(errbuf, errlen, "$.%s: not 1 to %zu bytes of hex", key, max);
                return -EBADMSG;
        }
        *ret_size = len / 2;
        return 0;
}

/* An id of exactly len lowercase hex digits (what names it in the message: "an enrollment id"), copied with
 * its NUL into buf (len + 1 bytes). */
static int get_hex_id(json_object *o, const char *key, const char *what, size_t len, char *buf, char *errbuf,
                      size_t errlen) {
        const char *s;
        size_t n;
        int r = get_string(o, key, &s, &n, errbuf, errlen);
        if (r < 0)
                return r;
        if (!verifier_is_hex_id(s, len)) {
                attest_set_error(errbuf, errlen, "$.%s: not %s (%zu lowercase hex digits)", key, what, len);
                return -EBADMSG;
        }
        memcpy(buf, s, len + 1);
        return 0;
}

int verifier_enroll_request_parse(const char *body, size_t size, verifier_enroll_request *ret, char *errbuf,
                                  size_t errlen) {
        static const char *const known[] = { "ekCert", "akPublic", NULL };
        json_object *o = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = verifier_json_parse(body, size, &o, errbuf, errlen);
        if (r < 0)
                return r;
        r = check_members(o, known, errbuf, errlen);
        if (r >= 0)
                r = get_base64(o, "ekCert", ret->ek_cert, sizeof(ret->ek_cert), &ret->ek_cert_size, errbuf, errlen);
        if (r >= 0)
                r = get_base64(o, "akPublic", ret->ak_raw, sizeof(ret->ak_raw), &ret->ak_raw_size, errbuf, errlen);
        if (r >= 0) {
                char e[200];
                r = attest_public_parse(ret->ak_raw, ret->ak_raw_size, &ret->ak, e, sizeof(e));
                if (r < 0)
                        attest_set_error(errbuf, errlen, "$.akPublic: %s", e);
        }
        json_object_put(o);
        return r;
}

int verifier_activate_request_parse(const char *body, size_t size, verifier_activate_request *ret, char *errbuf,
                                    size_t errlen) {
        static const char *const known[] = { "enrollment", "credential", NULL };
        json_object *o = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = verifier_json_parse(body, size, &o, errbuf, errlen);
        if (r < 0)
                return r;
        r = check_members(o, known, errbuf, errlen);
        if (r >= 0)
                r = get_hex_id(o, "enrollment", "an enrollment id", VERIFIER_ID_LEN, ret->enrollment, errbuf, errlen);
        if (r >= 0)
                r = get_hex(o, "credential", ret->credential, sizeof(ret->credential), &ret->credential_size, errbuf,
                            errlen);
        json_object_put(o);
        return r;
}

static int get_pcrs(json_object *o, attest_pcrs *ret, char *errbuf, size_t errlen) {
        json_object *pcrs, *bank;
        attest_pcrs p = {};

        if (!json_object_object_get_ex(o, "pcrs", &pcrs) || !json_object_is_type(pcrs, json_type_object)) {
                attest_set_error(errbuf, errlen, "$.pcrs: missing or not an object");
                return -EBADMSG;
        }
        json_object_object_foreach(pcrs, bank_name, b) {
                (void) b;
                if (strcmp(bank_name, "sha256") != 0) {
                        attest_set_error(errbuf, errlen, "$.pcrs.%.32s: only the sha256 bank is handled", bank_name);
                        return -EBADMSG;
                }
        }
        if (!json_object_object_get_ex(pcrs, "sha256", &bank) || !json_object_is_type(bank, json_type_object)) {
                attest_set_error(errbuf, errlen, "$.pcrs.sha256: missing or not an object");
                return -EBADMSG;
        }
        json_object_object_foreach(bank, key, val) {
                char *end;
                unsigned long pcr;
                const char *hex;
                if (key[0] < '0' || key[0] > '9' || strlen(key) > 2 ||
                    (pcr = strtoul(key, &end, 10), *end != '\0') || pcr >= MEASURE_PCR_COUNT ||
                    (key[0] == '0' && key[1])) {
                        attest_set_error(errbuf, errlen, "$.pcrs.sha256.%.16s: not a PCR index 0-23", key);
                        return -EBADMSG;
                }
                if (!json_object_is_type(val, json_type_string) || json_object_get_string_len(val) != 64 ||
                    measure_unhex((hex = json_object_get_string(val)), p.value[pcr], 32) < 0) {
                        attest_set_error(errbuf, errlen, "$.pcrs.sha256.%lu: not 64 hex digits", pcr);
                        return -EBADMSG;
                }
                p.mask |= UINT32_C(1) << pcr;
        }
        if (p.mask == 0) {
                attest_set_error(errbuf, errlen, "$.pcrs.sha256: no PCR values");
                return -EBADMSG;
        }
        *ret = p;
        return 0;
}

int verifier_attest_request_parse(const char *body, size_t size, verifier_attest_request *ret, char *errbuf,
                                  size_t errlen) {
        static const char *const known[] = { "machine", "nonce", "quote", "signature", "pcrs", "eventlog", NULL };
        verifier_attest_request *q = ret;
        json_object *o = NULL;
        const char *s;
        size_t len;
        int r;

        if (!ret)
                return -EINVAL;
        memset(q, 0, sizeof(*q));
        r = verifier_json_parse(body, size, &o, errbuf, errlen);
        if (r < 0)
                return r;
        r = check_members(o, known, errbuf, errlen);
        if (r >= 0)
                r = get_hex_id(o, "machine", "a machine id", ATTEST_MACHINE_ID_LEN, q->machine, errbuf, errlen);
        if (r >= 0)
                r = get_hex(o, "nonce", q->nonce, sizeof(q->nonce), &q->nonce_size, errbuf, errlen);
        if (r >= 0)
                r = get_base64(o, "quote", q->message, sizeof(q->message), &q->message_size, errbuf, errlen);
        if (r >= 0)
                r = get_base64(o, "signature", q->signature, sizeof(q->signature), &q->signature_size, errbuf, errlen);
        if (r >= 0)
                r = get_pcrs(o, &q->pcrs, errbuf, errlen);
        if (r >= 0)
                r = get_string(o, "eventlog", &s, &len, errbuf, errlen);
        if (r >= 0) {
                size_t max = len / 4 * 3;
                if (max > VERIFIER_EVENTLOG_MAX)
                        max = VERIFIER_EVENTLOG_MAX;
                q->eventlog = malloc(max ? max : 1);
                if (!q->eventlog)
                        r = -ENOMEM;
                else
                        r = get_base64(o, "eventlog", q->eventlog, max, &q->eventlog_size, errbuf, errlen);
        }
        json_object_put(o);
        if (r < 0)
                verifier_attest_request_done(q);
        return r;
}

void verifier_attest_request_done(verifier_attest_request *r) {
        if (!r)
                return;
        free(r->eventlog);
        r->eventlog = NULL;
        r->eventlog_size = 0;
}

int verifier_secret_request_parse(const char *body, size_t size, verifier_secret_request *ret, char *errbuf,
                                  size_t errlen) {
        static const char *const known[] = { "secret", NULL };
        json_object *o = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = verifier_json_parse(body, size, &o, errbuf, errlen);
        if (r < 0)
                return r;
        r = check_members(o, known, errbuf, errlen);
        if (r >= 0)
                r = get_base64(o, "secret", ret->secret, sizeof(ret->secret), &ret->secret_size, errbuf, errlen);
        json_object_put(o);
        return r;
}
