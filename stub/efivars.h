/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The variables systemd's userspace reads from a stub (vendor 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f),
 * in systemd's encodings: UTF-16 strings with their NUL, volatile, boot and runtime access. */

#include "util.h"

/* StubFeatures bits, systemd's values (efivars-fundamental.h). The stub sets only the ones it implements. */
#define STUB_FEATURE_REPORT_BOOT_PARTITION (UINT64_C(1) << 0)  /* sets LoaderDevicePartUUID */
#define STUB_FEATURE_PICK_UP_CREDENTIALS   (UINT64_C(1) << 1)  /* not implemented */
#define STUB_FEATURE_PICK_UP_SYSEXTS       (UINT64_C(1) << 2)  /* not implemented */
#define STUB_FEATURE_THREE_PCRS            (UINT64_C(1) << 3)  /* PCR 11, 12 and 13 (sysexts): not all three */
#define STUB_FEATURE_RANDOM_SEED           (UINT64_C(1) << 4)  /* not implemented */

/* Sets a string variable; `value` is ASCII. Failures are reported and ignored (booting matters more). */
void stub_efivar_set_string(const CHAR16 *name, const char *value);
/* Sets a variable to `value` as 8 little-endian bytes (systemd's efivar_set_uint64_le). Failures are reported
 * and ignored. */
void stub_efivar_set_u64_le(const CHAR16 *name, uint64_t value);
/* Sets LoaderDevicePartUUID to the GPT partition GUID of `device` unless a boot loader already set it.
 * Does nothing when the volume is not a GPT partition. */
void stub_efivar_set_device_part_uuid(EFI_HANDLE device);
