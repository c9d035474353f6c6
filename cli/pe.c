/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lantern pe: PE/COFF section tables and Authenticode hashes. */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "authenticode.h"
#include "cli.h"
#include "pe.h"

#define MAX_BANKS MEASURE_AUTHENTICODE_MAX_BANKS

static void pe_usage(FILE *f) {
        fputs("Usage: lantern pe hash [--bank BANK[,BANK...]] [--json] FILE\n"
              "       lantern pe sections [--json] FILE\n"
              "\n"
              "  hash       print the Authenticode image hash (what firmware measures into PCR 4 and what\n"
              "             pesign -h prints); default bank sha256\n"
              "  sections   print the headers and the section table\n"
              "\n"
              "Options:\n"
              "  --bank LIST  digest banks: sha1, sha256, sha384, sha512, sm3_256 (hash only)\n"
              "  --json       print JSON\n"
              "  -h, --help   show this help\n",
              f);
}

int cli_load_pe(const char *path, cli_file *ret_file, measure_pe *ret_pe) {
        measure_pe_error err = {};
        cli_file f;
        int r;

        r = cli_map_file(path, CLI_MAX_PE, &f);
        if (r < 0)
                return LANTERN_EXIT_INPUT;
        r = measure_pe_parse(f.data, f.size, MEASURE_PE_FILE, &err, ret_pe);
        if (r < 0) {
                cli_error("%s: offset 0x%" PRIx64 ": not a valid PE file: %s", path, err.offset, err.what);
                cli_file_done(&f);
                return LANTERN_EXIT_INPUT;
        }
        *ret_file = f;
        return 0;
}

int cli_load_pe_alloc(const char *path, cli_file *ret_file, measure_pe **ret_pe) {
        measure_pe *pe = malloc(sizeof(*pe));
        int r;

        if (!pe)
                return LANTERN_EXIT_INPUT;
        r = cli_load_pe(path, ret_file, pe);
        if (r != 0) {
                free(pe);
                return r;
        }
        *ret_pe = pe;
        return 0;
}

typedef struct pe_args {
        const char *banks;
        bool json;
        const char *file;
} pe_args;

