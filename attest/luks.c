/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "luks.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <libcryptsetup.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base64.h"

struct attest_luks {
        struct crypt_device *cd;
        char *path;
        char log[512];          /* libcryptsetup's last error message */
        int opened_keyslot;     /* the keyslot the enroll passphrase opened, -1 before */
};

/* libcryptsetup would print to stderr; keep its last error for our message instead. */
static void log_cb(int level, const char *msg, void *usrptr) {
        attest_luks *l = usrptr;
        if (level != CRYPT_LOG_ERROR || !l || !msg)
                return;
        snprintf(l->log, sizeof(l->log), "%s", msg);
        size_t n = strlen(l->log);
        while (n > 0 && (l->log[n - 1] == '\n' || l->log[n - 1] == '.'))
                l->log[--n] = '\0';
}

static const char *luks_reason(attest_luks *l, int r) {
        return l->log[0] ? l->log : strerror(-r);
}

void attest_luks_token_done(attest_luks_token *t) {
        if (!t)
                return;
        free(t->blob);
        free(t->pubkey_pem);
        free(t->branches);
        t->blob = NULL;
        t->pubkey_pem = NULL;
        t->branches = NULL;
        t->n_branches = 0;
}

bool attest_luks_token_type_known(const char *type) {
        return type && (strcmp(type, ATTEST_LUKS_TOKEN_TYPE) == 0 || strcmp(type, ATTEST_LUKS_TOKEN_TYPE_OR) == 0);
}

static char *base64(const uint8_t *data, size_t len) {
        if (len > (1u << 24))
                return NULL;
        return attest_base64_encode(data, len);
}

/* Strict base64 (RFC 4648 alphabet, padded, no whitespace), as systemd writes it. */
static int unbase64(const char *s, size_t max, uint8_t **ret, size_t *ret_size) {
        size_t len = strlen(s);
        if (len == 0 || len % 4 != 0 || len / 4 * 3 > max)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                bool pad_ok = i >= len - 2 && c == '=' && (i == len - 1 || s[len - 1] == '=');
                if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                      c == '/' || pad_ok))
                        return -EINVAL;
        }
        uint8_t *out = malloc(len / 4 * 3 + 1);
        if (!out)
                return -ENOMEM;
        int n = EVP_DecodeBlock(out, (const unsigned char *) s, (int) len);
        if (n < 0) {
                free(out);
                return -EINVAL;
        }
        if (s[len - 1] == '=')
                n--;
        if (s[len - 2] == '=')
                n--;
        *ret = out;
        *ret_size = (size_t) n;
        return 0;
}

