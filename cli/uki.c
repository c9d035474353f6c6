/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern uki: the PCR 11 value a unified kernel image produces when its stub measures it. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "pcr.h"
#include "pe.h"
#include "uki.h"

#define MAX_BANKS 8

/* From cli/pe.c: maps and parses a PE file, printing errors; returns 0 or an exit code. */

static void uki_usage(FILE *f) {
        fputs("Usage: lantern uki measure [--bank BANK[,BANK...]] [--esp DIR] [--json] FILE\n"
              "\n"
              "  measure    print the PCR 11 value the UKI's stub produces, one line '<bank> 11 <hex>' per bank\n"
              "             (the value `systemd-measure calculate --phase=` predicts); the stub version and with\n"
              "             it the measured sections come from the UKI's .sdmagic section\n"
              "\n"
              "Options:\n"
              "  --bank LIST  digest banks (default sha1,sha256,sha384,sha512)\n"
              "  --esp DIR    the ESP a thin lantern stub's .linux/.initrd paths point into; each file must\n"
              "               match the SHA-256 in .linuxh/.initrdh (exit 1 if not: the stub would not boot)\n"
              "  --json       print JSON: the stub, the measurement plan with its event digests, the PCRs\n"
              "  -h, --help   show this help\n",
              f);
}

static const char *stub_kind_name(measure_uki_stub_kind k) {
        switch (k) {
        case MEASURE_UKI_STUB_SYSTEMD:
                return "systemd-stub";
        case MEASURE_UKI_STUB_LANTERN:
                return "lantern-stub";
        default:
                return "unknown";
        }
}

static int plan_json(const char *path, const measure_uki_plan *plan, const uint8_t *data, size_t size,
                     const measure_uki_external *ext, char (*const esp_paths)[MEASURE_UKI_THIN_PATH_MAX + 1],
                     const measure_alg *const *algs, size_t n_algs, uint8_t (*values)[MEASURE_DIGEST_MAX],
                     json_object **ret) {
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        uint8_t nd[MEASURE_DIGEST_MAX], dd[MEASURE_DIGEST_MAX];
        json_object *o = json_object_new_object(), *stub = json_object_new_object(), *arr = json_object_new_array(),
                    *pcrs = json_object_new_object();
        int r;

        json_object_object_add(o, "file", json_object_new_string(path));
        json_object_object_add(stub, "kind", json_object_new_string(stub_kind_name(plan->stub.kind)));
        json_object_object_add(stub, "ident", json_object_new_string(plan->stub.ident));
        json_object_object_add(stub, "version", json_object_new_int((int) plan->stub.version));
        json_object_object_add(stub, "rules", json_object_new_int((int) plan->stub.rules));
        json_object_object_add(stub, "match", json_object_new_string(plan->stub.match == MEASURE_PE_MATCH_PREFIX_LAST
                                                                             ? "prefix-last" : "exact-first"));
        json_object_object_add(stub, "assumed", json_object_new_boolean(plan->stub.kind == MEASURE_UKI_STUB_UNKNOWN));
        json_object_object_add(o, "stub", stub);

        for (size_t k = 0; k < plan->n; k++) {
                const measure_uki_measurement *m = &plan->m[k];
                json_object *j = json_object_new_object(), *dg = json_object_new_object();
                json_object_object_add(j, "section", json_object_new_string(measure_uki_sections[m->section].name));
                json_object_object_add(j, "pe_index", json_object_new_int(m->pe_index));
                json_object_object_add(j, "offset", json_object_new_int64((int64_t) m->offset));
                json_object_object_add(j, "length", json_object_new_int64(m->length));
                json_object_object_add(j, "zero_fill", json_object_new_int64(m->zero_fill));
                if (m->external) {
                        json_object_object_add(j, "esp_path", json_object_new_string(esp_paths[k]));
                        json_object_object_add(j, "esp_size", json_object_new_int64((int64_t) ext[k].size));
                }
                for (size_t i = 0; i < n_algs; i++) {
                        json_object *b = json_object_new_object();
                        r = measure_uki_measurement_digests(m, data, size, &ext[k], algs[i], nd, dd);
                        if (r < 0) {
                                json_object_put(b);
                                json_object_put(dg);
                                json_object_put(j);
                                json_object_put(arr);
                                json_object_put(pcrs);
                                json_object_put(o);
                                return r;
                        }
                        json_object_object_add(b, "name", json_object_new_string(measure_hex(nd, algs[i]->size, hex)));
                        json_object_object_add(b, "data", json_object_new_string(measure_hex(dd, algs[i]->size, hex)));
                        json_object_object_add(dg, algs[i]->name, b);
                }
                json_object_object_add(j, "digests", dg);
                json_object_array_add(arr, j);
        }
        json_object_object_add(o, "measurements", arr);

        /* The same shape as systemd-measure calculate --json. */
        for (size_t i = 0; i < n_algs; i++) {
                json_object *a = json_object_new_array(), *e = json_object_new_object();
                json_object_object_add(e, "pcr", json_object_new_int(MEASURE_PCR_KERNEL_IMAGE));
                json_object_object_add(e, "hash", json_object_new_string(measure_hex(values[i], algs[i]->size, hex)));
                json_object_array_add(a, e);
                json_object_object_add(pcrs, algs[i]->name, a);
        }
        json_object_object_add(o, "pcrs", pcrs);
        *ret = o;
        return 0;
}

