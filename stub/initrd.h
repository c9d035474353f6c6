/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Handing the initrd to Linux (>= 5.8) the way its EFI stub asks for it: a handle with the device path
 * VenMedia(LINUX_EFI_INITRD_MEDIA_GUID)/End and an EFI_LOAD_FILE2_PROTOCOL that serves the bytes. */

#include "util.h"

/* `data` must stay valid until stub_initrd_unregister(). Refuses when another initrd is registered. */
EFI_STATUS stub_initrd_register(const void *data, size_t size, EFI_HANDLE *ret_handle);
void stub_initrd_unregister(EFI_HANDLE handle);
