/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The freestanding SHA-256 of the stub against FIPS 180-4 vectors and OpenSSL, over every padding boundary
 * and with arbitrary update splits. */
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "sha256.h"
#include "tap.h"

static void openssl_sha256(const void *data, size_t size, uint8_t ret[32]) {
        unsigned len = 0;
        if (EVP_Digest(data, size, ret, &len, EVP_sha256(), NULL) != 1 || len != 32)
                abort();
}

static bool hex_is(const uint8_t d[32], const char *want) {
        char buf[65];
        for (size_t i = 0; i < 32; i++)
                snprintf(buf + 2 * i, 3, "%02x", d[i]);
        return strcmp(buf, want) == 0;
}

/* A deterministic byte pattern (xorshift), so failures reproduce. */
static void fill(uint8_t *p, size_t n, uint32_t seed) {
        uint32_t x = seed ? seed : 1;
        for (size_t i = 0; i < n; i++) {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5;
                p[i] = (uint8_t) x;
        }
}

int main(void) {
        uint8_t d[32], want[32];
        measure_sha256 ctx;

        measure_sha256_hash("abc", 3, d);
        CHECK(hex_is(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "FIPS 180-4 sha256(abc)");
        measure_sha256_hash("", 0, d);
        CHECK(hex_is(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256(empty)");
        const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        measure_sha256_hash(two, strlen(two), d);
        CHECK(hex_is(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "FIPS 180-4 448-bit message");

        measure_sha256_init(&ctx);
        uint8_t as[1000];
        memset(as, 'a', sizeof(as));
        for (int i = 0; i < 1000; i++)
                measure_sha256_update(&ctx, as, sizeof(as));
        measure_sha256_final(&ctx, d);
        CHECK(hex_is(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "sha256(one million 'a')");

        /* Every length around the padding boundaries (55/56/63/64 mod 64) up to four blocks. */
        uint8_t buf[4096];
        fill(buf, sizeof(buf), 0x1234567);
        bool all = true;
        for (size_t n = 0; n <= 256; n++) {
                measure_sha256_hash(buf, n, d);
                openssl_sha256(buf, n, want);
                if (memcmp(d, want, 32) != 0) {
                        printf("# length %zu differs from OpenSSL\n", n);
                        all = false;
                }
        }
        CHECK(all, "one-shot equals OpenSSL for every length 0..256");

        /* Split updates: the same message fed in chunks of every size 1..130. */
        all = true;
        openssl_sha256(buf, sizeof(buf), want);
        for (size_t chunk = 1; chunk <= 130; chunk++) {
                measure_sha256_init(&ctx);
                for (size_t off = 0; off < sizeof(buf); off += chunk)
                        measure_sha256_update(&ctx, buf + off, off + chunk <= sizeof(buf) ? chunk : sizeof(buf) - off);
                measure_sha256_final(&ctx, d);
                if (memcmp(d, want, 32) != 0) {
                        printf("# chunk size %zu differs from OpenSSL\n", chunk);
                        all = false;
                }
        }
        CHECK(all, "chunked updates (1..130 bytes) equal OpenSSL over 4096 bytes");

        /* Final re-initialises: a second message on the same context is independent of the first. */
        measure_sha256_update(&ctx, "abc", 3);
        measure_sha256_final(&ctx, d);
        CHECK(hex_is(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "context reusable after final");

        /* A few megabytes with uneven sizes, as a kernel file would be. */
        size_t big = 3 * 1024 * 1024 + 77;
        uint8_t *p = malloc(big);
        if (!p)
                return 1;
        fill(p, big, 42);
        measure_sha256_hash(p, big, d);
        openssl_sha256(p, big, want);
        CHECK_MEM(d, want, 32, "3 MiB + 77 bytes equals OpenSSL");
        free(p);

        return tap_done();
}
