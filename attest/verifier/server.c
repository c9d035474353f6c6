/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verifier-server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "ak.h"
#include "verifier-golden.h"
#include "verifier-request.h"

struct verifier_server {
        struct MHD_Daemon *daemon;
        verifier_service *svc;
        char *admin_token;
};

/* One request's body: grown by doubling, never beyond its route's cap. */
typedef struct request_ctx {
        char *body;
        size_t size, cap, limit;
        bool too_large;
} request_ctx;

static enum MHD_Result send_json(struct MHD_Connection *c, int status, json_object *body) {
        const char *text = body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
                                                                               JSON_C_TO_STRING_NOSLASHESCAPE)
                                : "{\"error\":\"out of memory\"}";
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(strlen(text), (void *) text, MHD_RESPMEM_MUST_COPY);
        if (!resp) {
                json_object_put(body);
                return MHD_NO;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        ret = MHD_queue_response(c, body ? (unsigned) status : 500, resp);
        MHD_destroy_response(resp);
        json_object_put(body);
        return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *fmt, ...) {
        verifier_response r = {};
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        verifier_error(&r, status, "%s", msg);
        return send_json(c, r.status, r.body);
}

static bool admin_ok(verifier_server *srv, struct MHD_Connection *c) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        size_t n;
        if (!srv->admin_token || !h || strncmp(h, "Bearer ", 7) != 0)
                return false;
        h += 7;
        n = strlen(srv->admin_token);
        return strlen(h) == n && CRYPTO_memcmp(h, srv->admin_token, n) == 0;
}

/* "/v1/machines/<id>[/<what>]": the id into machine, the rest into *ret_what ("" when none). */
static bool machine_path(const char *url, char machine[ATTEST_MACHINE_ID_LEN + 1], const char **ret_what) {
        static const char prefix[] = "/v1/machines/";
        const char *id, *slash;
        if (strncmp(url, prefix, sizeof(prefix) - 1) != 0)
                return false;
        id = url + sizeof(prefix) - 1;
        slash = strchr(id, '/');
        size_t len = slash ? (size_t) (slash - id) : strlen(id);
        if (len != ATTEST_MACHINE_ID_LEN)
                return false;
        memcpy(machine, id, len);
        machine[len] = '\0';
        if (!verifier_is_hex_id(machine, ATTEST_MACHINE_ID_LEN))
                return false;
        *ret_what = slash ? slash + 1 : "";
        return true;
}

static size_t body_limit(const char *url) {
        const char *what;
        char machine[ATTEST_MACHINE_ID_LEN + 1];
        if (strcmp(url, "/v1/attest") == 0)
                return VERIFIER_BODY_MAX;
        if (machine_path(url, machine, &what) && strcmp(what, "golden") == 0)
                return VERIFIER_GOLDEN_MAX;
        return 64 * 1024;
}

