/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verifier-service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "ak.h"
#include "base64.h"
#include "digest.h"
#include "eventlog.h"
#include "quote.h"
#include "verifier-credential.h"
#include "verifier-golden.h"
#include "verifier-request.h"

static int64_t now_sec(void) {
        return (int64_t) time(NULL);
}

void verifier_error(verifier_response *ret, int status, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ret->status = status;
        ret->body = json_object_new_object();
        if (ret->body)
                json_object_object_add(ret->body, "error", json_object_new_string(msg));
}

static void add_string(json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

static void ok_response(verifier_response *ret, json_object *body) {
        ret->status = body ? 200 : 500;
        ret->body = body;
}

int verifier_service_load_cas(verifier_service *svc, const char *const *files, size_t n, char *errbuf,
                              size_t errlen) {
        if (!svc->ek_roots && !(svc->ek_roots = X509_STORE_new()))
                return -ENOMEM;
        X509_STORE_set_flags(svc->ek_roots, X509_V_FLAG_PARTIAL_CHAIN);
        for (size_t i = 0; i < n; i++) {
                FILE *f = fopen(files[i], "re");
                size_t count = 0;
                X509 *x;
                if (!f) {
                        snprintf(errbuf, errlen, "%s: %s", files[i], strerror(errno));
                        return -errno;
                }
                while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
                        X509_STORE_add_cert(svc->ek_roots, x);
                        X509_free(x);
                        count++;
                }
                fclose(f);
                if (count == 0) {
                        snprintf(errbuf, errlen, "%s: no PEM certificate", files[i]);
                        return -EBADMSG;
                }
        }
        return 0;
}

void verifier_nonce(verifier_service *svc, verifier_response *ret) {
        uint8_t nonce[32];
        char hex[65];
        int64_t now = now_sec();
        int r;

        if (RAND_bytes(nonce, sizeof(nonce)) != 1)
                return verifier_error(ret, 500, "no randomness");
        r = verifier_store_nonce_add(svc->store, nonce, sizeof(nonce), now, now + svc->nonce_ttl);
        if (r == -EBUSY)
                return verifier_error(ret, 503, "too many outstanding nonces, try again later");
        if (r < 0)
                return verifier_error(ret, 500, "cannot store the nonce");
        json_object *o = json_object_new_object();
        if (o) {
                add_string(o, "nonce", measure_hex(nonce, sizeof(nonce), hex));
                json_object_object_add(o, "expiresIn", json_object_new_int64(svc->nonce_ttl));
        }
        ok_response(ret, o);
}