/* Thin layout: reads each ESP file the plan names under esp and checks it against its SHA-256 section.
 * Returns 0 or an exit code (the error printed). ext[k].data is malloc'd. */
static int load_external(const char *path, const char *esp, const measure_pe *pe, const uint8_t *data, size_t size,
                         const measure_uki_plan *plan, measure_uki_external *ext,
                         char (*esp_paths)[MEASURE_UKI_THIN_PATH_MAX + 1]) {
        for (size_t k = 0; k < plan->n; k++) {
                const measure_uki_measurement *m = &plan->m[k];
                const char *name = measure_uki_sections[m->section].name;
                const uint8_t *want;
                uint8_t got[MEASURE_DIGEST_MAX], *content;
                size_t content_size;
                char *file;

                if (!m->external)
                        continue;
                if (measure_uki_thin_file(pe, data, size, m, esp_paths[k], &want) < 0) {
                        cli_error("%s: offset 0x%" PRIx64 ": bad thin-layout path in %s", path, m->offset, name);
                        return LANTERN_EXIT_INPUT;
                }
                if (!esp) {
                        cli_error("%s: thin stub: %s names the ESP file %s; give --esp DIR", path, name, esp_paths[k]);
                        return LANTERN_EXIT_INPUT;
                }
                /* "\EFI\nixos\kernel.efi" -> "<esp>/EFI/nixos/kernel.efi" */
                const char *rel = esp_paths[k];
                while (*rel == '\\' || *rel == '/')
                        rel++;
                if (asprintf(&file, "%s/%s", esp, rel) < 0)
                        return LANTERN_EXIT_INPUT;
                for (char *c = file + strlen(esp); *c; c++)
                        if (*c == '\\')
                                *c = '/';
                if (cli_read_file(file, CLI_MAX_PE, &content, &content_size) < 0) {
                        free(file);
                        return LANTERN_EXIT_INPUT;
                }
                if (measure_hash(measure_alg_by_id(MEASURE_ALG_SHA256), content, content_size, got) < 0 ||
                    memcmp(got, want, MEASURE_UKI_THIN_HASH_SIZE) != 0) {
                        cli_error("%s: %s (%s) does not match the SHA-256 in the stub's %s section: the stub would refuse "
                                  "to boot", path, file, esp_paths[k], pe->sections[m->hash_pe_index].name);
                        free(content);
                        free(file);
                        return LANTERN_EXIT_MISMATCH;
                }
                free(file);
                ext[k].data = content;
                ext[k].size = content_size;
        }
        return 0;
}

