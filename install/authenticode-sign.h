/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Authenticode signing of PE images (Microsoft "Windows Authenticode Portable Executable Signature
 * Format"), done with OpenSSL: a PKCS#7 SignedData whose content is an SpcIndirectDataContent carrying the
 * SHA-256 Authenticode hash of measure/authenticode.h, signed with a key and certificate (the db key
 * firmware trusts), wrapped in a WIN_CERTIFICATE (revision 2.0, PKCS_SIGNED_DATA) and appended at an
 * 8-byte aligned end of the file; the certificate-table directory entry points at it and the CheckSum is
 * recomputed. And the check of such a signature against one trusted certificate. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pe.h"

/* Signs the PE file data[0..size) (an existing signature is replaced). Returns 0, -EBADMSG (not a
 * well-formed PE; *error says where), -EIO (OpenSSL refused: key and certificate do not match, ...) or
 * -ENOMEM. *ret is malloc'd. */
int install_authenticode_sign(const void *data, size_t size, EVP_PKEY *key, X509 *cert, measure_pe_error *error,
                              uint8_t **ret, size_t *ret_size);

typedef enum install_signature_state {
        INSTALL_SIGNATURE_VALID,     /* signed by cert, over this file's Authenticode hash */
        INSTALL_SIGNATURE_NONE,      /* no certificate table */
        INSTALL_SIGNATURE_OTHER,     /* a well-formed signature, but not by cert */
        INSTALL_SIGNATURE_BAD,       /* malformed, or the signed hash is not this file's */
} install_signature_state;

/* Checks the first signature of the PE file data[0..size): that its SpcIndirectDataContent digest is the
 * file's Authenticode hash (in the digest algorithm it names) and that it is signed by cert (the signer
 * certificate equals cert, and the signature over the authenticated attributes verifies with cert's key,
 * and the messageDigest attribute matches). Returns 0 and the state, or -EBADMSG for a file that is not a
 * PE at all, -ENOMEM. */
int install_authenticode_check(const void *data, size_t size, X509 *cert, install_signature_state *ret);

const char *install_signature_state_name(install_signature_state s);