static int verify_ek_cert(verifier_service *svc, const uint8_t *der, size_t size, EVP_PKEY **ret_key, char *err,
                          size_t errlen) {
        const unsigned char *p = der;
        X509_STORE_CTX *ctx = NULL;
        X509 *x;
        int r = -EPERM;

        x = d2i_X509(NULL, &p, (long) size);
        if (!x || p != der + size) {
                X509_free(x);
                snprintf(err, errlen, "$.ekCert: not one DER X.509 certificate");
                return -EBADMSG;
        }
        if (!svc->ek_roots) {
                snprintf(err, errlen, "no EK certificate authority is configured (--ek-ca)");
                goto finish;
        }
        ctx = X509_STORE_CTX_new();
        if (!ctx || X509_STORE_CTX_init(ctx, svc->ek_roots, x, NULL) != 1) {
                r = -ENOMEM;
                goto finish;
        }
        if (X509_verify_cert(ctx) != 1) {
                snprintf(err, errlen, "the EK certificate does not chain to a trusted EK CA: %s",
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
                goto finish;
        }
        *ret_key = X509_get_pubkey(x);
        r = *ret_key ? 0 : -EBADMSG;
        if (r < 0)
                snprintf(err, errlen, "$.ekCert: no public key");
finish:
        X509_STORE_CTX_free(ctx);
        X509_free(x);
        return r;
}

void verifier_enroll(verifier_service *svc, const char *body, size_t size, verifier_response *ret) {
        verifier_enroll_request *req;
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET secret;
        TPM2B_NAME name;
        EVP_PKEY *ek = NULL;
        uint8_t cred[32], cred_hash[32], id_raw[16], buf[sizeof(TPM2B_ENCRYPTED_SECRET) + 16];
        char err[512], machine[ATTEST_MACHINE_ID_LEN + 1], id[VERIFIER_ID_LEN + 1];
        int64_t now = now_sec();
        int r;

        req = malloc(sizeof(*req));
        if (!req)
                return verifier_error(ret, 500, "out of memory");
        r = verifier_enroll_request_parse(body, size, req, err, sizeof(err));
        if (r < 0) {
                verifier_error(ret, 400, "enroll: %s", err);
                goto finish;
        }
        r = verify_ek_cert(svc, req->ek_cert, req->ek_cert_size, &ek, err, sizeof(err));
        if (r < 0) {
                verifier_error(ret, r == -EBADMSG ? 400 : 403, "enroll: %s", err);
                goto finish;
        }
        if (attest_machine_id(req->ek_cert, req->ek_cert_size, machine, err, sizeof(err)) < 0 ||
            attest_ak_check(&req->ak, err, sizeof(err)) < 0 || attest_public_name(&req->ak, &name, err, sizeof(err)) < 0) {
                verifier_error(ret, 403, "enroll: %s", err);
                goto finish;
        }
        if (RAND_bytes(cred, sizeof(cred)) != 1 || RAND_bytes(id_raw, sizeof(id_raw)) != 1) {
                verifier_error(ret, 500, "no randomness");
                goto finish;
        }
        r = verifier_make_credential(ek, &name, cred, sizeof(cred), &blob, &secret, err, sizeof(err));
        if (r < 0) {
                verifier_error(ret, r == -EOPNOTSUPP ? 403 : 500, "enroll: %s", err);
                goto finish;
        }
        measure_hash(measure_alg_by_id(MEASURE_ALG_SHA256), cred, sizeof(cred), cred_hash);
        measure_hex(id_raw, sizeof(id_raw), id);
        r = verifier_store_enrollment_add(svc->store, id, machine, req->ek_cert, req->ek_cert_size, req->ak_raw,
                                          req->ak_raw_size, cred_hash, now, now + svc->enroll_ttl);
        if (r < 0) {
                verifier_error(ret, 500, "enroll: cannot store the enrollment");
                goto finish;
        }

        json_object *o = json_object_new_object();
        size_t off = 0;
        char *b64;
        if (o) {
                add_string(o, "enrollment", id);
                add_string(o, "machine", machine);
                if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&blob, buf, sizeof(buf), &off) == TSS2_RC_SUCCESS &&
                    (b64 = attest_base64_encode(buf, off))) {
                        add_string(o, "credentialBlob", b64);
                        free(b64);
                }
                off = 0;
                if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&secret, buf, sizeof(buf), &off) == TSS2_RC_SUCCESS &&
                    (b64 = attest_base64_encode(buf, off))) {
                        add_string(o, "secret", b64);
                        free(b64);
                }
        }
        ok_response(ret, o);
finish:
        OPENSSL_cleanse(cred, sizeof(cred));
        EVP_PKEY_free(ek);
        free(req);
}

void verifier_activate(verifier_service *svc, const char *body, size_t size, verifier_response *ret) {
        verifier_activate_request req;
        verifier_enrollment e = {};
        uint8_t hash[32];
        char err[512];
        int r;

        r = verifier_activate_request_parse(body, size, &req, err, sizeof(err));
        if (r < 0)
                return verifier_error(ret, 400, "activate: %s", err);
        r = verifier_store_enrollment_take(svc->store, req.enrollment, now_sec(), &e);
        if (r == -ENOENT)
                return verifier_error(ret, 404, "activate: enrollment %s is unknown, used or expired", req.enrollment);
        if (r < 0)
                return verifier_error(ret, 500, "activate: cannot read the enrollment");
        measure_hash(measure_alg_by_id(MEASURE_ALG_SHA256), req.credential, req.credential_size, hash);
        OPENSSL_cleanse(req.credential, sizeof(req.credential));
        if (CRYPTO_memcmp(hash, e.cred_hash, sizeof(hash)) != 0) {
                verifier_error(ret, 403, "activate: wrong credential: the AK is not in the TPM of that EK");
                goto finish;
        }
        r = verifier_store_machine_enroll(svc->store, e.machine, e.ek_cert, e.ek_cert_size, e.ak, e.ak_size, now_sec());
        if (r < 0) {
                verifier_error(ret, 500, "activate: cannot store the machine");
                goto finish;
        }
        json_object *o = json_object_new_object();
        if (o) {
                add_string(o, "machine", e.machine);
                json_object_object_add(o, "enrolled", json_object_new_boolean(1));
        }
        ok_response(ret, o);
finish:
        verifier_enrollment_done(&e);
}

