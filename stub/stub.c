/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Lantern stub: one signed PE per generation. It finds the kernel, initrd and command line in its own
 * sections (UKI layout) or on the ESP checked against hashes in its own sections (thin layout), measures
 * them into PCR 11 and 12 exactly like systemd-stub 252, and starts the kernel. Nothing unverified boots. */

#include "efivars.h"
#include "file.h"
#include "info.h"
#include "initrd.h"
#include "linux.h"
#include "pe-memory.h"
#include "secure-boot.h"
#include "sha256.h"
#include "tpm.h"
#include "uki-sections.h"
#include "util.h"

#define PCR_KERNEL_IMAGE 11
#define PCR_KERNEL_PARAMETERS 12
#define ESP_PATH_MAX 1024

/* Our sections beyond the measured UKI ones: the thin layout's hashes. */
enum {
        SECTION_LINUX_HASH = MEASURE_UKI_SECTION_MAX,
        SECTION_INITRD_HASH,
        SECTION_MAX,
};

static EFI_HANDLE stub_image;
static EFI_LOADED_IMAGE *stub_loaded_image;

typedef struct boot {
        stub_section sections[SECTION_MAX];             /* our own PE sections, as loaded */
        stub_section payload[MEASURE_UKI_SECTION_MAX];  /* what is measured and booted, per UKI section */
        void *files[MEASURE_UKI_SECTION_MAX];           /* thin layout: file contents we own */
        CHAR16 *cmdline;
        bool cmdline_from_load_options;
        int kernel_image_measured;                      /* -1 nothing measured yet, 0 some not, 1 all */
        bool kernel_parameters_measured;
        EFI_HANDLE initrd;
} boot;

/* The UKI sections this stub measures into PCR 11: systemd-stub's canonical list from .linux to .pcrpkey
 * (the predictor uses the same rule), except .sbat (this stub's own metadata, as systemd-stub 252 does not
 * measure it either) and .pcrsig (it signs the PCR 11 value itself). */
static bool section_measured(measure_uki_section s) {
        return s <= MEASURE_UKI_PCRPKEY && s != MEASURE_UKI_SBAT && s != MEASURE_UKI_PCRSIG;
}

static EFI_STATUS locate_sections(boot *b) {
        const char *names[SECTION_MAX];

        for (size_t i = 0; i < MEASURE_UKI_SECTION_MAX; i++)
                names[i] = measure_uki_sections[i].name;
        names[SECTION_LINUX_HASH] = MEASURE_UKI_LINUX_HASH_SECTION;
        names[SECTION_INITRD_HASH] = MEASURE_UKI_INITRD_HASH_SECTION;

        EFI_STATUS err = stub_pe_locate_sections(stub_loaded_image->ImageBase, stub_loaded_image->ImageSize,
                                                 names, SECTION_MAX, b->sections);
        if (err != EFI_SUCCESS)
                return err;
        if (b->sections[MEASURE_UKI_LINUX].size == 0)
                return log_error_status(EFI_NOT_FOUND, L"No .linux section: this stub carries no kernel");
        /* An empty section counts as absent, as in systemd-stub. */
        for (size_t i = 0; i < MEASURE_UKI_SECTION_MAX; i++)
                if (b->sections[i].size > 0)
                        b->payload[i] = b->sections[i];
        return EFI_SUCCESS;
}

/* A thin stub's path section: printable ASCII (UTF-8 without multi-byte sequences), optionally
 * NUL-terminated, becomes a UTF-16 path for the file system protocol. */
static EFI_STATUS path_from_section(const char *name, const stub_section *s, CHAR16 **ret) {
        size_t n = s->size;
        CHAR16 *path;

        while (n > 0 && s->data[n - 1] == 0)
                n--;
        if (n == 0 || n > ESP_PATH_MAX)
                return log_error_status(EFI_LOAD_ERROR, L"Section %a: ESP path of %ld bytes (allowed: 1 to %d)",
                                        name, (uint64_t) n, ESP_PATH_MAX);
        for (size_t i = 0; i < n; i++)
                if (s->data[i] < 0x20 || s->data[i] > 0x7e)
                        return log_error_status(EFI_LOAD_ERROR,
                                                L"Section %a: byte 0x%02x at offset %ld is not printable ASCII",
                                                name, s->data[i], (uint64_t) i);
        path = stub_alloc((n + 1) * sizeof(CHAR16));
        if (!path)
                return log_error_status(EFI_OUT_OF_RESOURCES, L"Cannot allocate the path of %a", name);
        for (size_t i = 0; i < n; i++)
                path[i] = s->data[i];
        path[n] = 0;
        *ret = path;
        return EFI_SUCCESS;
}

/* Thin layout, one payload: read the file the path section names and refuse it unless its SHA-256 is the
 * one embedded in the (signed) stub. The file contents then replace the path as the payload. */
