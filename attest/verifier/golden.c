/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verifier-golden.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "digest.h"
#include "tpm.h"

static void copy_string(json_object *o, const char *key, char *buf, size_t len) {
        json_object *v;
        buf[0] = '\0';
        if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                snprintf(buf, len, "%s", json_object_get_string(v));
}

static int parse_entry(json_object *o, size_t i, verifier_golden_entry *e, char *errbuf, size_t errlen) {
        json_object *v, *pcrs, *bank;

        memset(e, 0, sizeof(*e));
        if (!json_object_is_type(o, json_type_object)) {
                attest_set_error(errbuf, errlen, "$.generations[%zu]: not an object", i);
                return -EBADMSG;
        }
        copy_string(o, "profile", e->profile, sizeof(e->profile));
        copy_string(o, "specialisation", e->specialisation, sizeof(e->specialisation));
        copy_string(o, "label", e->label, sizeof(e->label));
        e->generation = -1;
        if (json_object_object_get_ex(o, "generation", &v) && json_object_is_type(v, json_type_int))
                e->generation = (long) json_object_get_int64(v);

        /* A generation without predicted PCRs (initrd secrets, unreadable files) matches nothing. */
        if (!json_object_object_get_ex(o, "pcrs", &pcrs) || json_object_is_type(pcrs, json_type_null))
                return 0;
        if (!json_object_is_type(pcrs, json_type_object)) {
                attest_set_error(errbuf, errlen, "$.generations[%zu].pcrs: not an object", i);
                return -EBADMSG;
        }
        if (!json_object_object_get_ex(pcrs, "sha256", &bank))
                return 0;
        if (!json_object_is_type(bank, json_type_object)) {
                attest_set_error(errbuf, errlen, "$.generations[%zu].pcrs.sha256: not an object", i);
                return -EBADMSG;
        }
        json_object_object_foreach(bank, key, val) {
                char *end;
                unsigned long pcr = strtoul(key, &end, 10);
                if (key[0] < '0' || key[0] > '9' || *end != '\0' || pcr >= MEASURE_PCR_COUNT) {
                        attest_set_error(errbuf, errlen, "$.generations[%zu].pcrs.sha256.%.16s: not a PCR index", i,
                                         key);
                        return -EBADMSG;
                }
                if (!json_object_is_type(val, json_type_string) || json_object_get_string_len(val) != 64 ||
                    measure_unhex(json_object_get_string(val), e->pcrs.value[pcr], 32) < 0) {
                        attest_set_error(errbuf, errlen, "$.generations[%zu].pcrs.sha256.%lu: not 64 hex digits", i,
                                         pcr);
                        return -EBADMSG;
                }
                e->pcrs.mask |= UINT32_C(1) << pcr;
        }
        return 0;
}

int verifier_golden_parse(const char *json, size_t size, verifier_golden *ret, char *errbuf, size_t errlen) {
        json_tokener *tok;
        json_object *root = NULL, *list;
        verifier_golden g = {};
        size_t n, usable = 0;
        int r = -EBADMSG;

        if (!json || !ret)
                return -EINVAL;
        if (size == 0 || size > VERIFIER_GOLDEN_MAX) {
                attest_set_error(errbuf, errlen, "golden values: %zu bytes (1 to %u expected)", size,
                                 VERIFIER_GOLDEN_MAX);
                return -EBADMSG;
        }
        tok = json_tokener_new_ex(16);
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, json, (int) size);
        if (!root || json_tokener_get_error(tok) != json_tokener_success) {
                attest_set_error(errbuf, errlen, "golden values: offset %zu: %s", json_tokener_get_parse_end(tok),
                                 json_tokener_error_desc(json_tokener_get_error(tok)));
                goto finish;
        }
        if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "generations", &list) ||
            !json_object_is_type(list, json_type_array)) {
                attest_set_error(errbuf, errlen, "golden values: $.generations: missing or not an array "
                                 "(the output of `lantern predict --json` is expected)");
                goto finish;
        }
        n = json_object_array_length(list);
        if (n == 0 || n > VERIFIER_GOLDEN_MAX_ENTRIES) {
                attest_set_error(errbuf, errlen, "golden values: $.generations: %zu entries (1 to %d expected)", n,
                                 VERIFIER_GOLDEN_MAX_ENTRIES);
                goto finish;
        }
        g.entries = calloc(n, sizeof(g.entries[0]));
        if (!g.entries) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                r = parse_entry(json_object_array_get_idx(list, i), i, &g.entries[i], errbuf, errlen);
                if (r < 0)
                        goto finish;
                if (g.entries[i].pcrs.mask)
                        usable++;
        }
        g.n = n;
        if (usable == 0) {
                attest_set_error(errbuf, errlen, "golden values: no generation has predicted sha256 PCRs (predict with "
                                 "--bank sha256)");
                r = -EBADMSG;
                goto finish;
        }
        *ret = g;
        g.entries = NULL;
        r = 0;