static void ak_name_hex(const uint8_t *raw, size_t size, char hex[2 * 34 + 1]) {
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        hex[0] = '\0';
        if (attest_public_parse(raw, size, &pub, NULL, 0) == 0 && attest_public_name(&pub, &name, NULL, 0) == 0)
                measure_hex(name.name, name.size, hex);
}

void verifier_machine_status(verifier_service *svc, const char *machine, verifier_response *ret) {
        verifier_machine m = {};
        char hex[2 * 34 + 1];
        int r;

        r = verifier_store_machine_get(svc->store, machine, &m);
        if (r == -ENOENT)
                return verifier_error(ret, 404, "machine %s is unknown", machine);
        if (r < 0)
                return verifier_error(ret, 500, "cannot read machine %s", machine);
        json_object *o = json_object_new_object();
        if (o) {
                add_string(o, "machine", machine);
                json_object_object_add(o, "enrolled", json_object_new_boolean(m.enrolled));
                if (m.enrolled) {
                        ak_name_hex(m.ak, m.ak_size, hex);
                        add_string(o, "akName", hex);
                } else
                        add_string(o, "akName", NULL);
                json_object_object_add(o, "golden", json_object_new_boolean(m.golden != NULL));
                json_object_object_add(o, "secret", json_object_new_boolean(m.secret != NULL));
        }
        ok_response(ret, o);
        verifier_machine_done(&m);
}

void verifier_set_golden(verifier_service *svc, const char *machine, const char *body, size_t size,
                         verifier_response *ret) {
        verifier_golden g = {};
        char err[512];
        int r;

        r = verifier_golden_parse(body, size, &g, err, sizeof(err));
        if (r < 0)
                return verifier_error(ret, 400, "%s", err);
        r = verifier_store_machine_set_golden(svc->store, machine, body, size);
        if (r < 0) {
                verifier_golden_done(&g);
                return verifier_error(ret, 500, "cannot store the golden values");
        }
        json_object *o = json_object_new_object();
        if (o) {
                add_string(o, "machine", machine);
                json_object_object_add(o, "generations", json_object_new_int64((int64_t) g.n));
        }
        verifier_golden_done(&g);
        ok_response(ret, o);
}

void verifier_set_secret(verifier_service *svc, const char *machine, const char *body, size_t size,
                         verifier_response *ret) {
        verifier_secret_request req;
        char err[512];
        int r;

        r = verifier_secret_request_parse(body, size, &req, err, sizeof(err));
        if (r < 0)
                return verifier_error(ret, 400, "%s", err);
        r = verifier_store_machine_set_secret(svc->store, machine, req.secret, req.secret_size);
        OPENSSL_cleanse(req.secret, sizeof(req.secret));
        if (r < 0)
                return verifier_error(ret, 500, "cannot store the secret");
        json_object *o = json_object_new_object();
        if (o)
                add_string(o, "machine", machine);
        ok_response(ret, o);
}

/* A refusal: status 403 and {"verdict": "fail", "machine", "reason", ...}. */
static json_object *verdict(const char *machine, bool pass, const char *reason) {
        json_object *o = json_object_new_object();
        if (o) {
                add_string(o, "verdict", pass ? "pass" : "fail");
                add_string(o, "machine", machine);
                add_string(o, "reason", reason);
        }
        return o;
}

