/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `lantern install`: every kept NixOS generation (and specialisation) as a signed thin stub on the ESP.
 *
 * Layout on the ESP (paths relative to it):
 *   EFI/nixos/kernel-<version>-<sha256>.efi, EFI/nixos/initrd-<version>-<sha256>.efi   content-addressed
 *   EFI/Linux/nixos-generation-<N>[-specialisation-<S>]-<id>.efi                       one signed stub each
 *     (profiles other than "system": nixos-<profile>-generation-<N>...)
 *   EFI/systemd/systemd-bootx64.efi and EFI/BOOT/BOOTX64.EFI                            signed systemd-boot
 *   loader/loader.conf                                                                  "default <newest stub>"
 * <id> is a digest of everything the stub is built from except the kernel and initrd bytes (the stub
 * template, the signing certificate, toplevel, specialisation, command line, os-release, the kernel's and
 * initrd's store paths): store paths are immutable, so an installed stub with a valid signature whose files
 * exist is current, and a re-run reads no kernel or initrd.
 *
 * Work is split in two: install_plan_make() reads everything, builds and signs every stub in memory and
 * checks (key, stub, free space) without touching the ESP; install_plan_apply() then writes in an order
 * that keeps the ESP bootable at every step (kernels and initrds, stubs, loader.conf, systemd-boot, then
 * garbage collection), each file to a temporary name, fsynced, renamed, directory fsynced. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authenticode-sign.h"
#include "predict-error.h"

#define INSTALL_STUB_MAX (16u << 20)
#define INSTALL_STUB_MIN 4096u
#define INSTALL_PAYLOAD_MAX (UINT64_C(2) << 30) /* a kernel or initrd */
#define INSTALL_LOADER_CONF_MAX (64u << 10)
#define INSTALL_ESP_PATH_MAX 1024u /* the stub's limit for .linux/.initrd paths */

typedef struct install_options {
        const char *esp;              /* the ESP's mount point */
        const char *root;             /* NULL, or a canonical directory bootspec paths resolve under */
        char **profiles;              /* absolute (in-root) profile paths; none: the machine's default */
        size_t n_profiles;
        const char *stub;             /* lantern-stub-x64.efi */
        const char *systemd_boot;     /* systemd-bootx64.efi; NULL: do not install a boot loader */
        const char *key, *cert;       /* PEM db key and certificate */
        unsigned configuration_limit; /* newest N generations per profile; 0: all */
        int timeout;                  /* loader.conf "timeout"; < 0: leave as it is */
        const char *efivars;          /* where LoaderEntrySelected is read (the booted entry); NULL: default */
        bool verify_payloads;         /* hash installed kernels/initrds against their stubs (else: exist) */
        /* Called after every write or removal (step counts from 1); a negative return stops the run. */
        int (*after_step)(void *userdata, unsigned step, const char *path);
        void *userdata;
} install_options;

typedef enum install_action {
        INSTALL_KEEP,    /* present and current */
        INSTALL_WRITE,   /* missing or not current */
} install_action;

typedef struct install_entry {
        char *profile;          /* "system" or a system-profiles/ name */
        unsigned long generation;
        char *specialisation;   /* NULL for the generation itself */
        char *label;
        char *stub;             /* ESP path of the stub */
        char *kernel, *initrd;  /* ESP paths (initrd NULL without one); NULL when kept and unreadable */
        install_action action;
        install_signature_state signature; /* of the stub on the ESP (NONE when missing) */
        bool files_ok;          /* the installed stub's kernel and initrd exist and match .linuxh/.initrdh */
        bool present;           /* the stub file exists */
} install_entry;

typedef struct install_file {
        char *path;             /* ESP-relative */
        char *source;           /* host file to copy, or NULL */
        uint8_t *data;          /* or content in memory */
        uint64_t size;
        const char *why;
} install_file;

typedef struct install_plan {
        install_entry *entries;
        size_t n_entries;
        install_file *writes;   /* in write order */
        size_t n_writes;
        char **removals;        /* ESP-relative, garbage collection */
        size_t n_removals;
        bool gc_skipped;
        char *gc_skip_reason;
        char *default_entry;    /* file name of the newest generation's stub */
        char *booted_entry;     /* from LoaderEntrySelected, or NULL */
        uint64_t write_bytes;
        /* private */
        char **keep;
        size_t n_keep, n_keep_alloc;
        char **temps;           /* temporary files (initrds with secrets appended) removed with the plan */
        size_t n_temps;
        size_t n_writes_alloc, n_entries_alloc, n_removals_alloc;
} install_plan;

/* Reads the profiles, the ESP and the key, and builds the plan. Nothing on the ESP is changed. Errors
 * (with err filled, naming the file) are negative errnos: -ENOSPC when the ESP lacks room for the writes. */
int install_plan_make(const install_options *o, predict_error *err, install_plan **ret);

/* Carries the plan out. Returns 0 or a negative errno with err filled. */
int install_plan_apply(const install_options *o, install_plan *p, predict_error *err);

install_plan *install_plan_free(install_plan *p);
