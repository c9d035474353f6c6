/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lantern-config.h"

#include "ak.h"
#include "base64.h"
#include "digest.h"
#include "quote.h"
#include "tpm.h"

/* libcurl is loaded when the client first runs instead of being linked: linked, it and the libraries it pulls in
 * (GnuTLS, Kerberos, LDAP, libssh2, nghttp2, ... 26 of lantern's 47) cost every lantern command, an event log
 * replay as much as `lantern attest`, 2.4 ms of start-up in the dynamic loader. The path is the one the build
 * found (LANTERN_LIBCURL_PATH, from libcurl's pkg-config libdir: a store path under Nix), then the soname. */
static struct {
        CURL *(*easy_init)(void);
        void (*easy_cleanup)(CURL *);
        void (*easy_reset)(CURL *);
        CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
        CURLcode (*easy_perform)(CURL *);
        CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
        const char *(*easy_strerror)(CURLcode);
        struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
        void (*slist_free_all)(struct curl_slist *);
} curl;

static int curl_load(char *errbuf, size_t errlen) {
        static const char *const paths[] = { LANTERN_LIBCURL_PATH, "libcurl.so.4" };
        const char *why = "not found";
        void *h = NULL;

        if (curl.easy_init)
                return 0;
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && !h; i++) {
                h = dlopen(paths[i], RTLD_NOW | RTLD_LOCAL);
                if (!h)
                        why = dlerror();
        }
        if (!h) {
                attest_set_error(errbuf, errlen, "cannot load libcurl (%s): %s", LANTERN_LIBCURL_PATH, why);
                return -ELIBACC;
        }
        /* POSIX's way to take a function pointer from dlsym: copy the object pointer's bytes. */
#define LOAD(field, name)                                                                                   \
        do {                                                                                                \
                void *sym = dlsym(h, name);                                                                 \
                if (!sym) {                                                                                 \
                        attest_set_error(errbuf, errlen, "libcurl (%s) has no %s", LANTERN_LIBCURL_PATH, name); \
                        dlclose(h);                                                                 \
                        return -ELIBBAD;                                                                    \
                }                                                                                           \
                memcpy(&curl.field, &sym, sizeof(sym));                                                     \
        } while (0)
        LOAD(easy_cleanup, "curl_easy_cleanup");
        LOAD(easy_reset, "curl_easy_reset");
        LOAD(easy_setopt, "curl_easy_setopt");
        LOAD(easy_perform, "curl_easy_perform");
        LOAD(easy_getinfo, "curl_easy_getinfo");
        LOAD(easy_strerror, "curl_easy_strerror");
        LOAD(slist_append, "curl_slist_append");
        LOAD(slist_free_all, "curl_slist_free_all");
        LOAD(easy_init, "curl_easy_init"); /* last: set means every function is there */
#undef LOAD
        return 0;
}

typedef struct buffer {
        char *data;
        size_t size, max;
        bool overflow;
} buffer;

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
        buffer *b = userdata;
        size_t len = size * n;
        if (len > b->max - b->size) {
                b->overflow = true;
                return 0;
        }
        char *q = realloc(b->data, b->size + len + 1);
        if (!q)
                return 0;
        memcpy(q + b->size, p, len);
        b->data = q;
        b->size += len;
        b->data[b->size] = '\0';
        return len;
}

typedef struct http {
        CURL *curl;
        const char *base;
        long timeout;
} http;

/* One request; the body (NUL-terminated) into *ret_body, the status into *ret_status. */
static int http_request(http *h, const char *path, const char *post, int *ret_status, char **ret_body,
                        char *errbuf, size_t errlen) {
        struct curl_slist *headers = NULL;
        buffer b = { .max = ATTEST_CLIENT_RESPONSE_MAX };
        char url[2048];
        long status = 0;
        CURLcode rc;

        if (snprintf(url, sizeof(url), "%s%s", h->base, path) >= (int) sizeof(url)) {
                attest_set_error(errbuf, errlen, "verifier URL too long");
                return -EINVAL;
        }
        curl.easy_reset(h->curl);
        curl.easy_setopt(h->curl, CURLOPT_URL, url);
        curl.easy_setopt(h->curl, CURLOPT_TIMEOUT, h->timeout);
        curl.easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, h->timeout);
        curl.easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
        curl.easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl.easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
        curl.easy_setopt(h->curl, CURLOPT_WRITEDATA, &b);
        if (post) {
                headers = curl.slist_append(NULL, "Content-Type: application/json");
                curl.easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
                curl.easy_setopt(h->curl, CURLOPT_POSTFIELDS, post);
                curl.easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(post));
        }
        rc = curl.easy_perform(h->curl);
        curl.slist_free_all(headers);
        if (rc != CURLE_OK) {
                attest_set_error(errbuf, errlen, "%s %s: %s", post ? "POST" : "GET", url,
                                 b.overflow ? "response larger than 1 MiB" : curl.easy_strerror(rc));
                free(b.data);
                return -EIO;
        }
        curl.easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
        *ret_status = (int) status;
        *ret_body = b.data ? b.data : strdup("");
        return *ret_body ? 0 : -ENOMEM;
}