static void refuse(verifier_response *ret, const char *machine, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void refuse(verifier_response *ret, const char *machine, const char *fmt, ...) {
        char msg[1536];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ret->status = 403;
        ret->body = verdict(machine, false, msg);
}

/* A malformed log is bad input (400) and does not spend the nonce. */
static int check_eventlog(const uint8_t *data, size_t size, char *err, size_t errlen) {
        measure_eventlog log;
        measure_eventlog_error e = {};
        measure_eventlog_iter it;
        measure_event ev;
        int r;

        r = measure_eventlog_open(data, size, &log, &e);
        if (r >= 0) {
                measure_eventlog_iter_init(&it, &log);
                while ((r = measure_eventlog_next(&it, &ev, &e)) > 0)
                        ;
        }
        if (r < 0)
                snprintf(err, errlen, "event log: event %zu at offset %zu: %s", e.index, e.offset, e.message);
        return r < 0 ? -EBADMSG : 0;
}

void verifier_attest(verifier_service *svc, const char *body, size_t size, verifier_response *ret) {
        verifier_attest_request *req;
        verifier_machine m = {};
        verifier_golden g = {};
        TPM2B_PUBLIC ak;
        char err[1536];
        size_t idx;
        int r;

        req = malloc(sizeof(*req));
        if (!req)
                return verifier_error(ret, 500, "out of memory");
        r = verifier_attest_request_parse(body, size, req, err, sizeof(err));
        if (r < 0) {
                free(req);
                return verifier_error(ret, 400, "attest: %s", err);
        }
        r = check_eventlog(req->eventlog, req->eventlog_size, err, sizeof(err));
        if (r < 0) {
                verifier_error(ret, 400, "attest: $.eventlog: %s", err);
                goto finish;
        }
        /* The nonce is spent by any attempt that gets this far, good or bad. */
        if (verifier_store_nonce_take(svc->store, req->nonce, req->nonce_size, now_sec()) < 0) {
                refuse(ret, req->machine, "nonce unknown, already used or expired");
                goto finish;
        }
        r = verifier_store_machine_get(svc->store, req->machine, &m);
        if (r == -ENOENT || (r == 0 && !m.enrolled)) {
                ret->status = 0;
                verifier_error(ret, 409, "attest: machine %s is not enrolled", req->machine);
                goto finish;
        }
        if (r < 0) {
                verifier_error(ret, 500, "attest: cannot read machine %s", req->machine);
                goto finish;
        }
        if (attest_public_parse(m.ak, m.ak_size, &ak, err, sizeof(err)) < 0) {
                verifier_error(ret, 500, "attest: stored AK: %s", err);
                goto finish;
        }
        r = attest_quote_verify(&ak, req->message, req->message_size, req->signature, req->signature_size, req->nonce,
                                req->nonce_size, &req->pcrs, NULL, err, sizeof(err));
        if (r == -EPERM) {
                refuse(ret, req->machine, "%s", err);
                goto finish;
        }
        if (r < 0) {
                verifier_error(ret, 400, "attest: %s", err);
                goto finish;
        }
        r = attest_eventlog_check(req->eventlog, req->eventlog_size, &req->pcrs, err, sizeof(err));
        if (r == -EPERM) {
                refuse(ret, req->machine, "%s", err);
                goto finish;
        }
        if (r < 0) {
                verifier_error(ret, 400, "attest: $.eventlog: %s", err);
                goto finish;
        }
        if (!m.golden) {
                refuse(ret, req->machine, "no golden values are registered for machine %s", req->machine);
                goto finish;
        }
        r = verifier_golden_parse(m.golden, m.golden_size, &g, err, sizeof(err));
        if (r < 0) {
                verifier_error(ret, 500, "attest: stored golden values: %s", err);
                goto finish;
        }
        r = verifier_golden_match(&g, &req->pcrs, &idx, err, sizeof(err));
        if (r < 0) {
                refuse(ret, req->machine, "%s", err);
                goto finish;
        }

        const verifier_golden_entry *e = &g.entries[idx];
        char desc[320];
        verifier_golden_describe(e, desc, sizeof(desc));
        char reason[400];
        snprintf(reason, sizeof(reason), "the quoted PCRs are those predicted for %s", desc);
        json_object *o = verdict(req->machine, true, reason), *gen = json_object_new_object();
        if (o && gen) {
                add_string(gen, "profile", e->profile);
                json_object_object_add(gen, "generation", json_object_new_int64(e->generation));
                add_string(gen, "specialisation", e->specialisation[0] ? e->specialisation : NULL);
                add_string(gen, "label", e->label);
                json_object_object_add(o, "generation", gen);
                gen = NULL;
                if (m.secret) {
                        char *b64 = attest_base64_encode(m.secret, m.secret_size);
                        add_string(o, "secret", b64);
                        if (b64)
                                OPENSSL_cleanse(b64, strlen(b64));
                        free(b64);
                }
        }
        json_object_put(gen);
        ok_response(ret, o);
finish:
        verifier_golden_done(&g);
        verifier_machine_done(&m);
        verifier_attest_request_done(req);
        free(req);
}
