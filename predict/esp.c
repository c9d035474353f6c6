/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "predict-esp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authenticode.h"
#include "pe.h"
#include "pcr.h"
#include "predict-boot.h"
#include "predict-host.h"
#include "uki.h"

/* ESP path with backslashes -> host path under esp. */
static char *esp_host_path(const char *esp, const char *efi_path) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", esp, efi_path[0] == '\\' ? efi_path + 1 : efi_path) < 0)
                return NULL;
        for (char *c = p + strlen(esp); *c; c++)
                if (*c == '\\')
                        *c = '/';
        return p;
}

static int read_file(const char *path, predict_error *err, char **ret, size_t *ret_size) {
        return predict_host_read(NULL, path, PREDICT_ESP_MAX_FILE, err, ret, ret_size);
}

static char *section_text(const measure_pe *pe, const char *data, const char *name) {
        int i = measure_pe_find_section(pe, name, MEASURE_PE_MATCH_EXACT_FIRST, 0, pe->n_sections);
        if (i < 0)
                return strdup("");
        const measure_pe_section *s = &pe->sections[i];
        uint64_t off = measure_pe_section_offset(pe, s);
        size_t n = measure_pe_section_stored(pe, s);
        return strndup(data + off, n);
}

static int authenticode(const char *what, const void *data, size_t size, const measure_alg *const *banks,
                        size_t n_banks, predict_error *err, uint8_t (*ret)[MEASURE_DIGEST_MAX]) {
        measure_pe *pe = malloc(sizeof(*pe));
        measure_pe_error perr = {};
        int r;
        if (!pe)
                return -ENOMEM;
        r = measure_pe_parse(data, size, MEASURE_PE_FILE, &perr, pe);
        if (r < 0)
                predict_error_set(err, r, "%s: offset 0x%" PRIx64 ": not a valid PE file: %s", what, perr.offset, perr.what);
        else {
                r = measure_authenticode_hash(pe, data, size, banks, n_banks, ret);
                if (r < 0)
                        predict_error_set(err, r, "%s: cannot compute the Authenticode hash: %s", what, strerror(-r));
        }
        free(pe);
        return r;
}

/* What one run remembers of the ESP's files: every file's digests come from the file cache (each file read
 * once, however many stubs name it), and a kernel's Authenticode hash is computed once per file. */