/* Parses a JSON object response; on a status other than want, errbuf gets the server's "error". */
static int http_json(http *h, const char *path, const char *post, int want, json_object **ret, int *ret_status,
                     char **ret_text, char *errbuf, size_t errlen) {
        json_object *o, *e;
        char *body = NULL;
        int status = 0, r;

        r = http_request(h, path, post, &status, &body, errbuf, errlen);
        if (r < 0)
                return r;
        if (ret_status)
                *ret_status = status;
        o = json_tokener_parse(body);
        if (!o || !json_object_is_type(o, json_type_object)) {
                attest_set_error(errbuf, errlen, "%s: HTTP %d with a body that is not a JSON object", path, status);
                json_object_put(o);
                free(body);
                return -EBADMSG;
        }
        if (want && status != want) {
                attest_set_error(errbuf, errlen, "%s: HTTP %d: %s", path, status,
                                 json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e) : body);
                json_object_put(o);
                free(body);
                return status == 404 ? -ENOENT : -EPROTO;
        }
        *ret = o;
        if (ret_text)
                *ret_text = body;
        else
                free(body);
        return 0;
}

static const char *get_str(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int b64_decode(const char *in, uint8_t *buf, size_t max, size_t *ret_size) {
        size_t len = strlen(in), pad = 0;
        int n;
        if (len == 0 || len % 4 || len / 4 * 3 > max + 2 || len > INT32_MAX)
                return -EBADMSG;
        uint8_t *tmp = malloc(len / 4 * 3);
        if (!tmp)
                return -ENOMEM;
        n = EVP_DecodeBlock(tmp, (const unsigned char *) in, (int) len);
        pad = (in[len - 1] == '=') + (in[len - 2] == '=');
        if (n < 0 || (size_t) n - pad > max) {
                free(tmp);
                return -EBADMSG;
        }
        memcpy(buf, tmp, (size_t) n - pad);
        *ret_size = (size_t) n - pad;
        free(tmp);
        return 0;
}

static int read_eventlog(const char *path, uint8_t **ret, size_t *ret_size, char *errbuf, size_t errlen) {
        uint8_t *data = NULL;
        size_t size = 0, cap = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
                attest_set_error(errbuf, errlen, "event log %s: %s", path, strerror(errno));
                return -errno;
        }
        /* securityfs files report no size: read until the end. */
        for (;;) {
                if (size == cap) {
                        cap = cap ? cap * 2 : 65536;
                        if (cap > ATTEST_CLIENT_EVENTLOG_MAX + 1)
                                cap = ATTEST_CLIENT_EVENTLOG_MAX + 1;
                        if (size == cap) {
                                attest_set_error(errbuf, errlen, "event log %s: larger than %u bytes", path,
                                                 ATTEST_CLIENT_EVENTLOG_MAX);
                                free(data);
                                close(fd);
                                return -EFBIG;
                        }
                        uint8_t *p = realloc(data, cap);
                        if (!p) {
                                free(data);
                                close(fd);
                                return -ENOMEM;
                        }
                        data = p;
                }
                ssize_t n = read(fd, data + size, cap - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        attest_set_error(errbuf, errlen, "event log %s: %s", path, strerror(errno));
                        free(data);
                        close(fd);
                        return -EIO;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        close(fd);
        if (size == 0) {
                attest_set_error(errbuf, errlen, "event log %s: empty", path);
                free(data);
                return -EBADMSG;
        }
        *ret = data;
        *ret_size = size;
        return 0;
}

/* Enrollment: POST /v1/enroll, TPM2_ActivateCredential, POST /v1/activate. */
static int enroll(http *h, attest_tpm *tpm, const attest_key *ek, const attest_key *ak, const uint8_t *cert,
                  size_t cert_size, char *errbuf, size_t errlen) {
        uint8_t pub[sizeof(TPM2B_PUBLIC) + 8], blob[sizeof(TPM2B_ID_OBJECT) + 8],
                secret[sizeof(TPM2B_ENCRYPTED_SECRET) + 8], cred[64];
        size_t pub_size, blob_size, secret_size, cred_size = 0;
        json_object *req = NULL, *resp = NULL;
        char *cert_b64 = NULL, *pub_b64 = NULL, hex[129], id[64];
        const char *s;
        int r;

        r = attest_public_marshal(&ak->public, pub, sizeof(pub), &pub_size);
        if (r < 0)
                return r;
        cert_b64 = attest_base64_encode(cert, cert_size);
        pub_b64 = attest_base64_encode(pub, pub_size);
        req = json_object_new_object();
        if (!cert_b64 || !pub_b64 || !req) {
                r = -ENOMEM;
                goto finish;
        }
        json_object_object_add(req, "ekCert", json_object_new_string(cert_b64));
        json_object_object_add(req, "akPublic", json_object_new_string(pub_b64));
        r = http_json(h, "/v1/enroll", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), 200, &resp, NULL,
                      NULL, errbuf, errlen);
        if (r < 0)
                goto finish;
        if (!(s = get_str(resp, "enrollment")) || strlen(s) >= sizeof(id)) {
                attest_set_error(errbuf, errlen, "/v1/enroll: no enrollment id in the answer");
                r = -EBADMSG;
                goto finish;
        }
        snprintf(id, sizeof(id), "%s", s);
        if (!(s = get_str(resp, "credentialBlob")) || b64_decode(s, blob, sizeof(blob), &blob_size) < 0 ||
            !get_str(resp, "secret") || b64_decode(get_str(resp, "secret"), secret, sizeof(secret), &secret_size) < 0) {
                attest_set_error(errbuf, errlen, "/v1/enroll: no credentialBlob/secret in the answer");
                r = -EBADMSG;
                goto finish;
        }
        r = attest_ak_activate(tpm, ak, ek, blob, blob_size, secret, secret_size, cred, &cred_size, errbuf, errlen);
        if (r < 0)
                goto finish;
        json_object_put(req);
        json_object_put(resp);
        resp = NULL;
        req = json_object_new_object();
        if (!req) {
                r = -ENOMEM;
                goto finish;
        }
        json_object_object_add(req, "enrollment", json_object_new_string(id));
        json_object_object_add(req, "credential", json_object_new_string(measure_hex(cred, cred_size, hex)));
        r = http_json(h, "/v1/activate", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN), 200, &resp,
                      NULL, NULL, errbuf, errlen);
finish:
        OPENSSL_cleanse(cred, sizeof(cred));
        OPENSSL_cleanse(hex, sizeof(hex));
        json_object_put(req);
        json_object_put(resp);
        free(cert_b64);
        free(pub_b64);
        return r;
}

