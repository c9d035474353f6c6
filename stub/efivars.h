/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The variables systemd's userspace reads from a stub (vendor 4a67b082-0a4c-41cf-b6c7-440b29bb8c4f),
 * in systemd's encodings: UTF-16 strings with their NUL, volatile, boot and runtime access. */

#include "util.h"

/* Sets a string variable; `value` is ASCII. Failures are reported and ignored (booting matters more). */
void stub_efivar_set_string(const CHAR16 *name, const char *value);
/* Sets LoaderDevicePartUUID to the GPT partition GUID of `device` unless a boot loader already set it.
 * Does nothing when the volume is not a GPT partition. */
void stub_efivar_set_device_part_uuid(EFI_HANDLE device);
