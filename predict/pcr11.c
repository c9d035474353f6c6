/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-pcr11.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pcr.h"
#include "uki.h"
#include "predict-cmdline.h"
#include "predict-host.h"

int predict_pcr11_fold(const measure_alg *alg, const predict_section sections[MEASURE_UKI_SECTION_MAX],
                       uint8_t *ret_value) {
        measure_bank bank;
        int r;

        /* Which sections count is measure/'s rule for the lantern stub, the one the stub itself follows. */
        static const measure_uki_stub lantern = {
                .kind = MEASURE_UKI_STUB_LANTERN,
                .rules = MEASURE_UKI_LANTERN_RULES,
        };

        measure_bank_init(&bank, alg, 0);
        for (unsigned s = 0; s < MEASURE_UKI_SECTION_MAX; s++) {
                if (!sections[s].present || !measure_uki_stub_measures(&lantern, (measure_uki_section) s))
                        continue;
                const char *name = measure_uki_sections[s].name;
                r = measure_bank_extend_data(&bank, MEASURE_PCR_KERNEL_IMAGE, name, strlen(name) + 1);
                if (r < 0)
                        return r;
                r = measure_bank_extend(&bank, MEASURE_PCR_KERNEL_IMAGE, sections[s].digest);
                if (r < 0)
                        return r;
        }
        memcpy(ret_value, bank.pcr[MEASURE_PCR_KERNEL_IMAGE], alg->size);
        return 0;
}

void predict_entry_done(predict_entry *e) {
        if (!e)
                return;
        free(e->kernel);
        free(e->initrd);
        free(e->cmdline);
        free(e->osrel);
        memset(e, 0, sizeof(*e));
}

/* Resolves a bootspec path under root and hashes the file it names. */
static int hash_file(const char *root, predict_file_cache *cache, const char *what, const char *path,
                     predict_error *err, char **ret_resolved, const predict_file_digest **ret) {
        char *resolved = NULL, *host = NULL;
        int r = predict_host_chase(root, path, err, &resolved);
        if (r < 0)
                return predict_error_prefix(err, r, "%s", what);
        host = predict_host_path(root, resolved);
        if (!host) {
                free(resolved);
                return -ENOMEM;
        }
        r = predict_file_cache_get(cache, host, err, ret);
        free(host);
        if (r < 0) {
                free(resolved);
                return predict_error_prefix(err, r, "%s", what);
        }
        *ret_resolved = resolved;
        return 0;
}

int predict_entry_files(const char *root, const predict_bootspec_v1 *v, char *ret_paths[2], size_t *ret_n) {
        const char *want[2] = { v->kernel, v->initrd_secrets ? NULL : v->initrd };
        size_t n = 0;
        for (size_t i = 0; i < 2; i++) {
                char *resolved = NULL;
                if (!want[i] || predict_host_chase(root, want[i], NULL, &resolved) < 0)
                        continue;
                ret_paths[n] = predict_host_path(root, resolved);
                free(resolved);
                if (!ret_paths[n]) {
                        for (size_t k = 0; k < n; k++)
                                free(ret_paths[k]);
                        return -ENOMEM;
                }
                n++;
        }
        *ret_n = n;
        return 0;
}

int predict_entry_compute(const char *root, predict_file_cache *cache, const measure_alg *const *banks,
                          size_t n_banks, const predict_bootspec_v1 *v, const char *specialisation,
                          unsigned long generation, predict_error *err, predict_entry *ret) {
        predict_entry e = {};
        const predict_file_digest *kernel = NULL, *initrd = NULL;
        int r;

        if (n_banks > PREDICT_MAX_BANKS)
                return -EINVAL;
        r = predict_cmdline(v, &e.cmdline);
        if (r < 0)
                goto fail;
        r = predict_osrel_load(root, v, specialisation, generation, err, &e.osrel);
        if (r < 0)
                goto fail;
        r = hash_file(root, cache, "kernel", v->kernel, err, &e.kernel, &kernel);
        if (r < 0)
                goto fail;
        if (v->initrd_secrets) {
                /* The booted initrd is the store initrd with a cpio of secrets appended at install time,
                 * from files outside the store: its bytes are not knowable from the store alone. */
                e.unpredictable = "initrdSecrets: the booted initrd is the store initrd with secrets appended "
                                  "at install time, not predictable from the store alone";
                if (v->initrd) {
                        r = predict_host_chase(root, v->initrd, err, &e.initrd);
                        if (r < 0) {
                                predict_error_prefix(err, r, "initrd");
                                goto fail;
                        }
                }
                *ret = e;
                return 0;
        }
        if (v->initrd) {
                r = hash_file(root, cache, "initrd", v->initrd, err, &e.initrd, &initrd);
                if (r < 0)
                        goto fail;
        }

        for (size_t b = 0; b < n_banks; b++) {
                uint8_t osrel_d[MEASURE_DIGEST_MAX], cmdline_d[MEASURE_DIGEST_MAX];
                predict_section sections[MEASURE_UKI_SECTION_MAX] = {};
                size_t osrel_len = strlen(e.osrel), cmdline_len = strlen(e.cmdline);

                r = measure_hash(banks[b], e.osrel, osrel_len, osrel_d);
                if (r >= 0)
                        r = measure_hash(banks[b], e.cmdline, cmdline_len, cmdline_d);
                if (r < 0) {
                        predict_error_set(err, r, "cannot hash in bank %s", banks[b]->name);
                        goto fail;
                }
                sections[MEASURE_UKI_LINUX] = (predict_section) { kernel->size > 0, kernel->digest[b] };
                sections[MEASURE_UKI_OSREL] = (predict_section) { osrel_len > 0, osrel_d };
                sections[MEASURE_UKI_CMDLINE] = (predict_section) { cmdline_len > 0, cmdline_d };
                if (initrd)
                        sections[MEASURE_UKI_INITRD] = (predict_section) { initrd->size > 0, initrd->digest[b] };
                r = predict_pcr11_fold(banks[b], sections, e.pcr11[b]);
                if (r < 0) {
                        predict_error_set(err, r, "cannot fold PCR 11 in bank %s", banks[b]->name);
                        goto fail;
                }
        }
        *ret = e;
        return 0;
fail:
        predict_entry_done(&e);
        return r;
}