static enum MHD_Result route(verifier_server *srv, struct MHD_Connection *c, const char *url, const char *method,
                             const char *body, size_t size) {
        verifier_service *svc = srv->svc;
        verifier_response r = {};
        char machine[ATTEST_MACHINE_ID_LEN + 1];
        const char *what;
        bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;

        if (strcmp(url, "/v1/nonce") == 0 && get)
                verifier_nonce(svc, &r);
        else if (strcmp(url, "/v1/enroll") == 0 && post)
                verifier_enroll(svc, body, size, &r);
        else if (strcmp(url, "/v1/activate") == 0 && post)
                verifier_activate(svc, body, size, &r);
        else if (strcmp(url, "/v1/attest") == 0 && post)
                verifier_attest(svc, body, size, &r);
        else if (machine_path(url, machine, &what)) {
                if (what[0] == '\0' && get)
                        verifier_machine_status(svc, machine, &r);
                else if ((strcmp(what, "golden") == 0 || strcmp(what, "secret") == 0) && post) {
                        if (!admin_ok(srv, c))
                                return send_error(c, 401, "%s: the admin token is missing or wrong", url);
                        if (what[0] == 'g')
                                verifier_set_golden(svc, machine, body, size, &r);
                        else
                                verifier_set_secret(svc, machine, body, size, &r);
                } else if (what[0] == '\0' || strcmp(what, "golden") == 0 || strcmp(what, "secret") == 0)
                        return send_error(c, 405, "%s: method not allowed", method);
                else
                        return send_error(c, 404, "no such resource: %s", url);
        } else if (strcmp(url, "/v1/nonce") == 0 || strcmp(url, "/v1/enroll") == 0 ||
                   strcmp(url, "/v1/activate") == 0 || strcmp(url, "/v1/attest") == 0)
                return send_error(c, 405, "%s: method not allowed", method);
        else
                return send_error(c, 404, "no such resource: %s", url);
        return send_json(c, r.status, r.body);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_size, void **con_cls) {
        verifier_server *srv = cls;
        request_ctx *ctx = *con_cls;

        if (!ctx) {
                const char *cl;
                ctx = calloc(1, sizeof(*ctx));
                if (!ctx)
                        return MHD_NO;
                ctx->limit = body_limit(url);
                *con_cls = ctx;
                cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (cl && strtoull(cl, NULL, 10) > ctx->limit)
                        ctx->too_large = true;
                return MHD_YES;
        }
        if (*upload_size) {
                size_t n = *upload_size;
                *upload_size = 0;
                if (ctx->too_large || n > ctx->limit - ctx->size) {
                        ctx->too_large = true;
                        return MHD_YES; /* drain, answer 413 at the end */
                }
                if (ctx->size + n + 1 > ctx->cap) {
                        size_t cap = ctx->cap ? ctx->cap : 4096;
                        while (cap < ctx->size + n + 1)
                                cap *= 2;
                        if (cap > ctx->limit + 1)
                                cap = ctx->limit + 1;
                        char *p = realloc(ctx->body, cap);
                        if (!p)
                                return MHD_NO;
                        ctx->body = p;
                        ctx->cap = cap;
                }
                memcpy(ctx->body + ctx->size, upload_data, n);
                ctx->size += n;
                ctx->body[ctx->size] = '\0';
                return MHD_YES;
        }
        if (ctx->too_large) {
                return send_error(c, 413, "request body larger than %zu bytes", ctx->limit);
        }
        return route(srv, c, url, method, ctx->body ? ctx->body : "", ctx->size);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
        request_ctx *ctx = *con_cls;
        if (!ctx)
                return;
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
}

int verifier_server_start(verifier_service *svc, const struct sockaddr_in *addr, unsigned threads,
                          const char *admin_token, verifier_server **ret, char *errbuf, size_t errlen) {
        verifier_server *srv;

        srv = calloc(1, sizeof(*srv));
        if (!srv)
                return -ENOMEM;
        srv->svc = svc;
        if (admin_token && !(srv->admin_token = strdup(admin_token))) {
                free(srv);
                return -ENOMEM;
        }
        srv->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, handler, srv,
                                       MHD_OPTION_SOCK_ADDR, addr,
                                       MHD_OPTION_THREAD_POOL_SIZE, threads ? threads : 2,
                                       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
                                       MHD_OPTION_CONNECTION_LIMIT, (unsigned) 256,
                                       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
                                       MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                       MHD_OPTION_END);
        if (!srv->daemon) {
                snprintf(errbuf, errlen, "cannot listen (address in use, or not allowed)");
                free(srv->admin_token);
                free(srv);
                return -EADDRINUSE;
        }
        *ret = srv;
        return 0;
}

unsigned verifier_server_port(verifier_server *srv) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
        return info ? info->port : 0;
}

verifier_server *verifier_server_stop(verifier_server *srv) {
        if (!srv)
                return NULL;
        MHD_stop_daemon(srv->daemon);
        if (srv->admin_token)
                OPENSSL_cleanse(srv->admin_token, strlen(srv->admin_token));
        free(srv->admin_token);
        free(srv);
        return NULL;
}
