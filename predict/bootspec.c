/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-bootspec.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_V1 "org.nixos.bootspec.v1"
#define KEY_SPECIALISATION "org.nixos.specialisation.v1"
#define KEY_PREFIX_BOOTSPEC "org.nixos.bootspec."

/* A JSON path as shown in messages: $."org.nixos.bootspec.v1".kernelParams[2]. Long keys are cut. */
#define PATH_MAX_LEN 768

typedef struct parse_ctx {
        const char *origin;
        predict_error *err;
} parse_ctx;

static const char *type_name(json_object *o) {
        switch (json_object_get_type(o)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
        case json_type_int:
                return "a number";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "an unknown value";
}

static bool is_identifier(const char *s) {
        if (!*s || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        for (; *s; s++)
                if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
                        return false;
        return true;
}

static void path_key(char *out, const char *parent, const char *key) {
        size_t n = (size_t) snprintf(out, PATH_MAX_LEN, "%s", parent);
        if (n >= PATH_MAX_LEN - 8)
                return;
        if (is_identifier(key) && strlen(key) < 128) {
                snprintf(out + n, PATH_MAX_LEN - n, ".%s", key);
                return;
        }
        /* Quoted, with JSON escapes for quotes, backslashes and control characters; cut at 128 bytes. */
        char *p = out + n, *end = out + PATH_MAX_LEN - 16;
        *p++ = '.';
        *p++ = '"';
        size_t i = 0;
        for (; key[i] && i < 128 && p < end; i++) {
                unsigned char c = (unsigned char) key[i];
                if (c == '"' || c == '\\') {
                        *p++ = '\\';
                        *p++ = (char) c;
                } else if (c < 0x20) {
                        static const char hexdigits[] = "0123456789abcdef";
                        memcpy(p, "\\u00", 4);
                        p[4] = hexdigits[c >> 4];
                        p[5] = hexdigits[c & 15];
                        p += 6;
                } else
                        *p++ = (char) c;
        }
        if (key[i]) {
                memcpy(p, "...", 3);
                p += 3;
        }
        *p++ = '"';
        *p = 0;
}

static void path_index(char *out, const char *parent, size_t i) {
        size_t n = strnlen(parent, PATH_MAX_LEN - 24);
        memcpy(out, parent, n);
        snprintf(out + n, 24, "[%zu]", i);
}

static int fail(parse_ctx *c, int r, const char *path, const char *what) {
        return predict_error_set(c->err, r, "%s: %s: %s", c->origin, path, what);
}

static int fail_type(parse_ctx *c, const char *path, const char *expected, json_object *got) {
        return predict_error_set(c->err, -EINVAL, "%s: %s: expected %s, got %s", c->origin, path, expected,
                                 type_name(got));
}

/* Copies a JSON string after checking its length and that it holds no NUL byte. */
static int get_string(parse_ctx *c, json_object *o, const char *path, char **ret) {
        if (!json_object_is_type(o, json_type_string))
                return fail_type(c, path, "a string", o);
        const char *s = json_object_get_string(o);
        int len = json_object_get_string_len(o);
        if (len < 0 || (size_t) len > PREDICT_BOOTSPEC_MAX_STRING)
                return fail(c, -EINVAL, path, "string is longer than the limit of 65536 bytes");
        if (memchr(s, 0, (size_t) len))
                return fail(c, -EINVAL, path, "string contains a NUL character");
        char *copy = strndup(s, (size_t) len);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

static int get_field(parse_ctx *c, json_object *obj, const char *path, const char *key, bool required,
                     char **ret) {
        char p[PATH_MAX_LEN];
        json_object *v;

        path_key(p, path, key);
        if (!json_object_object_get_ex(obj, key, &v)) {
                if (!required)
                        return 0;
                return predict_error_set(c->err, -EINVAL, "%s: %s: missing required field \"%s\"", c->origin,
                                         path, key);
        }
        if (!v && !required)
                return 0; /* null, as the bootspec crate writes an absent optional path */
        if (!v)
                return fail_type(c, p, "a string", v);
        return get_string(c, v, p, ret);
}

void predict_bootspec_v1_done(predict_bootspec_v1 *v) {
        if (!v)
                return;
        free(v->label);
        free(v->system);
        free(v->toplevel);
        free(v->init);
        free(v->kernel);
        free(v->initrd);
        free(v->initrd_secrets);
        for (size_t i = 0; i < v->n_kernel_params; i++)
                free(v->kernel_params[i]);
        free(v->kernel_params);
        memset(v, 0, sizeof(*v));
}

predict_bootspec *predict_bootspec_free(predict_bootspec *b) {
        if (!b)
                return NULL;
        predict_bootspec_v1_done(&b->v1);
        for (size_t i = 0; i < b->n_specialisations; i++) {
                free(b->specialisations[i].name);
                predict_bootspec_v1_done(&b->specialisations[i].v1);
        }
        free(b->specialisations);
        free(b);
        return NULL;
}

static int parse_v1(parse_ctx *c, json_object *o, const char *path, predict_bootspec_v1 *ret) {
        predict_bootspec_v1 v = {};
        char p[PATH_MAX_LEN];
        json_object *params;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return fail_type(c, path, "an object", o);

        if ((r = get_field(c, o, path, "label", true, &v.label)) < 0 ||
            (r = get_field(c, o, path, "system", true, &v.system)) < 0 ||
            (r = get_field(c, o, path, "toplevel", true, &v.toplevel)) < 0 ||
            (r = get_field(c, o, path, "init", true, &v.init)) < 0 ||
            (r = get_field(c, o, path, "kernel", true, &v.kernel)) < 0 ||
            (r = get_field(c, o, path, "initrd", false, &v.initrd)) < 0 ||
            (r = get_field(c, o, path, "initrdSecrets", false, &v.initrd_secrets)) < 0)
                goto fail;

        path_key(p, path, "kernelParams");
        if (!json_object_object_get_ex(o, "kernelParams", &params)) {
                r = predict_error_set(c->err, -EINVAL, "%s: %s: missing required field \"kernelParams\"",
                                      c->origin, path);
                goto fail;
        }
        if (!json_object_is_type(params, json_type_array)) {
                r = fail_type(c, p, "an array of strings", params);
                goto fail;
        }
        size_t n = json_object_array_length(params);
        if (n > PREDICT_BOOTSPEC_MAX_PARAMS) {
                r = fail(c, -E2BIG, p, "more than 4096 kernel parameters");
                goto fail;
        }
        v.kernel_params = calloc(n ? n : 1, sizeof(char *));
        if (!v.kernel_params) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                char pi[PATH_MAX_LEN];
                path_index(pi, p, i);
                r = get_string(c, json_object_array_get_idx(params, i), pi, &v.kernel_params[i]);
                if (r < 0)
                        goto fail;
                v.n_kernel_params++;
        }
        *ret = v;
        return 0;
fail:
        predict_bootspec_v1_done(&v);
        return r;
}

/* Explains why a document without "org.nixos.bootspec.v1" is not one we read. */
static int fail_no_v1(parse_ctx *c, json_object *doc, const char *path) {
        if (json_object_object_get_ex(doc, "schemaVersion", NULL))
                return predict_error_set(c->err, -EINVAL,
                                         "%s: %s: pre-RFC 0125 bootspec (has \"schemaVersion\"), not supported: "
                                         "expected an object with \"" KEY_V1 "\"",
                                         c->origin, path);
        if (json_object_object_get_ex(doc, "v1", NULL))
                return predict_error_set(c->err, -EINVAL,
                                         "%s: %s: pre-RFC 0125 bootspec preview ({\"v1\": ...}), not supported: "
                                         "expected an object with \"" KEY_V1 "\"",
                                         c->origin, path);
        json_object_object_foreach(doc, key, val) {
                (void) val;
                if (strncmp(key, KEY_PREFIX_BOOTSPEC, strlen(KEY_PREFIX_BOOTSPEC)) == 0) {
                        char p[PATH_MAX_LEN];
                        path_key(p, path, key);
                        return predict_error_set(c->err, -EOPNOTSUPP,
                                                 "%s: %s: unsupported bootspec version (only \"" KEY_V1 "\" is known)",
                                                 c->origin, p);
                }
        }
        return predict_error_set(c->err, -EINVAL, "%s: %s: missing required field \"" KEY_V1 "\"", c->origin, path);
}

static int cmp_specialisation(const void *a, const void *b) {
        return strcmp(((const predict_specialisation *) a)->name, ((const predict_specialisation *) b)->name);
}

static int parse_specialisations(parse_ctx *c, json_object *map, const char *path, predict_bootspec *b) {
        if (!json_object_is_type(map, json_type_object))
                return fail_type(c, path, "an object", map);
        size_t n = (size_t) json_object_object_length(map);
        if (n > PREDICT_BOOTSPEC_MAX_SPECIALISATIONS)
                return fail(c, -E2BIG, path, "more than 1024 specialisations");
        if (n == 0)
                return 0;
        b->specialisations = calloc(n, sizeof(predict_specialisation));
        if (!b->specialisations)
                return -ENOMEM;

        json_object_object_foreach(map, name, doc) {
                char p[PATH_MAX_LEN], pv[PATH_MAX_LEN], ps[PATH_MAX_LEN];
                json_object *v1, *nested;
                int r;

                path_key(p, path, name);
                if (!*name)
                        return fail(c, -EINVAL, p, "empty specialisation name");
                if (!json_object_is_type(doc, json_type_object))
                        return fail_type(c, p, "an object", doc);
                if (!json_object_object_get_ex(doc, KEY_V1, &v1))
                        return fail_no_v1(c, doc, p);
                path_key(pv, p, KEY_V1);
                predict_specialisation *s = &b->specialisations[b->n_specialisations];
                s->name = strdup(name);
                if (!s->name)
                        return -ENOMEM;
                b->n_specialisations++;
                r = parse_v1(c, v1, pv, &s->v1);
                if (r < 0)
                        return r;
                /* Specialisations of specialisations mean nothing in RFC 0125; NixOS writes {} there. */
                if (json_object_object_get_ex(doc, KEY_SPECIALISATION, &nested)) {
                        path_key(ps, p, KEY_SPECIALISATION);
                        if (!json_object_is_type(nested, json_type_object))
                                return fail_type(c, ps, "an object", nested);
                        if (json_object_object_length(nested) > 0)
                                b->nested_specialisations = true;
                }
        }
        qsort(b->specialisations, b->n_specialisations, sizeof(predict_specialisation), cmp_specialisation);
        return 0;
}

int predict_bootspec_parse(const char *data, size_t size, const char *origin, predict_error *err,
                           predict_bootspec **ret) {
        parse_ctx c = { .origin = origin ? origin : "bootspec", .err = err };
        json_tokener *tok = NULL;
        json_object *doc = NULL, *v1, *spec;
        predict_bootspec *b = NULL;
        const char *nul;
        int r;

        if (size > PREDICT_BOOTSPEC_MAX_SIZE)
                return predict_error_set(err, -EFBIG, "%s: document is %zu bytes, more than the limit of %u",
                                         c.origin, size, PREDICT_BOOTSPEC_MAX_SIZE);
        /* JSON text never holds a raw NUL; refusing it here keeps the tokenizer from stopping early. */
        nul = memchr(data, 0, size);
        if (nul)
                return predict_error_set(err, -EINVAL, "%s: offset %zu: NUL byte in JSON text", c.origin,
                                         (size_t) (nul - data));

        tok = json_tokener_new_ex(PREDICT_BOOTSPEC_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        doc = json_tokener_parse_ex(tok, data, (int) size);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        if (jerr == json_tokener_continue || (!doc && jerr == json_tokener_success)) {
                r = predict_error_set(err, -EINVAL, "%s: offset %zu: unexpected end of JSON text", c.origin, size);
                goto finish;
        }
        if (jerr != json_tokener_success) {
                r = predict_error_set(err, -EINVAL, "%s: offset %zu: invalid JSON: %s", c.origin,
                                      end, json_tokener_error_desc(jerr));
                goto finish;
        }
        for (size_t i = end; i < size; i++)
                if (!strchr(" \t\r\n", data[i])) {
                        r = predict_error_set(err, -EINVAL, "%s: offset %zu: trailing data after the JSON document",
                                              c.origin, i);
                        goto finish;
                }

        if (!json_object_is_type(doc, json_type_object)) {
                r = fail_type(&c, "$", "an object", doc);
                goto finish;
        }
        if (!json_object_object_get_ex(doc, KEY_V1, &v1)) {
                r = fail_no_v1(&c, doc, "$");
                goto finish;
        }
        b = calloc(1, sizeof(*b));
        if (!b) {
                r = -ENOMEM;
                goto finish;
        }
        r = parse_v1(&c, v1, "$.\"" KEY_V1 "\"", &b->v1);
        if (r < 0)
                goto finish;
        /* Every other top-level key is an extension with a meaning set by someone else: ignored. */
        if (json_object_object_get_ex(doc, KEY_SPECIALISATION, &spec)) {
                r = parse_specialisations(&c, spec, "$.\"" KEY_SPECIALISATION "\"", b);
                if (r < 0)
                        goto finish;
        }
        *ret = b;
        b = NULL;
        r = 0;
finish:
        predict_bootspec_free(b);
        json_object_put(doc);
        json_tokener_free(tok);
        return r;
}
