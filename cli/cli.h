/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared pieces of the `lantern` command: exit codes, file reading, bank selection, output. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "digest.h"
#include "pe.h"

/* Exit codes, the same for every command. */
enum {
        LANTERN_EXIT_OK = 0,
        LANTERN_EXIT_MISMATCH = 1, /* a check ran and failed */
        LANTERN_EXIT_INPUT = 2,    /* bad input or usage */
};

/* One noun of the command line: `lantern <noun> <verb> ...`. */
typedef struct cli_noun {
        const char *name;
        int (*main)(int argc, char **argv); /* argv[0] is the noun */
        const char *help;
} cli_noun;

int eventlog_main(int argc, char **argv);
int pcr_main(int argc, char **argv);
int pe_main(int argc, char **argv);
int uki_main(int argc, char **argv);
int predict_main(int argc, char **argv);
int keys_main(int argc, char **argv);
int install_main(int argc, char **argv);
int policy_main(int argc, char **argv);
int attest_main(int argc, char **argv);
int luks_main(int argc, char **argv);

/* Reads a whole regular file into memory, refusing files larger than max bytes. Prints the error
 * (naming the file) and returns a negative errno on failure. *ret is malloc'd; free it. */
int cli_read_file(const char *path, size_t max, uint8_t **ret, size_t *ret_size);
/* A read-only view of a whole file: memory-mapped when it is a regular file (large PE images are hashed
 * straight from the page cache, without a copy), else read into memory (sysfs, pipes). Release with
 * cli_file_done(). Prints the error naming the file on failure. */
typedef struct cli_file {
        const uint8_t *data;
        size_t size;
        void *map;      /* mmap'd region, or NULL */
        uint8_t *owned; /* malloc'd copy, or NULL */
} cli_file;
int cli_map_file(const char *path, size_t max, cli_file *ret);
void cli_file_done(cli_file *f);

/* Maps (or reads) and parses a PE file; prints the error naming the file and offset. Returns 0 or an exit
 * code; on success release *ret_file with cli_file_done(). */
int cli_load_pe(const char *path, cli_file *ret_file, measure_pe *ret_pe);
/* cli_load_pe() into a measure_pe allocated here (it is large): on success free *ret_pe. */
int cli_load_pe_alloc(const char *path, cli_file *ret_file, measure_pe **ret_pe);

/* A path made absolute against the working directory (a copy when it already is); NULL when out of memory
 * or the working directory is unknown. Free it. */
char *cli_absolute_path(const char *path);
/* The canonical path (realpath) of the argument arg of option, replacing *ret (freed) on success. Prints
 * "OPTION ARG: reason" and returns -EINVAL when arg does not resolve, leaving *ret as it was. */
int cli_realpath_option(const char *option, const char *arg, char **ret);

#define CLI_MAX_EVENTLOG (64u << 20)
#define CLI_MAX_PE (2048u << 20)

/* Parses a comma-separated bank list ("sha1,sha256") into alg pointers. Prints the error and returns -EINVAL
 * on an unknown name. */
int cli_parse_banks(const char *arg, const measure_alg **ret, size_t max, size_t *ret_n);
/* A repeatable --bank: parses arg like cli_parse_banks() and appends the banks not yet among banks[0..*n).
 * Prints the error and returns -EINVAL on a bad list or when more than max banks would result. */
int cli_append_banks(const char *arg, const measure_alg **banks, size_t max, size_t *n);
/* Parses a PCR selection "0,4,7" or "0-7,11" or "all" into a bit mask. */
int cli_parse_pcrs(const char *arg, uint32_t *ret_mask);

/* Prints "lantern: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes "<bank> <pcr> <hex>\n". */
void cli_print_pcr(FILE *f, const measure_alg *alg, unsigned pcr, const uint8_t *value);

/* True when argv[i] is --help or -h. */
bool cli_wants_help(int argc, char **argv);