static int save_file(const char *path, const char *text, char *errbuf, size_t errlen) {
        FILE *f = fopen(path, "we");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
                attest_set_error(errbuf, errlen, "%s: %s", path, strerror(errno));
                return -errno;
        }
        return 0;
}

int attest_client_run(const attest_client_options *o, attest_client_result *ret, char *errbuf, size_t errlen) {
        attest_client_result res = {};
        attest_tpm *tpm = NULL;
        attest_key ek = { .handle = 0 }, ak = { .handle = 0 };
        attest_quote *q = NULL;
        http h = { .base = o->verifier, .timeout = o->timeout > 0 ? o->timeout : 30 };
        uint8_t *cert = NULL, *log = NULL, nonce[ATTEST_NONCE_MAX];
        size_t cert_size = 0, log_size = 0, nonce_size;
        json_object *resp = NULL, *req = NULL, *pcrs, *bank;
        char path[128], akname[2 * sizeof(TPMU_NAME) + 1], *b64;
        const char *s;
        int status, r;

        if (!o || !o->verifier || !ret || o->pcrs == 0)
                return -EINVAL;
        r = curl_load(errbuf, errlen);
        if (r < 0)
                return r;
        h.curl = curl.easy_init();
        q = calloc(1, sizeof(*q));
        if (!h.curl || !q) {
                r = -ENOMEM;
                goto finish;
        }
        r = read_eventlog(o->eventlog ? o->eventlog : ATTEST_CLIENT_EVENTLOG_DEFAULT, &log, &log_size, errbuf, errlen);
        if (r < 0)
                goto finish;
        r = attest_tpm_open(o->tcti, &tpm, errbuf, errlen);
        if (r < 0)
                goto finish;
        r = attest_ek_cert_read(tpm, &cert, &cert_size, errbuf, errlen);
        if (r >= 0)
                r = attest_machine_id(cert, cert_size, res.machine, errbuf, errlen);
        if (r >= 0)
                r = attest_ek_load(tpm, &ek, errbuf, errlen);
        if (r >= 0)
                r = attest_ak_create(tpm, &ak, errbuf, errlen);
        if (r < 0)
                goto finish;
        measure_hex(ak.name.name, ak.name.size, akname);

        /* Enroll unless the verifier already holds this AK for this machine. */
        snprintf(path, sizeof(path), "/v1/machines/%s", res.machine);
        r = http_json(&h, path, NULL, 0, &resp, &status, NULL, errbuf, errlen);
        if (r < 0)
                goto finish;
        if (status != 200 && status != 404) {
                attest_set_error(errbuf, errlen, "%s: HTTP %d: %s", path, status,
                                 get_str(resp, "error") ? get_str(resp, "error") : "unexpected answer");
                r = -EPROTO;
                goto finish;
        }
        s = status == 200 ? get_str(resp, "akName") : NULL;
        if (!s || strcmp(s, akname) != 0) {
                r = enroll(&h, tpm, &ek, &ak, cert, cert_size, errbuf, errlen);
                if (r < 0)
                        goto finish;
                res.enrolled_now = true;
        }
        json_object_put(resp);
        resp = NULL;

        r = http_json(&h, "/v1/nonce", NULL, 200, &resp, NULL, NULL, errbuf, errlen);
        if (r < 0)
                goto finish;
        s = get_str(resp, "nonce");
        if (!s || strlen(s) % 2 || strlen(s) / 2 > sizeof(nonce) || strlen(s) == 0 ||
            measure_unhex(s, nonce, strlen(s) / 2) < 0) {
                attest_set_error(errbuf, errlen, "/v1/nonce: no nonce in the answer");
                r = -EBADMSG;
                goto finish;
        }
        nonce_size = strlen(s) / 2;
        json_object_put(resp);
        resp = NULL;

        r = attest_quote_create(tpm, &ak, nonce, nonce_size, o->pcrs, q, errbuf, errlen);
        if (r < 0)
                goto finish;

        req = json_object_new_object();
        pcrs = json_object_new_object();
        bank = json_object_new_object();
        if (!req || !pcrs || !bank) {
                json_object_put(pcrs);
                json_object_put(bank);
                r = -ENOMEM;
                goto finish;
        }
        json_object_object_add(pcrs, "sha256", bank);
        for (unsigned i = 0; i < MEASURE_PCR_COUNT; i++)
                if (q->pcrs.mask & (UINT32_C(1) << i)) {
                        char key[4], hex[65];
                        snprintf(key, sizeof(key), "%u", i);
                        json_object_object_add(bank, key, json_object_new_string(measure_hex(q->pcrs.value[i], 32, hex)));
                }
        char hexnonce[2 * ATTEST_NONCE_MAX + 1];
        json_object_object_add(req, "machine", json_object_new_string(res.machine));
        json_object_object_add(req, "nonce", json_object_new_string(measure_hex(nonce, nonce_size, hexnonce)));
        b64 = attest_base64_encode(q->message, q->message_size);
        json_object_object_add(req, "quote", b64 ? json_object_new_string(b64) : NULL);
        free(b64);
        b64 = attest_base64_encode(q->signature, q->signature_size);
        json_object_object_add(req, "signature", b64 ? json_object_new_string(b64) : NULL);
        free(b64);
        json_object_object_add(req, "pcrs", pcrs);
        b64 = attest_base64_encode(log, log_size);
        if (!b64) {
                r = -ENOMEM;
                goto finish;
        }
        json_object_object_add(req, "eventlog", json_object_new_string(b64));
        free(b64);

        const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (o->save_request && (r = save_file(o->save_request, body, errbuf, errlen)) < 0)
                goto finish;
        r = http_json(&h, "/v1/attest", body, 0, &resp, &res.status, &res.verdict, errbuf, errlen);
        if (r < 0)
                goto finish;
        if (res.status != 200 && res.status != 403) {
                attest_set_error(errbuf, errlen, "/v1/attest: HTTP %d: %s", res.status,
                                 get_str(resp, "error") ? get_str(resp, "error") : "unexpected answer");
                r = -EPROTO;
                goto finish;
        }
        s = get_str(resp, "verdict");
        res.pass = res.status == 200 && s && strcmp(s, "pass") == 0;
        *ret = res;
        res.verdict = NULL;
        r = 0;
finish:
        free(res.verdict);
        json_object_put(resp);
        json_object_put(req);
        attest_key_release(tpm, &ak);
        attest_key_release(tpm, &ek);
        attest_tpm_free(tpm);
        free(cert);
        free(log);
        free(q);
        if (h.curl)
                curl.easy_cleanup(h.curl);
        return r;
}

void attest_client_result_done(attest_client_result *r) {
        if (!r)
                return;
        free(r->verdict);
        r->verdict = NULL;
}
