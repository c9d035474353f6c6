/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Secure Boot state, and the temporary override that lets LoadImage() accept the one kernel buffer the stub
 * has itself verified (it is covered by the stub's own signature, or by a hash inside it). */

#include "util.h"

bool stub_secure_boot_enabled(void);

/* Until stub_security_override_uninstall(), the firmware's Security2 (and Security) arch protocol hooks
 * answer "allowed" for exactly the image `buffer`/`size` loaded from `device_path`, and defer to the
 * original hooks for anything else. */
EFI_STATUS stub_security_override_install(const EFI_DEVICE_PATH *device_path, const void *buffer, size_t size);
void stub_security_override_uninstall(void);
