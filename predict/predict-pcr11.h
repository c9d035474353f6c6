/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* PCR 11 of a boot entry under systemd-stub semantics: the value the stub leaves after measuring the UKI
 * sections, before any boot phase is extended (stock NixOS runs none). For every section in the canonical
 * order of measure/uki-sections.h that is present and not empty: extend(H(name + NUL)), then
 * extend(H(contents)). The lantern stub measures the same way (kernel and initrd by file contents). */

#include <stdbool.h>
#include <stdint.h>

#include "digest.h"
#include "predict-bootspec.h"
#include "predict-error.h"
#include "predict-filehash.h"
#include "uki-sections.h"

typedef struct predict_section {
        bool present;          /* present with at least one byte */
        const uint8_t *digest; /* H(contents) in the folded bank */
} predict_section;

/* Folds sections (indexed by measure_uki_section) into a fresh zero PCR. */
int predict_pcr11_fold(const measure_alg *alg, const predict_section sections[MEASURE_UKI_SECTION_MAX],
                       uint8_t *ret_value);

/* Everything predicted for one generation or specialisation. */
typedef struct predict_entry {
        char *kernel;         /* resolved in-root path of the kernel file */
        char *initrd;         /* resolved in-root path of the initrd file; NULL without initrd */
        char *cmdline;        /* exact .cmdline text */
        char *osrel;          /* exact .osrel text */
        const char *unpredictable; /* why PCR 11 cannot be predicted, or NULL when pcr11 is valid */
        uint8_t pcr11[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX]; /* in the banks' order */
} predict_entry;

/* Builds the entry's parts from its bootspec (paths resolved under root) and folds PCR 11 in every bank of
 * banks (the same banks, in the same order, as the cache was made with). */
int predict_entry_compute(const char *root, predict_file_cache *cache, const measure_alg *const *banks,
                          size_t n_banks, const predict_bootspec_v1 *v, const char *specialisation,
                          unsigned long generation, predict_error *err, predict_entry *ret);
void predict_entry_done(predict_entry *e);

/* The host paths of the files predict_entry_compute() reads for v (the kernel, and the initrd unless the entry
 * has initrdSecrets), for predict_file_cache_prefetch(). Paths that do not resolve are left out: compute
 * reports them. *ret_n is 0 to 2; free the strings. */
int predict_entry_files(const char *root, const predict_bootspec_v1 *v, char *ret_paths[2], size_t *ret_n);
