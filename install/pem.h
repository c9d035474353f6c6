/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The signing key and certificate of `lantern install` as PEM files. The private key is read with an empty
 * passphrase: an encrypted key is refused, never prompted for. Nothing is printed; the caller names the file. */

#include <openssl/evp.h>
#include <openssl/x509.h>

/* 0 with *ret (EVP_PKEY_free it); -errno when the file cannot be opened; -EBADMSG when it holds no
 * unencrypted PEM private key. */
int install_pem_read_key(const char *path, EVP_PKEY **ret);

/* 0 with *ret (X509_free it); -errno when the file cannot be opened; -EBADMSG when it holds no PEM
 * certificate. */
int install_pem_read_cert(const char *path, X509 **ret);