int attest_luks_passphrase(const uint8_t *secret, size_t size, char **ret) {
        if (!secret || !ret)
                return -EINVAL;
        char *p = base64(secret, size);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

static json_object *pcr_array(uint32_t mask) {
        json_object *a = json_object_new_array();
        if (!a)
                return NULL;
        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                if (mask & (UINT32_C(1) << pcr))
                        json_object_array_add(a, json_object_new_int((int32_t) pcr));
        return a;
}

static const char *primary_alg_name(uint16_t alg) {
        return alg == ATTEST_PRIMARY_ECC ? "ecc" : alg == ATTEST_PRIMARY_RSA ? "rsa" : NULL;
}

int attest_luks_token_to_json(const attest_luks_token *t, char **ret) {
        char keyslot[16], hex[2 * MEASURE_DIGEST_MAX + 1];
        char *blob = NULL, *pubkey = NULL, *text = NULL;
        json_object *o;
        int r = -ENOMEM;

        if (!t || !ret || t->keyslot < 0 || !t->blob || t->policy_hash_size > MEASURE_DIGEST_MAX ||
            (t->pubkey_pcr_mask && !t->pubkey_pem))
                return -EINVAL;
        if (t->n_branches &&
            (!t->branches || t->n_branches < ATTEST_LUKS_BRANCHES_MIN || t->n_branches > ATTEST_LUKS_BRANCHES_MAX ||
             t->pubkey_pcr_mask || !t->bank))
                return -EINVAL;
        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        snprintf(keyslot, sizeof(keyslot), "%d", t->keyslot);
        blob = base64(t->blob, t->blob_size);
        if (!blob)
                goto finish;
        json_object *slots = json_object_new_array();
        json_object_array_add(slots, json_object_new_string(keyslot));
        json_object_object_add(o, "type", json_object_new_string(t->n_branches ? ATTEST_LUKS_TOKEN_TYPE_OR
                                                                               : ATTEST_LUKS_TOKEN_TYPE));
        json_object_object_add(o, "keyslots", slots);
        json_object_object_add(o, "tpm2-blob", json_object_new_string(blob));
        json_object_object_add(o, "tpm2-pcrs", pcr_array(t->pcr_mask));
        if (t->bank)
                json_object_object_add(o, "tpm2-pcr-bank", json_object_new_string(t->bank->name));
        if (primary_alg_name(t->primary_alg))
                json_object_object_add(o, "tpm2-primary-alg", json_object_new_string(primary_alg_name(t->primary_alg)));
        json_object_object_add(o, "tpm2-policy-hash",
                               json_object_new_string(measure_hex(t->policy_hash, t->policy_hash_size, hex)));
        json_object_object_add(o, "tpm2-pin", json_object_new_boolean(t->pin));
        if (t->pubkey_pcr_mask) {
                pubkey = base64((const uint8_t *) t->pubkey_pem, t->pubkey_pem_size);
                if (!pubkey)
                        goto finish;
                json_object_object_add(o, "tpm2_pubkey_pcrs", pcr_array(t->pubkey_pcr_mask));
                json_object_object_add(o, "tpm2_pubkey", json_object_new_string(pubkey));
        }
        if (t->n_branches) {
                json_object *branches = json_object_new_array();
                if (!branches)
                        goto finish;
                json_object_object_add(o, "tpm2-policy-branches", branches);
                for (size_t i = 0; i < t->n_branches; i++)
                        if (json_object_array_add(branches, json_object_new_string(measure_hex(
                                                                    t->branches[i], ATTEST_SEAL_POLICY_SIZE, hex))) < 0)
                                goto finish;
        }
        text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!text)
                goto finish;
        *ret = text;
        r = 0;
finish:
        free(blob);
        free(pubkey);
        json_object_put(o);
        return r;
}

static bool parse_pcrs(json_object *a, uint32_t *ret) {
        uint32_t mask = 0;
        if (!json_object_is_type(a, json_type_array))
                return false;
        size_t n = json_object_array_length(a);
        if (n > 64)
                return false;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (!json_object_is_type(e, json_type_int))
                        return false;
                int64_t v = json_object_get_int64(e);
                if (v < 0 || v >= MEASURE_PCR_COUNT)
                        return false;
                mask |= UINT32_C(1) << v;
        }
        *ret = mask;
        return true;
}

/* The keyslot a token names: systemd takes the first entry of "keyslots", a decimal string. */
static bool parse_keyslot(json_object *a, int *ret) {
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) < 1)
                return false;
        json_object *e = json_object_array_get_idx(a, 0);
        if (!json_object_is_type(e, json_type_string))
                return false;
        const char *s = json_object_get_string(e);
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v >= 32)
                return false;
        *ret = (int) v;
        return true;
}

/* A lantern-tpm2 token's own fields: tpm2-policy-branches (2 to 64 strings of 64 hex digits), a named bank,
 * PCRs, no signed policy. */
