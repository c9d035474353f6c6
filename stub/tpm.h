/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Measuring into the TPM through the firmware's EFI_TCG2_PROTOCOL: the firmware hashes the data in every
 * active PCR bank, extends the PCR and appends the event to the TCG log. */

#include "util.h"

#define STUB_EV_IPL 0x0000000dU

/* Whether the firmware offers a TCG2 protocol with a TPM present. Looked up once. */
bool stub_tpm_present(void);

/* Extends `pcr` with the digest of [data, data + size) as an EV_IPL event whose event data is
 * `description` as UTF-16LE including its NUL (systemd-stub's encoding). Without a TPM this is no error:
 * returns EFI_SUCCESS with *ret_measured = false. */
EFI_STATUS stub_tpm_log_event(uint32_t pcr, const void *data, size_t size, const CHAR16 *description,
                              bool *ret_measured);
