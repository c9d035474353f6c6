/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* EFI variables through efivarfs: each variable is a file <Name>-<GUID> whose content is a 4-byte attribute
 * word followed by the data. A write must hand over the whole variable in one write() call. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define INSTALL_EFIVARS_DEFAULT "/sys/firmware/efi/efivars"
#define INSTALL_EFIVAR_MAX (1u << 20)

/* Reads a variable's data (without the attribute word). -ENOENT when it does not exist. */
int install_efivar_read(const char *efivars, const char *name, const install_guid *vendor, uint32_t *ret_attrs,
                        uint8_t **ret_data, size_t *ret_len);
/* Reads a one-byte boolean variable such as SetupMode or SecureBoot: 1, 0, or -ENOENT. */
int install_efivar_read_bool(const char *efivars, const char *name, const install_guid *vendor);

/* Writes attrs + data in one write(), clearing efivarfs' immutable flag on an existing file first. */
int install_efivar_write(const char *efivars, const char *name, const install_guid *vendor, uint32_t attrs,
                         const uint8_t *data, size_t len);