static int parse_branches(json_object *o, attest_luks_token *t, char *errbuf, size_t errlen) {
        json_object *v;

        if (!t->bank) {
                attest_set_error(errbuf, errlen, "field 'tpm2-pcr-bank' is missing (a " ATTEST_LUKS_TOKEN_TYPE_OR
                                                 " token names its bank)");
                return -EBADMSG;
        }
        if (t->pcr_mask == 0) {
                attest_set_error(errbuf, errlen, "field 'tpm2-pcrs' is empty (a " ATTEST_LUKS_TOKEN_TYPE_OR
                                                 " token seals to PCR values)");
                return -EBADMSG;
        }
        if (t->pubkey_pcr_mask || t->pubkey_pem) {
                attest_set_error(errbuf, errlen, "fields 'tpm2_pubkey'/'tpm2_pubkey_pcrs': a " ATTEST_LUKS_TOKEN_TYPE_OR
                                                 " token has no signed policy");
                return -EBADMSG;
        }
        if (t->policy_hash_size != ATTEST_SEAL_POLICY_SIZE) {
                attest_set_error(errbuf, errlen, "field 'tpm2-policy-hash' is not %d bytes", ATTEST_SEAL_POLICY_SIZE);
                return -EBADMSG;
        }
        if (!json_object_object_get_ex(o, "tpm2-policy-branches", &v) || !json_object_is_type(v, json_type_array)) {
                attest_set_error(errbuf, errlen, "field 'tpm2-policy-branches' is missing or not an array");
                return -EBADMSG;
        }
        size_t n = json_object_array_length(v);
        if (n < ATTEST_LUKS_BRANCHES_MIN || n > ATTEST_LUKS_BRANCHES_MAX) {
                attest_set_error(errbuf, errlen, "field 'tpm2-policy-branches' has %zu entries (expected %d to %d)", n,
                                 ATTEST_LUKS_BRANCHES_MIN, ATTEST_LUKS_BRANCHES_MAX);
                return -EBADMSG;
        }
        uint8_t (*branches)[MEASURE_DIGEST_MAX] = calloc(n, sizeof(*branches));
        if (!branches)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                const char *h = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
                if (!h || strlen(h) != 2 * ATTEST_SEAL_POLICY_SIZE ||
                    measure_unhex(h, branches[i], ATTEST_SEAL_POLICY_SIZE) < 0) {
                        attest_set_error(errbuf, errlen,
                                         "field 'tpm2-policy-branches': entry %zu is not %d hex digits", i,
                                         2 * ATTEST_SEAL_POLICY_SIZE);
                        free(branches);
                        return -EBADMSG;
                }
        }
        /* Without a PIN the token's policy is the tree's root: a token that says otherwise is corrupt (with a
         * PIN, unsealing compares the session's digest with it). */
        if (!t->pin) {
                measure_policy_tree *tree = NULL;
                int r = measure_policy_tree_build(measure_alg_by_id(MEASURE_ALG_SHA256),
                                                  (const uint8_t (*)[MEASURE_DIGEST_MAX]) branches, n, &tree);
                bool same = r >= 0 &&
                            memcmp(t->policy_hash, measure_policy_tree_root(tree), ATTEST_SEAL_POLICY_SIZE) == 0;
                measure_policy_tree_free(tree);
                if (!same) {
                        free(branches);
                        if (r < 0)
                                return r;
                        attest_set_error(errbuf, errlen,
                                         "field 'tpm2-policy-hash' is not the PolicyOR root of 'tpm2-policy-branches'");
                        return -EBADMSG;
                }
        }
        t->branches = branches;
        t->n_branches = n;
        return 0;
}

