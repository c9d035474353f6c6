/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "digest.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

static const measure_alg algs[] = {
        { MEASURE_ALG_SHA1, "sha1", 20 },
        { MEASURE_ALG_SHA256, "sha256", 32 },
        { MEASURE_ALG_SHA384, "sha384", 48 },
        { MEASURE_ALG_SHA512, "sha512", 64 },
        { MEASURE_ALG_SM3_256, "sm3_256", 32 },
};
#define N_ALGS (sizeof(algs) / sizeof(algs[0]))

/* OpenSSL names, index-aligned with algs[]. */
static const char *const evp_names[N_ALGS] = { "SHA1", "SHA256", "SHA384", "SHA512", "SM3" };

const uint16_t measure_default_banks[MEASURE_DEFAULT_BANKS_N] = {
        MEASURE_ALG_SHA1, MEASURE_ALG_SHA256, MEASURE_ALG_SHA384, MEASURE_ALG_SHA512,
};

/* Fetched once, shared read-only by every thread afterwards. */
static EVP_MD *evp_mds[N_ALGS];
static pthread_once_t evp_once = PTHREAD_ONCE_INIT;

static void evp_fetch_all(void) {
        for (size_t i = 0; i < N_ALGS; i++)
                evp_mds[i] = EVP_MD_fetch(NULL, evp_names[i], NULL); /* NULL when unsupported */
}

static const EVP_MD *evp_for(const measure_alg *alg) {
        if (!alg || alg < algs || alg >= algs + N_ALGS)
                return NULL;
        pthread_once(&evp_once, evp_fetch_all);
        return evp_mds[alg - algs];
}

const measure_alg *measure_alg_list(size_t *ret_n) {
        if (ret_n)
                *ret_n = N_ALGS;
        return algs;
}

const measure_alg *measure_alg_by_id(uint16_t id) {
        for (size_t i = 0; i < N_ALGS; i++)
                if (algs[i].id == id)
                        return &algs[i];
        return NULL;
}

const measure_alg *measure_alg_by_name(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < N_ALGS; i++)
                if (strcasecmp(algs[i].name, name) == 0)
                        return &algs[i];
        if (strcasecmp(name, "sm3") == 0)
                return measure_alg_by_id(MEASURE_ALG_SM3_256);
        return NULL;
}

bool measure_alg_available(const measure_alg *alg) {
        return evp_for(alg) != NULL;
}

struct measure_hasher {
        const measure_alg *alg;
        const EVP_MD *md;
        EVP_MD_CTX *ctx;
};

int measure_hasher_new(const measure_alg *alg, measure_hasher **ret) {
        const EVP_MD *md = evp_for(alg);
        if (!md)
                return -ENOTSUP;
        measure_hasher *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->alg = alg;
        h->md = md;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
                measure_hasher_free(h);
                return -ENOMEM;
        }
        *ret = h;
        return 0;
}

int measure_hasher_update(measure_hasher *h, const void *data, size_t len) {
        if (len > 0 && EVP_DigestUpdate(h->ctx, data, len) != 1)
                return -EIO;
        return 0;
}

int measure_hasher_final(measure_hasher *h, uint8_t *ret_digest) {
        unsigned n = 0;
        if (EVP_DigestFinal_ex(h->ctx, ret_digest, &n) != 1 || n != h->alg->size)
                return -EIO;
        if (EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1)
                return -EIO;
        return 0;
}

measure_hasher *measure_hasher_free(measure_hasher *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

int measure_hash(const measure_alg *alg, const void *data, size_t len, uint8_t *ret_digest) {
        const EVP_MD *md = evp_for(alg);
        unsigned n = 0;
        if (!md)
                return -ENOTSUP;
        if (EVP_Digest(len ? data : "", len, ret_digest, &n, md, NULL) != 1 || n != alg->size)
                return -EIO;
        return 0;
}

char *measure_hex(const uint8_t *data, size_t len, char *buf) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < len; i++) {
                buf[2 * i] = digits[data[i] >> 4];
                buf[2 * i + 1] = digits[data[i] & 15];
        }
        buf[2 * len] = 0;
        return buf;
}

static int unhex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int measure_unhex(const char *hex, uint8_t *ret, size_t len) {
        if (!hex || strlen(hex) != 2 * len)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                int hi = unhex_digit(hex[2 * i]), lo = unhex_digit(hex[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                ret[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}