/* Parses "[options] FILE" after the verb. Returns -1 to continue, else an exit code. */
static int parse_args(int argc, char **argv, bool allow_bank, pe_args *a) {
        static const struct option options[] = {
                { "bank", required_argument, NULL, 'b' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        optind = 0;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'b':
                        if (!allow_bank) {
                                cli_error("pe %s: --bank is not an option of this verb", argv[0]);
                                return LANTERN_EXIT_INPUT;
                        }
                        a->banks = optarg;
                        break;
                case 'j':
                        a->json = true;
                        break;
                case 'h':
                        pe_usage(stdout);
                        return LANTERN_EXIT_OK;
                default:
                        pe_usage(stderr);
                        return LANTERN_EXIT_INPUT;
                }
        if (optind + 1 != argc) {
                cli_error("pe %s: expected exactly one FILE", argv[0]);
                return LANTERN_EXIT_INPUT;
        }
        a->file = argv[optind];
        return -1;
}

static int verb_hash(int argc, char **argv) {
        pe_args a = { .banks = "sha256" };
        const measure_alg *algs[MAX_BANKS];
        uint8_t digests[MAX_BANKS][MEASURE_DIGEST_MAX];
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        measure_pe *pe = NULL;
        cli_file file;
        size_t n_algs;
        int r, ret = LANTERN_EXIT_INPUT;

        r = parse_args(argc, argv, true, &a);
        if (r >= 0)
                return r;
        if (cli_parse_banks(a.banks, algs, MAX_BANKS, &n_algs) < 0)
                return LANTERN_EXIT_INPUT;
        r = cli_load_pe_alloc(a.file, &file, &pe);
        if (r != 0)
                return r;
        r = measure_authenticode_hash(pe, file.data, file.size, algs, n_algs, digests);
        if (r < 0) {
                if (r == -EBADMSG)
                        cli_error("%s: offset 0x%" PRIx64 ": the certificate table overlaps the section data",
                                  a.file, pe->data_dirs_offset + 8 * MEASURE_PE_DIR_SECURITY);
                else
                        cli_error("%s: cannot hash: %s", a.file, strerror(-r));
                goto finish;
        }

        if (a.json) {
                json_object *o = json_object_new_object();
                for (size_t i = 0; i < n_algs; i++)
                        json_object_object_add(o, algs[i]->name,
                                               json_object_new_string(measure_hex(digests[i], algs[i]->size, hex)));
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else if (n_algs == 1)
                puts(measure_hex(digests[0], algs[0]->size, hex));
        else
                for (size_t i = 0; i < n_algs; i++)
                        printf("%s %s\n", algs[i]->name, measure_hex(digests[i], algs[i]->size, hex));
        ret = LANTERN_EXIT_OK;
finish:
        cli_file_done(&file);
        free(pe);
        return ret;
}

static json_object *sections_json(const char *path, const measure_pe *pe) {
        json_object *o = json_object_new_object(), *arr = json_object_new_array();
        uint32_t cert_off, cert_size;

        json_object_object_add(o, "file", json_object_new_string(path));
        json_object_object_add(o, "format", json_object_new_string(measure_pe_format_name(pe)));
        json_object_object_add(o, "machine", json_object_new_int(pe->machine));
        json_object_object_add(o, "subsystem", json_object_new_int(pe->subsystem));
        json_object_object_add(o, "image_base", json_object_new_uint64(pe->image_base));
        json_object_object_add(o, "entry_point", json_object_new_int64(pe->entry_point));
        json_object_object_add(o, "section_alignment", json_object_new_int64(pe->section_alignment));
        json_object_object_add(o, "file_alignment", json_object_new_int64(pe->file_alignment));
        json_object_object_add(o, "size_of_image", json_object_new_int64(pe->size_of_image));
        json_object_object_add(o, "size_of_headers", json_object_new_int64(pe->size_of_headers));
        json_object_object_add(o, "checksum", json_object_new_int64(pe->checksum));
        measure_pe_cert_table(pe, &cert_off, &cert_size);
        if (cert_size > 0) {
                json_object *c = json_object_new_object();
                json_object_object_add(c, "offset", json_object_new_int64(cert_off));
                json_object_object_add(c, "size", json_object_new_int64(cert_size));
                json_object_object_add(o, "certificate_table", c);
        } else
                json_object_object_add(o, "certificate_table", NULL);
        for (size_t i = 0; i < pe->n_sections; i++) {
                const measure_pe_section *s = &pe->sections[i];
                json_object *j = json_object_new_object();
                json_object_object_add(j, "index", json_object_new_int((int) i));
                json_object_object_add(j, "name", json_object_new_string(s->name));
                json_object_object_add(j, "virtual_address", json_object_new_int64(s->virtual_address));
                json_object_object_add(j, "virtual_size", json_object_new_int64(s->virtual_size));
                json_object_object_add(j, "pointer_to_raw_data", json_object_new_int64(s->pointer_to_raw_data));
                json_object_object_add(j, "size_of_raw_data", json_object_new_int64(s->size_of_raw_data));
                json_object_object_add(j, "characteristics", json_object_new_int64(s->characteristics));
                json_object_array_add(arr, j);
        }
        json_object_object_add(o, "sections", arr);
        return o;
}

/* Section names are raw bytes: print anything but printable ASCII as '?'. */
static void print_name(const char *name) {
        char buf[9];
        size_t i;
        for (i = 0; i < 8 && name[i]; i++)
                buf[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
        buf[i] = 0;
        printf("%-8s", buf);
}

static int verb_sections(int argc, char **argv) {
        pe_args a = {};
        measure_pe *pe;
        cli_file file;
        uint32_t cert_off, cert_size;
        int r;

        r = parse_args(argc, argv, false, &a);
        if (r >= 0)
                return r;
        r = cli_load_pe_alloc(a.file, &file, &pe);
        if (r != 0)
                return r;

        if (a.json) {
                json_object *o = sections_json(a.file, pe);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                measure_pe_cert_table(pe, &cert_off, &cert_size);
                printf("format %s, machine 0x%04x, subsystem %u, %u sections, SizeOfHeaders 0x%x, SizeOfImage 0x%x\n",
                       measure_pe_format_name(pe), pe->machine, pe->subsystem, pe->n_sections, pe->size_of_headers,
                       pe->size_of_image);
                if (cert_size > 0)
                        printf("certificate table at 0x%x, 0x%x bytes\n", cert_off, cert_size);
                else
                        printf("no certificate table\n");
                printf("idx name     VirtAddr   VirtSize   RawPtr     RawSize    Flags\n");
                for (size_t i = 0; i < pe->n_sections; i++) {
                        const measure_pe_section *s = &pe->sections[i];
                        printf("%3zu ", i);
                        print_name(s->name);
                        printf(" 0x%08x 0x%08x 0x%08x 0x%08x 0x%08x\n", s->virtual_address, s->virtual_size,
                               s->pointer_to_raw_data, s->size_of_raw_data, s->characteristics);
                }
        }
        cli_file_done(&file);
        free(pe);
        return LANTERN_EXIT_OK;
}

int pe_main(int argc, char **argv) {
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                pe_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? LANTERN_EXIT_INPUT : LANTERN_EXIT_OK;
        }
        if (strcmp(argv[1], "hash") == 0)
                return verb_hash(argc - 1, argv + 1);
        if (strcmp(argv[1], "sections") == 0)
                return verb_sections(argc - 1, argv + 1);
        cli_error("pe: unknown verb '%s'", argv[1]);
        pe_usage(stderr);
        return LANTERN_EXIT_INPUT;
}