int attest_luks_token_from_json(const char *json, attest_luks_token *ret, char *errbuf, size_t errlen) {
        attest_luks_token t = { .id = -1, .keyslot = -1, .primary_alg = ATTEST_PRIMARY_ECC };
        json_object *o, *v;
        int r = -EBADMSG;

        if (!json || !ret)
                return -EINVAL;
        if (strnlen(json, ATTEST_LUKS_TOKEN_JSON_MAX + 1) > ATTEST_LUKS_TOKEN_JSON_MAX) {
                attest_set_error(errbuf, errlen, "token JSON is larger than %u bytes", ATTEST_LUKS_TOKEN_JSON_MAX);
                return -EFBIG;
        }
        o = json_tokener_parse(json);
        if (!o || !json_object_is_type(o, json_type_object)) {
                attest_set_error(errbuf, errlen, "token is not a JSON object");
                goto fail;
        }
        if (!json_object_object_get_ex(o, "type", &v) || !json_object_is_type(v, json_type_string) ||
            !attest_luks_token_type_known(json_object_get_string(v))) {
                attest_set_error(errbuf, errlen,
                                 "token is not of type " ATTEST_LUKS_TOKEN_TYPE " or " ATTEST_LUKS_TOKEN_TYPE_OR);
                r = -EMEDIUMTYPE;
                goto fail;
        }
        bool policy_or = strcmp(json_object_get_string(v), ATTEST_LUKS_TOKEN_TYPE_OR) == 0;
        if (!json_object_object_get_ex(o, "keyslots", &v) || !parse_keyslot(v, &t.keyslot)) {
                attest_set_error(errbuf, errlen, "field 'keyslots' is not an array starting with a keyslot number");
                goto fail;
        }
        if (!json_object_object_get_ex(o, "tpm2-pcrs", &v) || !parse_pcrs(v, &t.pcr_mask)) {
                attest_set_error(errbuf, errlen, "field 'tpm2-pcrs' is missing or not an array of PCRs 0-23");
                goto fail;
        }
        if (json_object_object_get_ex(o, "tpm2-pcr-bank", &v)) {
                const measure_alg *a = json_object_is_type(v, json_type_string) ?
                                               measure_alg_by_name(json_object_get_string(v)) : NULL;
                if (!a || a->id == MEASURE_ALG_SM3_256) {
                        attest_set_error(errbuf, errlen, "field 'tpm2-pcr-bank' names no supported bank");
                        goto fail;
                }
                t.bank = a;
        }
        if (json_object_object_get_ex(o, "tpm2-primary-alg", &v)) {
                const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
                if (strcasecmp(s, "ecc") == 0)
                        t.primary_alg = ATTEST_PRIMARY_ECC;
                else if (strcasecmp(s, "rsa") == 0)
                        t.primary_alg = ATTEST_PRIMARY_RSA;
                else {
                        attest_set_error(errbuf, errlen, "field 'tpm2-primary-alg' is neither \"ecc\" nor \"rsa\"");
                        goto fail;
                }
        }
        if (!json_object_object_get_ex(o, "tpm2-blob", &v) || !json_object_is_type(v, json_type_string) ||
            unbase64(json_object_get_string(v), ATTEST_SEAL_BLOB_MAX, &t.blob, &t.blob_size) < 0) {
                attest_set_error(errbuf, errlen, "field 'tpm2-blob' is missing or not base64 of at most %u bytes",
                                 ATTEST_SEAL_BLOB_MAX);
                goto fail;
        }
        if (!json_object_object_get_ex(o, "tpm2-policy-hash", &v) || !json_object_is_type(v, json_type_string)) {
                attest_set_error(errbuf, errlen, "field 'tpm2-policy-hash' is missing");
                goto fail;
        }
        {
                const char *h = json_object_get_string(v);
                size_t len = strlen(h);
                if (len % 2 || len / 2 > MEASURE_DIGEST_MAX || measure_unhex(h, t.policy_hash, len / 2) < 0) {
                        attest_set_error(errbuf, errlen, "field 'tpm2-policy-hash' is not hex of at most %d bytes",
                                         MEASURE_DIGEST_MAX);
                        goto fail;
                }
                t.policy_hash_size = len / 2;
        }
        if (json_object_object_get_ex(o, "tpm2-pin", &v)) {
                if (!json_object_is_type(v, json_type_boolean)) {
                        attest_set_error(errbuf, errlen, "field 'tpm2-pin' is not a boolean");
                        goto fail;
                }
                t.pin = json_object_get_boolean(v);
        }
        if (json_object_object_get_ex(o, "tpm2_pubkey_pcrs", &v) && !parse_pcrs(v, &t.pubkey_pcr_mask)) {
                attest_set_error(errbuf, errlen, "field 'tpm2_pubkey_pcrs' is not an array of PCRs 0-23");
                goto fail;
        }
        if (json_object_object_get_ex(o, "tpm2_pubkey", &v)) {
                uint8_t *pem;
                size_t size;
                if (!json_object_is_type(v, json_type_string) ||
                    unbase64(json_object_get_string(v), ATTEST_SEAL_PUBKEY_MAX, &pem, &size) < 0) {
                        attest_set_error(errbuf, errlen, "field 'tpm2_pubkey' is not base64 of at most %u bytes",
                                         ATTEST_SEAL_PUBKEY_MAX);
                        goto fail;
                }
                pem[size] = '\0'; /* unbase64 leaves room for it */
                t.pubkey_pem = (char *) pem;
                t.pubkey_pem_size = size;
        } else if (t.pubkey_pcr_mask) {
                attest_set_error(errbuf, errlen, "field 'tpm2_pubkey_pcrs' is set but 'tpm2_pubkey' is missing");
                goto fail;
        }
        t.salted_pin = json_object_object_get_ex(o, "tpm2_salt", &v);
        if (policy_or) {
                r = parse_branches(o, &t, errbuf, errlen);
                if (r < 0)
                        goto fail;
        }
        json_object_put(o);
        *ret = t;
        return 0;
fail:
        json_object_put(o);
        attest_luks_token_done(&t);
        return r;
}

