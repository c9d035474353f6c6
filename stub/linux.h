/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Starting the Linux kernel (an EFI-stub PE image) from a verified memory buffer. */

#include "util.h"

/* LoadImage() on the buffer (under Secure Boot through the override in secure-boot.h, which accepts
 * exactly this buffer), sets LoadOptions to `cmdline` (UTF-16 with NUL; NULL for none), StartImage().
 * Returns only if the kernel fails to load or returns. */
EFI_STATUS stub_linux_exec(EFI_HANDLE parent, const CHAR16 *cmdline, const void *kernel, size_t kernel_size);
