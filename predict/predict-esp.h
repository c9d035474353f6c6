/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What is installed on an ESP: the boot entries' stubs in EFI/Linux/<name>.efi (Lantern thin stubs, whose .linux
 * and .initrd name ESP files such as \EFI\nixos\initrd-....efi, or stubs with embedded payloads) and the boot
 * manager. For each stub: its .cmdline and .osrel (how a generation finds its stub), its Authenticode hash
 * (PCR 4), PCR 11 as the stub measures it (the ESP files' bytes, so an initrd with secrets appended at
 * install time is what is predicted), the kernel's Authenticode hash and the initrd's digest. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "predict-error.h"
#include "predict-filehash.h"

#define PREDICT_ESP_MAX_STUBS 4096
#define PREDICT_ESP_MAX_FILE (UINT64_C(1) << 30) /* the stub refuses larger ESP files too */

typedef struct predict_esp_stub {
        char *path;             /* host path of the stub */
        char *cmdline, *osrel;  /* section bytes up to the first NUL */
        char *kernel_path;      /* host path of the ESP kernel file (thin), NULL when embedded */
        char *initrd_path;      /* likewise for the initrd; NULL when embedded or absent */
        bool has_initrd;
        bool kernel_is_pe;
        uint8_t authenticode[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint8_t pcr11[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint8_t kernel_authenticode[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
        uint8_t initrd[PREDICT_MAX_BANKS][MEASURE_DIGEST_MAX];
} predict_esp_stub;

/* Reads every EFI/Linux/<name>.efi under the ESP directory esp (host path). A stub that cannot be read, parsed
 * or whose files are missing is an error naming it (and the offset, for a malformed PE). The ESP files the stubs
 * name are hashed through cache (its banks start with banks, in the same order; with sha256 among its banks the
 * SHA-256 checks need no second read): each is read once per run, or not at all when its digests are in the
 * cache's on-disk cache. With n_threads > 1 the files of all stubs are hashed first, on that many threads. */
int predict_esp_load(const char *esp, const measure_alg *const *banks, size_t n_banks, predict_file_cache *cache,
                     unsigned n_threads, predict_error *err, predict_esp_stub **ret, size_t *ret_n);
void predict_esp_stubs_free(predict_esp_stub *s, size_t n);

/* The boot manager file at the ESP path efi_path ("\EFI\BOOT\BOOTX64.EFI"): its Authenticode hash and its
 * systemd-boot major version (0 when its .sdmagic names none). -ENOENT when the file does not exist. */
int predict_esp_boot_manager(const char *esp, const char *efi_path, const measure_alg *const *banks, size_t n_banks,
                             predict_error *err, uint8_t (*ret_digests)[MEASURE_DIGEST_MAX], unsigned *ret_version);