int attest_luks_open(const char *path, attest_luks **ret, char *errbuf, size_t errlen) {
        attest_luks *l;
        int r;

        if (!path || !ret)
                return -EINVAL;
        /* Only the tokens' JSON is read here: never load token plugins (systemd's would talk to the TPM). */
        crypt_token_external_disable();
        l = calloc(1, sizeof(*l));
        if (l)
                l->opened_keyslot = -1;
        if (!l || !(l->path = strdup(path))) {
                free(l);
                return -ENOMEM;
        }
        struct stat st;
        if (stat(path, &st) < 0) {
                r = -errno;
                attest_set_error(errbuf, errlen, "%s: cannot open: %s", path, strerror(-r));
                attest_luks_free(l);
                return r;
        }
        r = crypt_init(&l->cd, path);
        if (r < 0) {
                attest_set_error(errbuf, errlen, "%s: cannot open: %s", path, strerror(-r));
                l->cd = NULL;
                attest_luks_free(l);
                return r;
        }
        crypt_set_log_callback(l->cd, log_cb, l);
        r = crypt_load(l->cd, CRYPT_LUKS2, NULL);
        if (r < 0) {
                attest_set_error(errbuf, errlen, "%s: no LUKS2 header at offset 0: %s", path, luks_reason(l, r));
                attest_luks_free(l);
                return -EINVAL;
        }
        *ret = l;
        return 0;
}

attest_luks *attest_luks_free(attest_luks *l) {
        if (!l)
                return NULL;
        if (l->cd)
                crypt_free(l->cd);
        free(l->path);
        free(l);
        return NULL;
}

int attest_luks_token_get(attest_luks *l, int id, const char **ret_type, const char **ret_json) {
        const char *json = NULL;
        json_object *o, *v;
        static __thread char type[64];

        if (!l || id < 0 || id >= ATTEST_LUKS_MAX_TOKENS)
                return -EINVAL;
        if (crypt_token_json_get(l->cd, id, &json) < 0 || !json)
                return -ENOENT;
        if (ret_type) {
                type[0] = '\0';
                o = json_tokener_parse(json);
                if (o && json_object_object_get_ex(o, "type", &v) && json_object_is_type(v, json_type_string))
                        snprintf(type, sizeof(type), "%s", json_object_get_string(v));
                json_object_put(o);
                *ret_type = type;
        }
        if (ret_json)
                *ret_json = json;
        return 0;
}

