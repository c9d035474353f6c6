/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "base64.h"

#include <stdlib.h>

#include <openssl/evp.h>

char *attest_base64_encode(const uint8_t *data, size_t size) {
        char *out;
        if (size > (SIZE_MAX - 1) / 4 * 3 - 3 || size > INT32_MAX / 2)
                return NULL;
        out = malloc((size + 2) / 3 * 4 + 1);
        if (!out)
                return NULL;
        EVP_EncodeBlock((unsigned char *) out, data, (int) size);
        return out;
}
