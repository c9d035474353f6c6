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

static int load_stub(const char *esp, const char *path, const measure_alg *const *banks, size_t n_banks,
                     predict_error *err, predict_esp_stub *ret) {
        predict_esp_stub s = {};
        measure_pe *pe = malloc(sizeof(*pe));
        measure_pe_error perr = {};
        measure_uki_plan plan;
        measure_uki_external ext[MEASURE_UKI_SECTION_MAX] = {};
        char *files[MEASURE_UKI_SECTION_MAX] = {};
        size_t data_size = 0, file_sizes[MEASURE_UKI_SECTION_MAX] = {};
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
        for (size_t i = 0; i < plan.n; i++) {
                const measure_uki_measurement *m = &plan.m[i];
                const void *bytes = data + m->offset;
                size_t size = m->length;
                if (m->external) {
                        char efi_path[MEASURE_UKI_THIN_PATH_MAX + 1];
                        const uint8_t *sha256;
                        uint8_t got[MEASURE_DIGEST_MAX];
                        r = measure_uki_thin_file(pe, data, data_size, m, efi_path, &sha256);
                        if (r < 0) {
                                predict_error_set(err, r, "%s: section %s: not a valid ESP path", path,
                                                  measure_uki_sections[m->section].name);
                                goto finish;
                        }
                        char *host = esp_host_path(esp, efi_path);
                        if (!host) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        r = read_file(host, err, &files[i], &file_sizes[i]);
                        if (r < 0) {
                                predict_error_prefix(err, r, "%s names %s", path, efi_path);
                                free(host);
                                goto finish;
                        }
                        r = measure_hash(measure_alg_by_name("sha256"), files[i], file_sizes[i], got);
                        if (r >= 0 && memcmp(got, sha256, 32) != 0) {
                                r = predict_error_set(err, -EBADMSG, "%s: %s does not match the SHA-256 in the stub, "
                                                      "the stub refuses to boot it", path, host);
                                free(host);
                                goto finish;
                        }
                        if (m->section == MEASURE_UKI_LINUX)
                                s.kernel_path = host;
                        else if (m->section == MEASURE_UKI_INITRD)
                                s.initrd_path = host;
                        else
                                free(host);
                        ext[i] = (measure_uki_external) { files[i], file_sizes[i] };
                        bytes = files[i];
                        size = file_sizes[i];
                }
                if (m->section == MEASURE_UKI_LINUX) {
                        kernel = bytes;
                        kernel_size = size;
                } else if (m->section == MEASURE_UKI_INITRD) {
                        initrd = bytes;
                        initrd_size = size;
                }
        }
        r = measure_uki_plan_fold(&plan, data, data_size, ext, banks, n_banks, s.pcr11);
        if (r < 0) {
                predict_error_set(err, r, "%s: cannot compute PCR 11: %s", path, strerror(-r));
                goto finish;
        }
        if (kernel) {
                predict_error ignored = {};
                s.kernel_is_pe = authenticode(path, kernel, kernel_size, banks, n_banks, &ignored,
                                              s.kernel_authenticode) >= 0;
        }
        if (initrd) {
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
        for (size_t i = 0; i < MEASURE_UKI_SECTION_MAX; i++)
                free(files[i]);
        free(data);
        free(pe);
        return r;
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

int predict_esp_load(const char *esp, const measure_alg *const *banks, size_t n_banks, predict_error *err,
                     predict_esp_stub **ret, size_t *ret_n) {
        char **names = NULL, *dir = NULL;
        size_t n_names = 0, n = 0;
        predict_esp_stub *stubs = NULL;
        int r;

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
        for (size_t i = 0; i < n_names; i++) {
                size_t len = strlen(names[i]);
                if (len < 4 || strcasecmp(names[i] + len - 4, ".efi") != 0)
                        continue;
                char *path = predict_path_join(dir, names[i]);
                if (!path) {
                        r = -ENOMEM;
                        goto finish;
                }
                r = load_stub(esp, path, banks, n_banks, err, &stubs[n]);
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
        free(dir);
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
