/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pem.h"

#include <errno.h>
#include <stdio.h>

#include <openssl/pem.h>

int install_pem_read_key(const char *path, EVP_PKEY **ret) {
        EVP_PKEY *key;
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        /* An empty passphrase instead of OpenSSL's default callback, which would ask on the terminal. */
        key = PEM_read_PrivateKey(f, NULL, NULL, (void *) "");
        fclose(f);
        if (!key)
                return -EBADMSG;
        *ret = key;
        return 0;
}

int install_pem_read_cert(const char *path, X509 **ret) {
        X509 *cert;
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        cert = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        if (!cert)
                return -EBADMSG;
        *ret = cert;
        return 0;
}