static int verb_measure(int argc, char **argv) {
        static const struct option options[] = {
                { "bank", required_argument, NULL, 'b' },
                { "json", no_argument, NULL, 'j' },
                { "esp", required_argument, NULL, 'e' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *banks = "sha1,sha256,sha384,sha512", *path, *esp = NULL;
        measure_uki_external ext[MEASURE_UKI_SECTION_MAX] = {};
        static char esp_paths[MEASURE_UKI_SECTION_MAX][MEASURE_UKI_THIN_PATH_MAX + 1];
        const measure_alg *algs[MAX_BANKS];
        uint8_t values[MAX_BANKS][MEASURE_DIGEST_MAX];
        measure_pe_error err = {};
        measure_uki_plan plan;
        measure_pe *pe = NULL;
        cli_file file;
        const uint8_t *data;
        size_t size, n_algs;
        bool json = false;
        int c, r, ret = LANTERN_EXIT_INPUT;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'b':
                        banks = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'e':
                        esp = optarg;
                        break;
                case 'h':
                        uki_usage(stdout);
                        return LANTERN_EXIT_OK;
                default:
                        uki_usage(stderr);
                        return LANTERN_EXIT_INPUT;
                }
        if (optind + 1 != argc) {
                cli_error("uki measure: expected exactly one FILE");
                return LANTERN_EXIT_INPUT;
        }
        path = argv[optind];
        if (cli_parse_banks(banks, algs, MAX_BANKS, &n_algs) < 0)
                return LANTERN_EXIT_INPUT;

        r = cli_load_pe_alloc(path, &file, &pe);
        if (r != 0)
                return r;
        data = file.data;
        size = file.size;
        r = measure_uki_plan_build(pe, data, size, &err, &plan);
        if (r < 0) {
                cli_error("%s: offset 0x%" PRIx64 ": %s", path, err.offset, err.what);
                goto finish;
        }
        if (plan.stub.kind == MEASURE_UKI_STUB_UNKNOWN)
                cli_error("%s: %s%s%s, assuming systemd-stub %u rules", path,
                          plan.stub.ident[0] ? "the .sdmagic section names no known stub ('" : "no stub version found (.sdmagic)",
                          plan.stub.ident, plan.stub.ident[0] ? "')" : "", plan.stub.rules);
        if (plan.hardware_dependent) {
                cli_error("%s: has a .dtbauto section: the stub measures the devicetree the hardware selects, "
                          "so PCR 11 cannot be predicted from the file alone", path);
                goto finish;
        }
        r = load_external(path, esp, pe, data, size, &plan, ext, esp_paths);
        if (r != 0) {
                ret = r;
                goto finish;
        }
        r = measure_uki_plan_fold(&plan, data, size, ext, algs, n_algs, values);
        if (r < 0) {
                cli_error("%s: cannot compute PCR 11: %s", path, strerror(-r));
                goto finish;
        }

        if (json) {
                json_object *o;
                r = plan_json(path, &plan, data, size, ext, esp_paths, algs, n_algs, values, &o);
                if (r < 0) {
                        cli_error("%s: cannot compute event digests: %s", path, strerror(-r));
                        goto finish;
                }
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else
                for (size_t i = 0; i < n_algs; i++)
                        cli_print_pcr(stdout, algs[i], MEASURE_PCR_KERNEL_IMAGE, values[i]);
        ret = LANTERN_EXIT_OK;
finish:
        for (size_t k = 0; k < MEASURE_UKI_SECTION_MAX; k++)
                free((void *) ext[k].data);
        cli_file_done(&file);
        free(pe);
        return ret;
}

int uki_main(int argc, char **argv) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                uki_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        }
        if (strcmp(argv[1], "measure") == 0)
                return verb_measure(argc - 1, argv + 1);
        cli_error("uki: unknown verb '%s'", argv[1]);
        uki_usage(stderr);
        return LANTERN_EXIT_INPUT;
}
