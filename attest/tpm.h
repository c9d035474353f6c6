/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The TPM context, through tpm2-tss ESAPI. The TCTI is chosen like tpm2-tools: the conf string given
 * (--tcti), else $TPM2TOOLS_TCTI, else tctildr's default. Errors are returned as a negative errno with a
 * human-readable message in errbuf ("Esys_PCR_Read(0x...) - <Tss2_RC_Decode>"); nothing is printed. */

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "pcr.h"

typedef struct attest_tpm attest_tpm;

int attest_tpm_open(const char *tcti_conf, attest_tpm **ret, char *errbuf, size_t errlen);
attest_tpm *attest_tpm_free(attest_tpm *tpm);

/* Banks (PCR allocations) the TPM has active, in the registry's order. */
int attest_tpm_active_banks(attest_tpm *tpm, const measure_alg **ret, size_t max, size_t *ret_n, char *errbuf,
                            size_t errlen);

/* Reads the PCRs in mask from one bank into values[i] (alg->size bytes each). *ret_read_mask says which
 * were returned (a PCR of an inactive bank is not). */
int attest_tpm_pcr_read(attest_tpm *tpm, const measure_alg *alg, uint32_t mask,
                        uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX], uint32_t *ret_read_mask,
                        char *errbuf, size_t errlen);

/* The ESAPI context, for attest/ code that issues further TPM commands. Owned by tpm. */
struct ESYS_CONTEXT;
struct ESYS_CONTEXT *attest_tpm_esys(attest_tpm *tpm);

/* The error text of attest/: formatted into errbuf when there is one (errbuf may be NULL or errlen 0). */
void attest_set_error(char *errbuf, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "Esys_X(0x...) - <decoded>", the tpm2-tools LOG_PERR shape, into errbuf; returns r. */
int attest_tss_error(char *errbuf, size_t errlen, const char *call, uint32_t rc, int r);