int attest_luks_token_load(attest_luks *l, int id, attest_luks_token *ret, char *errbuf, size_t errlen) {
        const char *json;
        char msg[256] = "";
        int r;

        r = attest_luks_token_get(l, id, NULL, &json);
        if (r < 0)
                return r;
        r = attest_luks_token_from_json(json, ret, msg, sizeof(msg));
        if (r < 0) {
                attest_set_error(errbuf, errlen, "%s: token %d: %s", l->path, id, msg);
                return r;
        }
        ret->id = id;
        return 0;
}

int attest_luks_find_policy(attest_luks *l, const uint8_t *policy_hash, size_t size) {
        for (int id = 0; id < ATTEST_LUKS_MAX_TOKENS; id++) {
                attest_luks_token t;
                if (attest_luks_token_load(l, id, &t, NULL, 0) < 0)
                        continue;
                bool same = t.policy_hash_size == size && memcmp(t.policy_hash, policy_hash, size) == 0;
                attest_luks_token_done(&t);
                if (same)
                        return id;
        }
        return -ENOENT;
}

int attest_luks_enroll(attest_luks *l, const char *passphrase, size_t passphrase_size, const char *new_passphrase,
                       attest_luks_token *t, char *errbuf, size_t errlen) {
        /* systemd's cryptsetup_set_minimal_pbkdf(): the passphrase is a random key, no stretching needed. */
        struct crypt_pbkdf_type pbkdf = {
                .type = CRYPT_KDF_PBKDF2,
                .hash = "sha512",
                .iterations = 1000,
                .flags = CRYPT_PBKDF_NO_BENCHMARK,
        };
        char *vk = NULL, *json = NULL;
        size_t vk_size;
        int r, keyslot = -1, token;

        if (!l || !passphrase || !new_passphrase || !t)
                return -EINVAL;
        if (passphrase_size > ATTEST_LUKS_PASSPHRASE_MAX) {
                attest_set_error(errbuf, errlen, "passphrase longer than %u bytes", ATTEST_LUKS_PASSPHRASE_MAX);
                return -E2BIG;
        }
        r = crypt_get_volume_key_size(l->cd);
        if (r <= 0 || r > 1024) {
                attest_set_error(errbuf, errlen, "%s: cannot determine the volume key size", l->path);
                return -EINVAL;
        }
        vk_size = (size_t) r;
        vk = malloc(vk_size);
        if (!vk)
                return -ENOMEM;
        l->log[0] = '\0';
        r = crypt_volume_key_get(l->cd, CRYPT_ANY_SLOT, vk, &vk_size, passphrase, passphrase_size);
        l->opened_keyslot = r >= 0 ? r : -1;
        if (r < 0) {
                attest_set_error(errbuf, errlen, "%s: the passphrase opens no keyslot: %s", l->path, luks_reason(l, r));
                r = r == -EPERM ? -EPERM : -EINVAL;
                goto finish;
        }
        r = crypt_set_pbkdf_type(l->cd, &pbkdf);
        if (r < 0) {
                attest_set_error(errbuf, errlen, "%s: cannot set the keyslot's PBKDF: %s", l->path, luks_reason(l, r));
                goto finish;
        }
        l->log[0] = '\0';
        keyslot = crypt_keyslot_add_by_volume_key(l->cd, CRYPT_ANY_SLOT, vk, vk_size, new_passphrase,
                                                  strlen(new_passphrase));
        if (keyslot < 0) {
                r = keyslot;
                attest_set_error(errbuf, errlen, "%s: cannot add a keyslot: %s", l->path, luks_reason(l, r));
                goto finish;
        }
        t->keyslot = keyslot;
        r = attest_luks_token_to_json(t, &json);
        if (r < 0) {
                attest_set_error(errbuf, errlen, "cannot build the token JSON");
                goto finish;
        }
        l->log[0] = '\0';
        token = crypt_token_json_set(l->cd, CRYPT_ANY_TOKEN, json);
        if (token < 0) {
                r = token;
                attest_set_error(errbuf, errlen, "%s: cannot add the token: %s", l->path, luks_reason(l, r));
                goto finish;
        }
        t->id = token;
        r = token;
        keyslot = -1; /* kept */
finish:
        if (keyslot >= 0)
                (void) crypt_keyslot_destroy(l->cd, keyslot);
        if (vk) {
                OPENSSL_cleanse(vk, vk_size);
                free(vk);
        }
        free(json);
        return r;
}

