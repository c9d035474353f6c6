/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern eventlog show|replay|verify: TCG PC Client event logs (the kernel's binary_bios_measurements). */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "eventdata.h"
#include "eventlog.h"
#include "tpm.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)
#define CLI_MAX_PCRS_FILE (1u << 20)

typedef struct verb_args {
        const char *log_path;
        const char *pcrs_path;
        const char *tcti;
        bool json;
} verb_args;

typedef struct verb {
        const char *name;
        int (*run)(const verb_args *a);
        const char *synopsis;
        const char *help;
        bool takes_expected; /* --pcrs / --tcti */
} verb;

static int show_run(const verb_args *a);
static int replay_run(const verb_args *a);
static int verify_run(const verb_args *a);

static const verb verbs[] = {
        { "show", show_run, "show [--json] FILE",
          "Prints every event: PCR, type, digests, decoded data and whether the digest matches the data.\n", false },
        { "replay", replay_run, "replay [--json] FILE",
          "Replays the log and prints the PCR values it produces, one line per value: <bank> <pcr> <hex>.\n"
          "Only PCRs the log extends are printed, banks in registry order (sha1, sha256, sha384, sha512).\n"
          "--json prints {\"<bank>\":{\"<pcr>\":\"<hex>\",...},...}.\n",
          false },
        { "verify", verify_run, "verify [--json] FILE (--pcrs FILE | --tcti CONF)",
          "Replays the log, checks every digest defined by its event's data, and compares the PCRs the log\n"
          "extends with the values in a file (lines '<bank> <pcr> <hex>', either case) or read from a TPM.\n"
          "PCRs the log does not extend are not compared. Exit status 0 when everything matches, 1 on a\n"
          "mismatch, 2 on bad input.\n",
          true },
};
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

static void noun_usage(FILE *f) {
        fputs("Usage: lantern eventlog <verb> [options] FILE\n\nVerbs:\n", f);
        for (size_t i = 0; i < N_VERBS; i++)
                fprintf(f, "  lantern eventlog %s\n", verbs[i].synopsis);
        fputs("\nFILE is a TCG PC Client event log, crypto-agile or SHA-1 format\n"
              "(e.g. /sys/kernel/security/tpm0/binary_bios_measurements).\n"
              "Run 'lantern eventlog <verb> --help' for details.\n",
              f);
}

static void verb_usage(FILE *f, const verb *v) {
        fprintf(f, "Usage: lantern eventlog %s\n\n%s", v->synopsis, v->help);
        fputs("\n  --json        print JSON\n", f);
        if (v->takes_expected)
                fputs("  --pcrs FILE   expected PCR values, '<bank> <pcr> <hex>' per line\n"
                      "  --tcti CONF   read the PCRs from this TPM (e.g. swtpm:port=2321, device:/dev/tpmrm0)\n",
                      f);
        fputs("  --help        show this help\n", f);
}

static void print_json(json_object *root) {
        printf("%s\n", json_object_to_json_string_ext(root, JSON_FLAGS));
}

/* Reads and opens a log; prints "FILE: event N at offset 0xOFF: what" on failure. */
static int load_log(const char *path, uint8_t **ret_buf, measure_eventlog *ret_log) {
        measure_eventlog_error err = {};
        uint8_t *buf = NULL;
        size_t size = 0;
        int r;

        r = cli_read_file(path, CLI_MAX_EVENTLOG, &buf, &size);
        if (r < 0)
                return r;
        r = measure_eventlog_open(buf, size, ret_log, &err);
        if (r < 0) {
                cli_error("%s: event %zu at offset 0x%zx: %s", path, err.index, err.offset, err.message);
                free(buf);
                return r;
        }
        *ret_buf = buf;
        return 0;
}

static void report_log_error(const char *path, const measure_eventlog_error *err) {
        cli_error("%s: event %zu at offset 0x%zx: %s", path, err->index, err->offset, err->message);
}

static const char *type_name(uint32_t type, char *buf, size_t n) {
        const char *name = measure_event_type_name(type);
        if (name)
                return name;
        snprintf(buf, n, "0x%08" PRIx32, type);
        return buf;
}

static const char *alg_name(uint16_t id, char *buf, size_t n) {
        const measure_alg *alg = measure_alg_by_id(id);
        if (alg)
                return alg->name;
        snprintf(buf, n, "0x%04x", id);
        return buf;
}

/* ---- show --------------------------------------------------------------------------------------------- */

static json_object *field_json(const measure_field *f) {
        if (f->kind == MEASURE_FIELD_UINT)
                return json_object_new_uint64(f->value);
        return json_object_new_string(f->text);
}

static int show_event(json_object *events, const measure_event *ev) {
        char hex[2 * MEASURE_DIGEST_MAX + 1], tbuf[16], abuf[8];
        measure_eventdata *d = NULL;
        measure_eventdata_error derr = {};
        measure_digest_check check;
        int r;

        r = measure_eventdata_decode(ev->type, ev->data, ev->data_size, &d, &derr);
        if (r == -ENOMEM)
                return r;
        measure_event_check_digest(ev, &check);

        if (!events) {
                printf("event %zu at 0x%zx: pcr %" PRIu32 " %s, %" PRIu32 " bytes of data\n", ev->index, ev->offset,
                       ev->pcr, type_name(ev->type, tbuf, sizeof(tbuf)), ev->data_size);
                for (size_t i = 0; i < ev->n_digests; i++)
                        printf("  %s: %s\n", alg_name(ev->digests[i].alg_id, abuf, sizeof(abuf)),
                               measure_hex(ev->digests[i].digest, ev->digests[i].size, hex));
                if (r < 0)
                        printf("  decode error at data offset 0x%zx (log offset 0x%zx): %s\n", derr.offset,
                               ev->data_offset + derr.offset, derr.message);
                else
                        for (size_t i = 0; i < d->n_fields; i++) {
                                const measure_field *f = &d->fields[i];
                                if (f->kind == MEASURE_FIELD_UINT)
                                        printf("  %s: %" PRIu64 " (0x%" PRIx64 ")\n", f->key, f->value, f->value);
                                else if (f->kind == MEASURE_FIELD_HEX)
                                        printf("  %s: %s\n", f->key, f->text);
                                else
                                        printf("  %s: \"%s\"\n", f->key, f->text);
                        }
                printf("  digest check: %s (%s)", measure_digest_verdict_name(check.verdict), check.rule);
                if (check.verdict == MEASURE_DIGEST_MISMATCH)
                        printf(": %s", alg_name(check.mismatch_alg, abuf, sizeof(abuf)));
                putchar('\n');
                measure_eventdata_free(d);
                return 0;
        }

        json_object *o = json_object_new_object(), *digests = json_object_new_object(), *data = NULL;
        if (!o || !digests) {
                json_object_put(o);
                json_object_put(digests);
                measure_eventdata_free(d);
                return -ENOMEM;
        }
        json_object_array_add(events, o);
        json_object_object_add(o, "index", json_object_new_uint64(ev->index));
        json_object_object_add(o, "offset", json_object_new_uint64(ev->offset));
        json_object_object_add(o, "pcr", json_object_new_uint64(ev->pcr));
        json_object_object_add(o, "type", json_object_new_string(type_name(ev->type, tbuf, sizeof(tbuf))));
        json_object_object_add(o, "type_id", json_object_new_uint64(ev->type));
        json_object_object_add(o, "digests", digests);
        for (size_t i = 0; i < ev->n_digests; i++)
                json_object_object_add(digests, alg_name(ev->digests[i].alg_id, abuf, sizeof(abuf)),
                                       json_object_new_string(measure_hex(ev->digests[i].digest,
                                                                          ev->digests[i].size, hex)));
        json_object_object_add(o, "data_size", json_object_new_uint64(ev->data_size));
        if (r < 0) {
                json_object *e = json_object_new_object();
                json_object_object_add(o, "decode_error", e);
                json_object_object_add(e, "offset", json_object_new_uint64(ev->data_offset + derr.offset));
                json_object_object_add(e, "message", json_object_new_string(derr.message));
        } else {
                data = json_object_new_object();
                json_object_object_add(o, "data", data);
                for (size_t i = 0; i < d->n_fields; i++)
                        json_object_object_add(data, d->fields[i].key, field_json(&d->fields[i]));
        }
        json_object *c = json_object_new_object();
        json_object_object_add(o, "digest_check", c);
        json_object_object_add(c, "verdict", json_object_new_string(measure_digest_verdict_name(check.verdict)));
        json_object_object_add(c, "rule", json_object_new_string(check.rule));
        if (check.verdict == MEASURE_DIGEST_MISMATCH)
                json_object_object_add(c, "algorithm",
                                       json_object_new_string(alg_name(check.mismatch_alg, abuf, sizeof(abuf))));
        measure_eventdata_free(d);
        return 0;
}

static int show_run(const verb_args *a) {
        measure_eventlog log;
        measure_eventlog_iter it;
        measure_eventlog_error err = {};
        measure_event ev;
        uint8_t *buf = NULL;
        json_object *root = NULL, *events = NULL;
        char abuf[8];
        int ret = LANTERN_EXIT_INPUT, r;

        if (load_log(a->log_path, &buf, &log) < 0)
                return LANTERN_EXIT_INPUT;

        if (a->json) {
                root = json_object_new_object();
                events = json_object_new_array();
                json_object *algs = json_object_new_array();
                if (!root || !events || !algs) {
                        json_object_put(events);
                        json_object_put(algs);
                        goto oom;
                }
                json_object_object_add(root, "format", json_object_new_string(
                        log.format == MEASURE_EVENTLOG_CRYPTO_AGILE ? "crypto-agile" : "sha1"));
                json_object_object_add(root, "algorithms", algs);
                for (size_t i = 0; i < log.n_algs; i++)
                        json_object_array_add(algs, json_object_new_string(alg_name(log.algs[i].id, abuf,
                                                                                    sizeof(abuf))));
                json_object_object_add(root, "events", events);
        } else {
                printf("%s log, algorithms:", log.format == MEASURE_EVENTLOG_CRYPTO_AGILE ? "crypto-agile" : "SHA-1");
                for (size_t i = 0; i < log.n_algs; i++)
                        printf(" %s", alg_name(log.algs[i].id, abuf, sizeof(abuf)));
                putchar('\n');
        }

        measure_eventlog_iter_init(&it, &log);
        while ((r = measure_eventlog_next(&it, &ev, &err)) > 0)
                if (show_event(events, &ev) < 0)
                        goto oom;
        if (r < 0) {
                fflush(stdout);
                report_log_error(a->log_path, &err);
                goto finish;
        }
        if (root)
                print_json(root);
        ret = fflush(stdout) == 0 ? LANTERN_EXIT_OK : LANTERN_EXIT_INPUT;
        goto finish;
oom:
        cli_error("%s: out of memory", a->log_path);
finish:
        json_object_put(root);
        free(buf);
        return ret;
}

/* ---- replay ------------------------------------------------------------------------------------------- */

/* Replays and sorts the banks into registry order. */
static int replay_sorted(const char *path, const measure_eventlog *log, measure_bank *banks, size_t *ret_n) {
        measure_bank tmp[MEASURE_EVENTLOG_MAX_ALGS];
        measure_eventlog_error err = {};
        size_t n = 0, n_list, k = 0;

        if (measure_eventlog_replay(log, tmp, &n, &err) < 0) {
                report_log_error(path, &err);
                return -EBADMSG;
        }
        const measure_alg *list = measure_alg_list(&n_list);
        for (size_t i = 0; i < n_list; i++)
                for (size_t j = 0; j < n; j++)
                        if (tmp[j].alg == &list[i])
                                banks[k++] = tmp[j];
        *ret_n = k;
        return 0;
}

static int replay_run(const verb_args *a) {
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        measure_eventlog log;
        uint8_t *buf = NULL;
        size_t n = 0;
        char hex[2 * MEASURE_DIGEST_MAX + 1], key[4];
        json_object *root = NULL;
        int ret = LANTERN_EXIT_INPUT;

        if (load_log(a->log_path, &buf, &log) < 0)
                return LANTERN_EXIT_INPUT;
        if (replay_sorted(a->log_path, &log, banks, &n) < 0)
                goto finish;
        if (a->json && !(root = json_object_new_object())) {
                cli_error("%s: out of memory", a->log_path);
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *bank = NULL;
                if (root) {
                        bank = json_object_new_object();
                        json_object_object_add(root, banks[i].alg->name, bank);
                }
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++) {
                        if (!(banks[i].extended & (UINT32_C(1) << pcr)))
                                continue;
                        if (!root) {
                                cli_print_pcr(stdout, banks[i].alg, pcr, banks[i].pcr[pcr]);
                                continue;
                        }
                        snprintf(key, sizeof(key), "%u", pcr);
                        json_object_object_add(bank, key, json_object_new_string(
                                measure_hex(banks[i].pcr[pcr], banks[i].alg->size, hex)));
                }
        }
        if (root)
                print_json(root);
        ret = fflush(stdout) == 0 ? LANTERN_EXIT_OK : LANTERN_EXIT_INPUT;
finish:
        json_object_put(root);
        free(buf);
        return ret;
}

