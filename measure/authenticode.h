/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The Authenticode PE image hash (Microsoft "Windows Authenticode Portable Executable Signature Format",
 * "Calculating the PE Image Hash"): what firmware extends into PCR 4 for an image it starts, what pesign -h
 * prints, and what a signature signs. Hosted only (OpenSSL digests). */

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "pe.h"

/* Hashes the PE file data[0..size), parsed as MEASURE_PE_FILE into pe, in n_algs banks at once, reading the
 * file once. ret_digests[i] receives algs[i]->size bytes. Returns 0, -EINVAL (pe not parsed from this file
 * layout), -EBADMSG (the sections and certificate table leave no consistent trailing data), -ENOTSUP (a
 * bank OpenSSL lacks) or -ENOMEM; on failure ret_digests is untouched. */
int measure_authenticode_hash(const measure_pe *pe, const void *data, size_t size, const measure_alg *const *algs,
                              size_t n_algs, uint8_t (*ret_digests)[MEASURE_DIGEST_MAX]);

/* The maximum n_algs accepted. */
#define MEASURE_AUTHENTICODE_MAX_BANKS 8