/* The keyslot numbers a token's "keyslots" array names (strings of decimal numbers, as LUKS2 stores them);
 * false when it is missing or holds anything else. */
static bool token_keyslots(const char *json, uint32_t *ret_mask) {
        json_object *o = json_tokener_parse(json), *a;
        uint32_t mask = 0;
        bool ok = o && json_object_object_get_ex(o, "keyslots", &a) && json_object_is_type(a, json_type_array);

        for (size_t i = 0; ok && i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *s = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : NULL;
                char *end;
                errno = 0;
                unsigned long n = s && *s >= '0' && *s <= '9' ? strtoul(s, &end, 10) : ULONG_MAX;
                ok = n < ATTEST_LUKS_MAX_KEYSLOTS && !errno && *end == '\0';
                if (ok)
                        mask |= UINT32_C(1) << n;
        }
        json_object_put(o);
        *ret_mask = mask;
        return ok;
}

int attest_luks_wipe_tpm2(attest_luks *l, int keep, attest_luks_wiped *ret, size_t max, size_t *ret_n, char *errbuf,
                          size_t errlen) {
        attest_luks_wiped seen[ATTEST_LUKS_MAX_TOKENS];
        uint32_t keep_slots = 0;
        const char *type, *json;
        size_t n = 0;
        int r;

        if (!l || keep < 0 || !ret_n || (max && !ret))
                return -EINVAL;
        *ret_n = 0;
        if (attest_luks_token_get(l, keep, NULL, &json) < 0 || !token_keyslots(json, &keep_slots) || !keep_slots) {
                attest_set_error(errbuf, errlen, "%s: token %d to keep is missing or names no keyslot", l->path, keep);
                return -EINVAL;
        }
        /* First every token is read, so that one that cannot be understood stops it before anything is removed. */
        for (int id = 0; id < ATTEST_LUKS_MAX_TOKENS; id++) {
                uint32_t slots;
                if (id == keep || attest_luks_token_get(l, id, &type, &json) < 0 || !attest_luks_token_type_known(type))
                        continue;
                if (!token_keyslots(json, &slots)) {
                        attest_set_error(errbuf, errlen, "%s: token %d: field 'keyslots' is not a list of keyslot "
                                                         "numbers; nothing was removed", l->path, id);
                        return -EBADMSG;
                }
                /* Never the new token's keyslot, nor the one the passphrase given to enroll opened: the user would
                 * lose the way in they just used. Such a token is kept whole, and reported as kept. */
                seen[n++] = (attest_luks_wiped) {
                        .token = id,
                        .keyslots = slots,
                        .kept = (slots & keep_slots) ||
                                (l->opened_keyslot >= 0 && (slots & (UINT32_C(1) << l->opened_keyslot))),
                };
        }
        for (size_t i = 0; i < n; i++) {
                if (seen[i].kept)
                        continue;
                for (unsigned k = 0; k < ATTEST_LUKS_MAX_KEYSLOTS; k++) {
                        if (!(seen[i].keyslots & (UINT32_C(1) << k)) ||
                            crypt_keyslot_status(l->cd, (int) k) == CRYPT_SLOT_INACTIVE)
                                continue;
                        l->log[0] = '\0';
                        r = crypt_keyslot_destroy(l->cd, (int) k);
                        if (r < 0 && r != -ENOENT) {
                                attest_set_error(errbuf, errlen, "%s: token %d: cannot remove keyslot %u: %s", l->path,
                                                 seen[i].token, k, luks_reason(l, r));
                                return r;
                        }
                }
                l->log[0] = '\0';
                r = crypt_token_json_set(l->cd, seen[i].token, NULL);
                if (r < 0) {
                        attest_set_error(errbuf, errlen, "%s: cannot remove token %d: %s", l->path, seen[i].token,
                                         luks_reason(l, r));
                        return r;
                }
        }
        *ret_n = n < max ? n : max;
        if (*ret_n)
                memcpy(ret, seen, *ret_n * sizeof(*ret));
        return (int) n;
}