/* ---- verify ------------------------------------------------------------------------------------------- */

typedef struct expected {
        uint32_t have[MEASURE_EVENTLOG_MAX_ALGS]; /* bit per PCR, index-aligned with the replayed banks */
        uint8_t value[MEASURE_EVENTLOG_MAX_ALGS][MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
} expected;

/* Parses '<bank> <pcr> <hex>' lines (blank lines and '#' comments allowed). Values of banks the log does
 * not carry are checked for form and ignored. */
static int read_pcrs_file(const char *path, const measure_bank *banks, size_t n, expected *e) {
        uint8_t *buf = NULL;
        size_t size = 0, lineno = 0;
        int r;

        r = cli_read_file(path, CLI_MAX_PCRS_FILE, &buf, &size);
        if (r < 0)
                return r;
        if (memchr(buf, 0, size)) {
                cli_error("%s: not a text file", path);
                free(buf);
                return -EINVAL;
        }
        /* Lines are walked by hand (not strtok) so that line numbers in errors stay right. */
        char *p = (char *) buf;
        while (p && *p) {
                char *nl = strchr(p, '\n'), *line = p;
                p = nl ? nl + 1 : NULL;
                if (nl)
                        *nl = 0;
                lineno++;
                size_t len = strlen(line);
                while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
                        line[--len] = 0;
                while (*line == ' ' || *line == '\t')
                        line++;
                if (*line == 0 || *line == '#')
                        continue;

                char bank[32], hexv[2 * MEASURE_DIGEST_MAX + 2], extra;
                unsigned pcr;
                if (sscanf(line, "%31s %u %129s %c", bank, &pcr, hexv, &extra) != 3) {
                        cli_error("%s:%zu: expected '<bank> <pcr> <hex>'", path, lineno);
                        goto fail;
                }
                const measure_alg *alg = measure_alg_by_name(bank);
                if (!alg) {
                        cli_error("%s:%zu: unknown bank '%s'", path, lineno, bank);
                        goto fail;
                }
                if (pcr >= MEASURE_PCR_COUNT) {
                        cli_error("%s:%zu: PCR %u out of range (0 to 23)", path, lineno, pcr);
                        goto fail;
                }
                uint8_t v[MEASURE_DIGEST_MAX];
                if (measure_unhex(hexv, v, alg->size) < 0) {
                        cli_error("%s:%zu: '%s' is not %zu bytes of hex", path, lineno, hexv, alg->size);
                        goto fail;
                }
                for (size_t i = 0; i < n; i++)
                        if (banks[i].alg == alg) {
                                memcpy(e->value[i][pcr], v, alg->size);
                                e->have[i] |= UINT32_C(1) << pcr;
                        }
        }
        free(buf);
        return 0;
fail:
        free(buf);
        return -EINVAL;
}

static int read_pcrs_tpm(const char *tcti, const measure_bank *banks, size_t n, expected *e) {
        static uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
        attest_tpm *tpm = NULL;
        char err[512] = "";
        int r;

        r = attest_tpm_open(tcti, &tpm, err, sizeof(err));
        if (r < 0) {
                cli_error("cannot reach the TPM: %s", err);
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                uint32_t got = 0;
                if (!banks[i].extended)
                        continue;
                r = attest_tpm_pcr_read(tpm, banks[i].alg, banks[i].extended, values, &got, err, sizeof(err));
                if (r < 0) {
                        cli_error("TPM %s bank: %s", banks[i].alg->name, err);
                        attest_tpm_free(tpm);
                        return r;
                }
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                        if (got & (UINT32_C(1) << pcr))
                                memcpy(e->value[i][pcr], values[pcr], banks[i].alg->size);
                e->have[i] = got;
        }
        attest_tpm_free(tpm);
        return 0;
}

static int verify_run(const verb_args *a) {
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        measure_eventlog log;
        measure_eventlog_iter it;
        measure_eventlog_error err = {};
        measure_event ev;
        uint8_t *buf = NULL;
        size_t n = 0, n_bad_pcrs = 0, n_bad_digests = 0, n_checked = 0, n_pcrs = 0;
        char hex[2 * MEASURE_DIGEST_MAX + 1], hex2[2 * MEASURE_DIGEST_MAX + 1], tbuf[16], abuf[8], key[4];
        json_object *root = NULL, *jpcrs = NULL, *jdigests = NULL;
        expected *e = NULL;
        int ret = LANTERN_EXIT_INPUT, r;

        if (!!a->pcrs_path == !!a->tcti) {
                cli_error("eventlog verify: give exactly one of --pcrs FILE and --tcti CONF");
                return LANTERN_EXIT_INPUT;
        }
        if (load_log(a->log_path, &buf, &log) < 0)
                return LANTERN_EXIT_INPUT;
        if (replay_sorted(a->log_path, &log, banks, &n) < 0)
                goto finish;
        e = calloc(1, sizeof(*e));
        if (!e)
                goto oom;
        r = a->pcrs_path ? read_pcrs_file(a->pcrs_path, banks, n, e) : read_pcrs_tpm(a->tcti, banks, n, e);
        if (r < 0)
                goto finish;

        if (a->json) {
                root = json_object_new_object();
                jpcrs = json_object_new_object();
                jdigests = json_object_new_array();
                if (!root || !jpcrs || !jdigests) {
                        json_object_put(jpcrs);
                        json_object_put(jdigests);
                        goto oom;
                }
                json_object_object_add(root, "pcrs", jpcrs);
                json_object_object_add(root, "digest_mismatches", jdigests);
        }

        for (size_t i = 0; i < n; i++) {
                json_object *jb = NULL;
                if (root && banks[i].extended) {
                        jb = json_object_new_object();
                        json_object_object_add(jpcrs, banks[i].alg->name, jb);
                }
                for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++) {
                        if (!(banks[i].extended & (UINT32_C(1) << pcr)))
                                continue;
                        size_t sz = banks[i].alg->size;
                        bool have = e->have[i] & (UINT32_C(1) << pcr);
                        bool match = have && memcmp(e->value[i][pcr], banks[i].pcr[pcr], sz) == 0;
                        const char *verdict = match ? "ok" : have ? "mismatch" : "missing";
                        n_pcrs++;
                        if (!match)
                                n_bad_pcrs++;
                        measure_hex(banks[i].pcr[pcr], sz, hex);
                        if (have)
                                measure_hex(e->value[i][pcr], sz, hex2);
                        if (!root) {
                                if (match)
                                        printf("%s %u ok\n", banks[i].alg->name, pcr);
                                else if (have)
                                        printf("%s %u MISMATCH log %s, actual %s\n", banks[i].alg->name, pcr, hex,
                                               hex2);
                                else
                                        printf("%s %u MISSING log %s, no value to compare with\n",
                                               banks[i].alg->name, pcr, hex);
                                continue;
                        }
                        json_object *o = json_object_new_object();
                        snprintf(key, sizeof(key), "%u", pcr);
                        json_object_object_add(jb, key, o);
                        json_object_object_add(o, "verdict", json_object_new_string(verdict));
                        json_object_object_add(o, "log", json_object_new_string(hex));
                        if (have)
                                json_object_object_add(o, "actual", json_object_new_string(hex2));
                }
        }

        measure_eventlog_iter_init(&it, &log);
        while ((r = measure_eventlog_next(&it, &ev, &err)) > 0) {
                measure_digest_check c;
                measure_event_check_digest(&ev, &c);
                if (c.verdict == MEASURE_DIGEST_MATCH)
                        n_checked++;
                if (c.verdict != MEASURE_DIGEST_MISMATCH)
                        continue;
                n_bad_digests++;
                if (!root) {
                        printf("event %zu at 0x%zx: pcr %" PRIu32 " %s: %s digest is not the %s\n", ev.index,
                               ev.offset, ev.pcr, type_name(ev.type, tbuf, sizeof(tbuf)),
                               alg_name(c.mismatch_alg, abuf, sizeof(abuf)), c.rule);
                        continue;
                }
                json_object *o = json_object_new_object();
                json_object_array_add(jdigests, o);
                json_object_object_add(o, "index", json_object_new_uint64(ev.index));
                json_object_object_add(o, "offset", json_object_new_uint64(ev.offset));
                json_object_object_add(o, "pcr", json_object_new_uint64(ev.pcr));
                json_object_object_add(o, "type", json_object_new_string(type_name(ev.type, tbuf, sizeof(tbuf))));
                json_object_object_add(o, "algorithm",
                                       json_object_new_string(alg_name(c.mismatch_alg, abuf, sizeof(abuf))));
                json_object_object_add(o, "rule", json_object_new_string(c.rule));
        }
        if (r < 0) {
                report_log_error(a->log_path, &err);
                goto finish;
        }

        bool ok = n_bad_pcrs == 0 && n_bad_digests == 0 && n_pcrs > 0;
        if (root) {
                json_object_object_add(root, "events_checked", json_object_new_uint64(n_checked));
                json_object_object_add(root, "ok", json_object_new_boolean(ok));
                print_json(root);
        } else
                printf("%s: %zu PCR values compared, %zu differ; %zu event digests checked, %zu wrong\n",
                       ok ? "ok" : "MISMATCH", n_pcrs, n_bad_pcrs, n_checked + n_bad_digests, n_bad_digests);
        if (fflush(stdout) != 0)
                goto finish;
        ret = ok ? LANTERN_EXIT_OK : LANTERN_EXIT_MISMATCH;
        goto finish;
oom:
        cli_error("%s: out of memory", a->log_path);
finish:
        json_object_put(root);
        free(e);
        free(buf);
        return ret;
}