static EFI_STATUS load_checked_file(boot *b, measure_uki_section s, size_t hash_section) {
        const char *name = measure_uki_sections[s].name;
        const stub_section *hash = &b->sections[hash_section];
        uint8_t digest[MEASURE_SHA256_SIZE];
        CHAR16 *path = NULL;
        void *data = NULL;
        size_t size = 0;
        EFI_STATUS err;

        if (hash->size != MEASURE_SHA256_SIZE)
                return log_error_status(EFI_LOAD_ERROR, L"Section %a has %ld bytes, want a %d-byte SHA-256",
                                        hash_section == SECTION_LINUX_HASH ? MEASURE_UKI_LINUX_HASH_SECTION
                                                                           : MEASURE_UKI_INITRD_HASH_SECTION,
                                        (uint64_t) hash->size, MEASURE_SHA256_SIZE);
        if (b->sections[s].size == 0)
                return log_error_status(EFI_NOT_FOUND, L"Section %a (the ESP path its hash belongs to) is missing",
                                        name);

        err = path_from_section(name, &b->sections[s], &path);
        if (err != EFI_SUCCESS)
                return err;
        err = stub_file_read(stub_loaded_image->DeviceHandle, path, STUB_FILE_MAX, &data, &size);
        if (err != EFI_SUCCESS)
                goto finish;
        measure_sha256_hash(data, size, digest);
        if (CompareMem(digest, (void *) hash->data, MEASURE_SHA256_SIZE) != 0) {
                err = log_error_status(EFI_SECURITY_VIOLATION,
                                       L"%s does not match the SHA-256 in the stub's %a section, refusing to boot",
                                       path, hash_section == SECTION_LINUX_HASH ? MEASURE_UKI_LINUX_HASH_SECTION
                                                                                : MEASURE_UKI_INITRD_HASH_SECTION);
                goto finish;
        }

        b->files[s] = data;
        b->payload[s] = (stub_section) { .data = data, .size = size };
        data = NULL;
finish:
        stub_free(data);
        stub_free(path);
        return err;
}

static EFI_STATUS load_payloads(boot *b) {
        EFI_STATUS err;

        if (b->sections[SECTION_LINUX_HASH].data) {
                err = load_checked_file(b, MEASURE_UKI_LINUX, SECTION_LINUX_HASH);
                if (err != EFI_SUCCESS)
                        return err;
        }
        if (b->sections[SECTION_INITRD_HASH].data) {
                err = load_checked_file(b, MEASURE_UKI_INITRD, SECTION_INITRD_HASH);
                if (err != EFI_SUCCESS)
                        return err;
        }
        return EFI_SUCCESS;
}

/* systemd-stub 252's rule: the embedded .cmdline wins under Secure Boot (LoadOptions could be anything);
 * otherwise LoadOptions, if they look like text, replace it. */
static EFI_STATUS choose_cmdline(boot *b) {
        const stub_section *embedded = &b->sections[MEASURE_UKI_CMDLINE];
        const CHAR16 *options = stub_loaded_image->LoadOptions;
        size_t n_options = stub_loaded_image->LoadOptionsSize / sizeof(CHAR16), n = 0;

        if ((!stub_secure_boot_enabled() || embedded->size == 0) && options && n_options > 0 && options[0] > 0x1f) {
                while (n < n_options && options[n])
                        n++;
                b->cmdline = stub_alloc((n + 1) * sizeof(CHAR16));
                if (!b->cmdline)
                        return log_error_status(EFI_OUT_OF_RESOURCES, L"Cannot allocate the command line");
                CopyMem(b->cmdline, (void *) options, n * sizeof(CHAR16));
                b->cmdline[n] = 0;
                b->cmdline_from_load_options = true;
                return EFI_SUCCESS;
        }

        if (embedded->size == 0)
                return EFI_SUCCESS;
        while (n < embedded->size && embedded->data[n])
                n++;
        b->cmdline = stub_alloc((n + 1) * sizeof(CHAR16));
        if (!b->cmdline)
                return log_error_status(EFI_OUT_OF_RESOURCES, L"Cannot allocate the command line");
        for (size_t i = 0; i < n; i++)
                b->cmdline[i] = embedded->data[i];
        b->cmdline[n] = 0;
        return EFI_SUCCESS;
}

static void measured_combine(int *total, bool m) {
        *total = *total < 0 ? m : (*total && m);
}