int attest_luks_token_unseal(attest_tpm *tpm, const attest_luks_token *t, const char *pin,
                             const char *signature_json, char **ret_passphrase, char *errbuf, size_t errlen) {
        attest_seal_policy p = {
                .bank = t->bank,
                .pcr_mask = t->pcr_mask,
                .pubkey_pem = t->pubkey_pem,
                .pubkey_pem_size = t->pubkey_pem_size,
                .pubkey_pcr_mask = t->pubkey_pcr_mask,
                .signature_json = signature_json,
                .pin = t->pin ? pin : NULL,
        };
        measure_policy_tree *tree = NULL;
        uint8_t *secret = NULL;
        size_t size = 0;
        int r;

        if (!tpm || !t || !ret_passphrase)
                return -EINVAL;
        if (t->pin && !pin) {
                attest_set_error(errbuf, errlen, "the token needs a PIN");
                return -ENOKEY;
        }
        if (t->pin && t->salted_pin) {
                attest_set_error(errbuf, errlen,
                                 "the token's PIN is salted (tpm2_salt, systemd 253+), which is not supported");
                return -EOPNOTSUPP;
        }
        if (t->pubkey_pcr_mask && !signature_json) {
                attest_set_error(errbuf, errlen,
                                 "the token uses a signed PCR policy: a signature JSON (.pcrsig) is needed");
                return -ENOKEY;
        }
        if (t->n_branches) {
                if (!t->branches || t->n_branches < ATTEST_LUKS_BRANCHES_MIN || t->n_branches > ATTEST_LUKS_BRANCHES_MAX)
                        return -EINVAL;
                r = measure_policy_tree_build(measure_alg_by_id(MEASURE_ALG_SHA256),
                                              (const uint8_t (*)[MEASURE_DIGEST_MAX]) t->branches, t->n_branches, &tree);
                if (r < 0) {
                        attest_set_error(errbuf, errlen, "cannot build the PolicyOR tree: %s", strerror(-r));
                        return r;
                }
                p.tree = tree;
        }
        r = attest_unseal(tpm, &p, t->primary_alg, t->blob, t->blob_size, t->policy_hash, t->policy_hash_size,
                          &secret, &size, errbuf, errlen);
        measure_policy_tree_free(tree);
        if (r < 0)
                return r;
        r = attest_luks_passphrase(secret, size, ret_passphrase);
        OPENSSL_cleanse(secret, size);
        free(secret);
        return r;
}

int attest_luks_activate(attest_luks *l, const char *name, int keyslot, const char *passphrase, size_t size,
                         char *errbuf, size_t errlen) {
        int r;
        if (!l || !passphrase)
                return -EINVAL;
        l->log[0] = '\0';
        r = crypt_activate_by_passphrase(l->cd, name, keyslot, passphrase, size, 0);
        l->opened_keyslot = r >= 0 ? r : -1;
        if (r < 0) {
                attest_set_error(errbuf, errlen, "%s: keyslot %d: %s%s", l->path, keyslot,
                                 r == -EPERM ? "the unsealed passphrase does not open it" : "cannot activate: ",
                                 r == -EPERM ? "" : luks_reason(l, r));
                return r;
        }
        return 0;
}