/* ---- dispatch ----------------------------------------------------------------------------------------- */

static int parse_argv(const verb *v, int argc, char **argv, verb_args *ret) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "pcrs", required_argument, NULL, 'p' },
                { "tcti", required_argument, NULL, 'T' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        verb_args a = {};
        int c;

        optind = 0;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'j':
                        a.json = true;
                        break;
                case 'p':
                case 'T':
                        if (!v->takes_expected) {
                                cli_error("eventlog %s: unknown option '%s'", v->name, argv[optind - 1]);
                                return -EINVAL;
                        }
                        if (c == 'p')
                                a.pcrs_path = optarg;
                        else
                                a.tcti = optarg;
                        break;
                case 'h':
                        verb_usage(stdout, v);
                        return 0;
                default:
                        cli_error("eventlog %s: unknown or incomplete option '%s'", v->name, argv[optind - 1]);
                        return -EINVAL;
                }
        if (optind + 1 != argc) {
                cli_error("eventlog %s: expected exactly one FILE", v->name);
                verb_usage(stderr, v);
                return -EINVAL;
        }
        a.log_path = argv[optind];
        *ret = a;
        return 1;
}

int eventlog_main(int argc, char **argv) {
        verb_args a;
        int r;

        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                noun_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        }
        for (size_t i = 0; i < N_VERBS; i++) {
                if (strcmp(argv[1], verbs[i].name) != 0)
                        continue;
                r = parse_argv(&verbs[i], argc - 1, argv + 1, &a);
                if (r <= 0)
                        return r < 0 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
                return verbs[i].run(&a);
        }
        cli_error("eventlog: unknown verb '%s' (known: show, replay, verify)", argv[1]);
        return LANTERN_EXIT_INPUT;
}