finish:
        free(g.entries);
        json_object_put(root);
        json_tokener_free(tok);
        return r;
}

void verifier_golden_done(verifier_golden *g) {
        if (!g)
                return;
        free(g->entries);
        g->entries = NULL;
        g->n = 0;
}

void verifier_golden_describe(const verifier_golden_entry *e, char *buf, size_t len) {
        char spec[96] = "";
        if (e->specialisation[0])
                snprintf(spec, sizeof(spec), " (specialisation %s)", e->specialisation);
        snprintf(buf, len, "generation %ld%s of profile %s, \"%s\"", e->generation, spec,
                 e->profile[0] ? e->profile : "?", e->label);
}

int verifier_golden_match(const verifier_golden *g, const attest_pcrs *quoted, size_t *ret_index, char *reason,
                          size_t reason_len) {
        size_t best = SIZE_MAX;
        int best_diff = MEASURE_PCR_COUNT + 1;

        if (!g || !quoted || !ret_index)
                return -EINVAL;
        for (size_t i = 0; i < g->n; i++) {
                const attest_pcrs *p = &g->entries[i].pcrs;
                int diff = 0;
                if (!p->mask)
                        continue;
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                        if ((p->mask & (UINT32_C(1) << pcr)) &&
                            (!(quoted->mask & (UINT32_C(1) << pcr)) || memcmp(p->value[pcr], quoted->value[pcr], 32)))
                                diff++;
                if (diff == 0) {
                        *ret_index = i;
                        return 0;
                }
                if (diff < best_diff) {
                        best_diff = diff;
                        best = i;
                }
        }
        *ret_index = best;
        if (best == SIZE_MAX) {
                attest_set_error(reason, reason_len, "no golden generation has predicted sha256 PCRs");
                return -ENOENT;
        }

        /* "closest: generation 2 ...: PCR 11 expected X, quoted Y; PCR 12 not quoted" */
        const verifier_golden_entry *e = &g->entries[best];
        char desc[320], want[65], got[65];
        size_t used;
        verifier_golden_describe(e, desc, sizeof(desc));
        attest_set_error(reason, reason_len, "no golden generation matches the quoted PCRs; closest is %s:", desc);
        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++) {
                if (!(e->pcrs.mask & (UINT32_C(1) << pcr)))
                        continue;
                used = reason ? strlen(reason) : 0;
                if (!reason || used + 1 >= reason_len)
                        break;
                if (!(quoted->mask & (UINT32_C(1) << pcr)))
                        snprintf(reason + used, reason_len - used, " PCR %u is not quoted;", pcr);
                else if (memcmp(e->pcrs.value[pcr], quoted->value[pcr], 32) != 0)
                        snprintf(reason + used, reason_len - used, " PCR %u expected %s, quoted %s;", pcr,
                                 measure_hex(e->pcrs.value[pcr], 32, want), measure_hex(quoted->value[pcr], 32, got));
        }
        used = reason ? strlen(reason) : 0;
        if (used && reason[used - 1] == ';')
                reason[used - 1] = '\0';
        return -ENOENT;
}