/* PCR 11, in the canonical order of uki-sections.h: the section name with its NUL, then the payload. */
static EFI_STATUS measure_sections(boot *b) {
        for (measure_uki_section s = 0; s < MEASURE_UKI_SECTION_MAX; s++) {
                const char *name = measure_uki_sections[s].name;
                CHAR16 *description;
                bool m1 = false, m2 = false;
                EFI_STATUS err;

                if (!section_measured(s) || !b->payload[s].data)
                        continue;
                description = stub_ascii_to_utf16(name);
                if (!description)
                        return log_error_status(EFI_OUT_OF_RESOURCES, L"Cannot allocate an event description");
                err = stub_tpm_log_event(PCR_KERNEL_IMAGE, name, stub_strlen8(name) + 1, description, &m1);
                if (err == EFI_SUCCESS)
                        err = stub_tpm_log_event(PCR_KERNEL_IMAGE, b->payload[s].data, b->payload[s].size,
                                                 description, &m2);
                stub_free(description);
                if (err != EFI_SUCCESS)
                        return err;
                measured_combine(&b->kernel_image_measured, m1 && m2);
        }
        return EFI_SUCCESS;
}

/* PCR 12: a command line that came from outside the signed stub (LoadOptions), as UTF-16 with its NUL. */
static EFI_STATUS measure_cmdline(boot *b) {
        if (!b->cmdline_from_load_options)
                return EFI_SUCCESS;
        return stub_tpm_log_event(PCR_KERNEL_PARAMETERS, b->cmdline, stub_strsize16(b->cmdline), b->cmdline,
                                  &b->kernel_parameters_measured);
}

/* What this stub does of what systemd-stub can do: it reports the boot partition, and nothing else of the
 * list. THREE_PCRS is not claimed: it promises PCR 13 for system extensions, which this stub never picks up. */
#define STUB_FEATURES STUB_FEATURE_REPORT_BOOT_PARTITION

/* Tells userspace (systemd-pcrphase, systemd-cryptenroll, lantern) which stub ran and what it measured. */
static void export_variables(boot *b) {
        stub_efivar_set_device_part_uuid(stub_loaded_image->DeviceHandle);
        stub_efivar_set_string(L"StubInfo", stub_info);
        stub_efivar_set_u64_le(L"StubFeatures", STUB_FEATURES);
        if (b->kernel_image_measured > 0)
                stub_efivar_set_string(L"StubPcrKernelImage", "11");
        if (b->kernel_parameters_measured)
                stub_efivar_set_string(L"StubPcrKernelParameters", "12");
}

static EFI_STATUS hand_over_initrd(boot *b) {
        if (!b->payload[MEASURE_UKI_INITRD].data)
                return EFI_SUCCESS;
        return stub_initrd_register(b->payload[MEASURE_UKI_INITRD].data, b->payload[MEASURE_UKI_INITRD].size,
                                    &b->initrd);
}

static void boot_done(boot *b) {
        stub_initrd_unregister(b->initrd);
        for (size_t i = 0; i < MEASURE_UKI_SECTION_MAX; i++)
                stub_free(b->files[i]);
        stub_free(b->cmdline);
}

static EFI_STATUS run(void) {
        boot b = { .kernel_image_measured = -1 };
        EFI_STATUS err;

        /* Our own sections, as the firmware loaded (and, under Secure Boot, verified) them. */
        err = locate_sections(&b);
        if (err != EFI_SUCCESS)
                goto finish;
        /* Thin layout: kernel and initrd from the ESP, accepted only with the embedded SHA-256. */
        err = load_payloads(&b);
        if (err != EFI_SUCCESS)
                goto finish;
        /* The command line: embedded, or LoadOptions when Secure Boot does not forbid them. */
        err = choose_cmdline(&b);
        if (err != EFI_SUCCESS)
                goto finish;
        /* No TPM is a state, not an error: boot anyway, and say so once. */
        if (!stub_tpm_present())
                log_info(L"No TPM 2.0 found: booting without measurements.");
        /* PCR 11: what this stub is (kernel, osrel, cmdline, initrd, ...), predictable before boot. */
        err = measure_sections(&b);
        if (err != EFI_SUCCESS)
                goto finish;
        /* PCR 12: what someone passed at boot, which the signed stub does not vouch for. */
        err = measure_cmdline(&b);
        if (err != EFI_SUCCESS)
                goto finish;
        /* The variables say what was measured, so only now. */
        export_variables(&b);
        /* Linux fetches its initrd through LoadFile2 while it starts. */
        err = hand_over_initrd(&b);
        if (err != EFI_SUCCESS)
                goto finish;
        /* Only returns on failure. */
        err = stub_linux_exec(stub_image, b.cmdline, b.payload[MEASURE_UKI_LINUX].data,
                              b.payload[MEASURE_UKI_LINUX].size);
finish:
        boot_done(&b);
        return err;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table) {
        EFI_STATUS err;

        InitializeLib(image, system_table);
        stub_image = image;
        err = BS->HandleProtocol(image, &LoadedImageProtocol, (void **) &stub_loaded_image);
        if (err != EFI_SUCCESS)
                return log_error_status(err, L"Cannot get the stub's own loaded image protocol");

        err = run();
        /* Leave the message on screen before the firmware moves on to the next boot option. */
        BS->Stall(3 * 1000 * 1000);
        return err;
}