typedef struct esp_kernel {
        dev_t dev;
        ino_t ino;
        bool is_pe;
        uint8_t authenticode[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
} esp_kernel;

typedef struct esp_run {
        const char *esp;
        const measure_alg *const *banks;
        size_t n_banks;
        predict_file_cache *cache;  /* banks' digests */
        predict_file_cache *check;  /* SHA-256, to compare with the stub's; NULL when banks has sha256 */
        size_t check_bank;          /* sha256's index in the cache's banks when check is NULL */
        esp_kernel *kernels;
        size_t n_kernels;
} esp_run;

/* The Authenticode hash of the kernel file at host (known by device and inode after the first time). */
static int kernel_authenticode(esp_run *run, const predict_file_digest *d, const char *host, predict_error *err,
                               const esp_kernel **ret) {
        char *data = NULL;
        size_t size = 0;
        for (size_t i = 0; i < run->n_kernels; i++)
                if (run->kernels[i].dev == d->dev && run->kernels[i].ino == d->ino) {
                        *ret = &run->kernels[i];
                        return 0;
                }
        if (run->n_kernels == PREDICT_ESP_MAX_STUBS)
                return predict_error_set(err, -E2BIG, "%s: too many kernel files", host);
        esp_kernel *nk = realloc(run->kernels, (run->n_kernels + 1) * sizeof(*nk));
        if (!nk)
                return -ENOMEM;
        run->kernels = nk;
        esp_kernel *k = &run->kernels[run->n_kernels];
        *k = (esp_kernel) { .dev = d->dev, .ino = d->ino };
        int r = read_file(host, err, &data, &size);
        if (r < 0)
                return r;
        predict_error ignored = {};
        k->is_pe = authenticode(host, data, size, run->banks, run->n_banks, &ignored, k->authenticode) >= 0;
        free(data);
        run->n_kernels++;
        *ret = k;
        return 0;
}

/* PCR 11 as the stub measures the plan: for every measurement, the section name with its NUL, then its bytes
 * (the ESP file's digest for an external one), as measure_uki_plan_fold() does. */
static int fold(const measure_uki_plan *plan, const char *data, size_t data_size,
                const predict_file_digest *const *files, const measure_alg *const *banks, size_t n_banks,
                uint8_t (*ret)[MEASURE_DIGEST_MAX]) {
        for (size_t b = 0; b < n_banks; b++) {
                measure_bank bank;
                measure_bank_init(&bank, banks[b], 0);
                for (size_t k = 0; k < plan->n; k++) {
                        const measure_uki_measurement *m = &plan->m[k];
                        const char *name = measure_uki_sections[m->section].name;
                        uint8_t d[MEASURE_DIGEST_MAX];
                        int r = measure_bank_extend_data(&bank, MEASURE_PCR_KERNEL_IMAGE, name, strlen(name) + 1);
                        if (r < 0)
                                return r;
                        if (m->external) {
                                if (!files[k])
                                        return -ENXIO;
                                memcpy(d, files[k]->digest[b], banks[b]->size);
                        } else {
                                r = measure_uki_measurement_digests(m, data, data_size, NULL, banks[b], NULL, d);
                                if (r < 0)
                                        return r;
                        }
                        r = measure_bank_extend(&bank, MEASURE_PCR_KERNEL_IMAGE, d);
                        if (r < 0)
                                return r;
                }
                memcpy(ret[b], bank.pcr[MEASURE_PCR_KERNEL_IMAGE], banks[b]->size);
        }
        return 0;
}

static int load_stub(esp_run *run, const char *path, predict_error *err, predict_esp_stub *ret) {
        const measure_alg *const *banks = run->banks;
        size_t n_banks = run->n_banks;
        predict_esp_stub s = {};
        measure_pe *pe = malloc(sizeof(*pe));
        measure_pe_error perr = {};
        measure_uki_plan plan;
        const predict_file_digest *files[MEASURE_UKI_SECTION_MAX] = {};
        size_t data_size = 0;
        char *data = NULL;
        int r;

        if (!pe)
                return -ENOMEM;
        r = read_file(path, err, &data, &data_size);
        if (r < 0)
                goto finish;
        r = measure_pe_parse(data, data_size, MEASURE_PE_FILE, &perr, pe);
        if (r >= 0)
                r = measure_uki_plan_build(pe, data, data_size, &perr, &plan);
        if (r < 0) {
                predict_error_set(err, r, "%s: offset 0x%" PRIx64 ": %s", path, perr.offset, perr.what);
                goto finish;
        }
        if (plan.n > MEASURE_UKI_SECTION_MAX) {
                r = predict_error_set(err, -EINVAL, "%s: too many measured sections", path);
                goto finish;
        }
        s.path = strdup(path);
        s.cmdline = section_text(pe, data, ".cmdline");
        s.osrel = section_text(pe, data, ".osrel");
        if (!s.path || !s.cmdline || !s.osrel) {
                r = -ENOMEM;
                goto finish;
        }
        r = authenticode(path, data, data_size, banks, n_banks, err, s.authenticode);
        if (r < 0)
                goto finish;

        const void *kernel = NULL, *initrd = NULL;
        size_t kernel_size = 0, initrd_size = 0;
        const predict_file_digest *initrd_file = NULL;
        for (size_t i = 0; i < plan.n; i++) {
                const measure_uki_measurement *m = &plan.m[i];
                if (m->external) {
                        char efi_path[MEASURE_UKI_THIN_PATH_MAX + 1];
                        const uint8_t *sha256;
                        const predict_file_digest *check;
                        r = measure_uki_thin_file(pe, data, data_size, m, efi_path, &sha256);
                        if (r < 0) {
                                predict_error_set(err, r, "%s: section %s: not a valid ESP path", path,
                                                  measure_uki_sections[m->section].name);
                                goto finish;
                        }
                        char *host = esp_host_path(run->esp, efi_path);
                        if (!host) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        r = predict_file_cache_get(run->cache, host, err, &files[i]);
                        if (r >= 0 && run->check)
                                r = predict_file_cache_get(run->check, host, err, &check);
                        else
                                check = files[i];
                        if (r >= 0 && files[i]->size > PREDICT_ESP_MAX_FILE)
                                r = predict_error_set(err, -EFBIG, "%s: larger than the stub's limit of 1 GiB", host);
                        if (r < 0) {
                                predict_error_prefix(err, r, "%s names %s", path, efi_path);
                                free(host);
                                goto finish;
                        }
                        if (check->dev != files[i]->dev || check->ino != files[i]->ino ||
                            memcmp(check->digest[run->check ? 0 : run->check_bank], sha256, 32) != 0) {
                                r = predict_error_set(err, -EBADMSG, "%s: %s does not match the SHA-256 in the stub, "
                                                      "the stub refuses to boot it", path, host);
                                free(host);
                                goto finish;
                        }
                        if (m->section == MEASURE_UKI_LINUX) {
                                const esp_kernel *k = NULL;
                                r = kernel_authenticode(run, files[i], host, err, &k);
                                if (r < 0) {
                                        free(host);
                                        goto finish;
                                }
                                s.kernel_is_pe = k->is_pe;
                                memcpy(s.kernel_authenticode, k->authenticode, sizeof(s.kernel_authenticode));
                                s.kernel_path = host;
                        } else if (m->section == MEASURE_UKI_INITRD) {
                                initrd_file = files[i];
                                s.initrd_path = host;
                        } else
                                free(host);
                } else if (m->section == MEASURE_UKI_LINUX) {
                        kernel = data + m->offset;
                        kernel_size = m->length;
                } else if (m->section == MEASURE_UKI_INITRD) {
                        initrd = data + m->offset;
                        initrd_size = m->length;
                }
        }
        r = fold(&plan, data, data_size, files, banks, n_banks, s.pcr11);
        if (r < 0) {
                predict_error_set(err, r, "%s: cannot compute PCR 11: %s", path, strerror(-r));
                goto finish;
        }
        if (kernel) {
                predict_error ignored = {};
                s.kernel_is_pe = authenticode(path, kernel, kernel_size, banks, n_banks, &ignored,
                                              s.kernel_authenticode) >= 0;
        }
        if (initrd_file) {
                s.has_initrd = true;
                for (size_t b = 0; b < n_banks; b++)
                        memcpy(s.initrd[b], initrd_file->digest[b], banks[b]->size);
        } else if (initrd) {
                s.has_initrd = true;
                for (size_t b = 0; b < n_banks && r >= 0; b++)
                        r = measure_hash(banks[b], initrd, initrd_size, s.initrd[b]);
                if (r < 0)
                        goto finish;
        }
        *ret = s;
        memset(&s, 0, sizeof(s));
        r = 0;
finish:
        free(s.path);
        free(s.cmdline);
        free(s.osrel);
        free(s.kernel_path);
        free(s.initrd_path);
        free(data);
        free(pe);
        return r;
}

/* Appends to *paths the host paths of the ESP files the stub at path names (.linux and .initrd of a thin stub).
 * Only to hash them ahead on several threads: a stub that cannot be read or parsed names nothing here, and
 * load_stub() reports it. */
static int stub_files(const char *esp, const char *path, char ***paths, size_t *n, size_t *allocated) {
        measure_pe *pe = malloc(sizeof(*pe));
        measure_pe_error perr = {};
        predict_error ignored = {};
        measure_uki_plan plan;
        char *data = NULL;
        size_t size = 0;
        int r = 0;

        if (!pe)
                return -ENOMEM;
        if (read_file(path, &ignored, &data, &size) < 0 ||
            measure_pe_parse(data, size, MEASURE_PE_FILE, &perr, pe) < 0 ||
            measure_uki_plan_build(pe, data, size, &perr, &plan) < 0)
                goto finish;
        for (size_t i = 0; i < plan.n && i < MEASURE_UKI_SECTION_MAX && r >= 0; i++) {
                char efi_path[MEASURE_UKI_THIN_PATH_MAX + 1];
                const uint8_t *sha256;
                if (!plan.m[i].external || measure_uki_thin_file(pe, data, size, &plan.m[i], efi_path, &sha256) < 0)
                        continue;
                if (*n == *allocated) {
                        size_t na = *allocated ? *allocated * 2 : 16;
                        char **np = realloc(*paths, na * sizeof(*np));
                        if (!np) {
                                r = -ENOMEM;
                                break;
                        }
                        *paths = np;
                        *allocated = na;
                }
                (*paths)[*n] = esp_host_path(esp, efi_path);
                if (!(*paths)[*n])
                        r = -ENOMEM;
                else
                        (*n)++;
        }
finish:
        free(data);
        free(pe);
        return r;
}

/* Whether an EFI/Linux entry is a stub: a name ending in .efi, any case. */
static bool is_efi_name(const char *name) {
        size_t len = strlen(name);
        return len >= 4 && strcasecmp(name + len - 4, ".efi") == 0;
}

void predict_esp_stubs_free(predict_esp_stub *s, size_t n) {
        for (size_t i = 0; s && i < n; i++) {
                free(s[i].path);
                free(s[i].cmdline);
                free(s[i].osrel);
                free(s[i].kernel_path);
                free(s[i].initrd_path);
        }
        free(s);
}

int predict_esp_load(const char *esp, const measure_alg *const *banks, size_t n_banks, predict_file_cache *cache,
                     unsigned n_threads, predict_error *err, predict_esp_stub **ret, size_t *ret_n) {
        char **names = NULL, *dir = NULL, **files = NULL;
        size_t n_names = 0, n = 0, n_files = 0, allocated = 0;
        predict_esp_stub *stubs = NULL;
        esp_run run = { .esp = esp, .banks = banks, .n_banks = n_banks, .cache = cache };
        int r;

        const measure_alg *sha256 = measure_alg_by_name("sha256");
        const measure_alg *const *cache_banks;
        size_t n_cache_banks;
        predict_file_cache_banks(cache, &cache_banks, &n_cache_banks);
        if (n_cache_banks < n_banks)
                return -EINVAL;
        for (size_t b = 0; b < n_banks; b++)
                if (cache_banks[b] != banks[b])
                        return -EINVAL;
        run.check_bank = SIZE_MAX;
        for (size_t b = 0; b < n_cache_banks; b++)
                if (cache_banks[b] == sha256)
                        run.check_bank = b;
        if (run.check_bank == SIZE_MAX) {
                r = predict_file_cache_new(&sha256, 1, &run.check);
                if (r < 0)
                        return r;
        }

        if (asprintf(&dir, "%s/EFI/Linux", esp) < 0)
                return -ENOMEM;
        r = predict_host_list(NULL, dir, PREDICT_ESP_MAX_STUBS, err, &names, &n_names);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                free(dir);
                return 0;
        }
        if (r < 0)
                goto finish;
        stubs = calloc(n_names ? n_names : 1, sizeof(*stubs));
        if (!stubs) {
                r = -ENOMEM;
                goto finish;
        }
        /* First the kernels and initrds all stubs name, hashed at once on n_threads threads (each file once), then
         * the stubs in order, which find their files' digests in the cache. */
        for (size_t i = 0; i < n_names && n_threads > 1; i++) {
                if (!is_efi_name(names[i]))
                        continue;
                char *path = predict_path_join(dir, names[i]);
                r = path ? stub_files(esp, path, &files, &n_files, &allocated) : -ENOMEM;
                free(path);
                if (r < 0)
                        goto finish;
        }
        if (n_files > 0) {
                r = predict_file_cache_prefetch(cache, files, n_files, n_threads, NULL, NULL);
                if (r >= 0 && run.check)
                        r = predict_file_cache_prefetch(run.check, files, n_files, n_threads, NULL, NULL);
                if (r < 0)
                        goto finish;
        }
        for (size_t i = 0; i < n_names; i++) {
                if (!is_efi_name(names[i]))
                        continue;
                char *path = predict_path_join(dir, names[i]);
                if (!path) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = load_stub(&run, path, err, &stubs[n]);
                free(path);
                if (r < 0)
                        goto finish;
                n++;
        }
        *ret = stubs;
        *ret_n = n;
        stubs = NULL;
        r = 0;
finish:
        predict_esp_stubs_free(stubs, n);
        predict_strv_free(names, n_names);
        predict_strv_free(files, n_files);
        free(dir);
        free(run.kernels);
        predict_file_cache_free(run.check);
        return r;
}

int predict_esp_boot_manager(const char *esp, const char *efi_path, const measure_alg *const *banks, size_t n_banks,
                             predict_error *err, uint8_t (*ret_digests)[MEASURE_DIGEST_MAX], unsigned *ret_version) {
        char *host = esp_host_path(esp, efi_path), *data = NULL;
        measure_pe *pe = malloc(sizeof(*pe));
        measure_uki_stub stub;
        size_t size = 0;
        int r;

        if (!host || !pe) {
                r = -ENOMEM;
                goto finish;
        }
        r = read_file(host, err, &data, &size);
        if (r < 0)
                goto finish;
        r = authenticode(host, data, size, banks, n_banks, err, ret_digests);
        if (r < 0)
                goto finish;
        measure_pe_parse(data, size, MEASURE_PE_FILE, NULL, pe);
        r = measure_uki_stub_identify(pe, data, size, &stub);
        *ret_version = r >= 0 ? predict_sdboot_version(stub.ident) : 0;
        r = 0;
finish:
        free(data);
        free(pe);
        free(host);
        return r;
}
