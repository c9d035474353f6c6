/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reading whole files from the volume the stub was loaded from. */

#include "util.h"

/* The largest kernel or initrd file the stub reads (bounds the allocation). */
#define STUB_FILE_MAX (1024U * 1024U * 1024U)

/* Reads `path` (absolute, backslashes) from the SimpleFileSystem on `device` into new pool memory.
 * Refuses directories, files larger than `max` and short reads, with a message naming the file. On
 * success *ret_data is owned by the caller (stub_free). Outputs untouched on failure. */
EFI_STATUS stub_file_read(EFI_HANDLE device, const CHAR16 *path, size_t max, void **ret_data, size_t *ret_size);
