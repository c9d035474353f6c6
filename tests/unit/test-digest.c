/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Digest registry and PCR bank math against published test vectors. */
#include <stdbool.h>

#include "digest.h"
#include "pcr.h"
#include "tap.h"

static bool hex_is(const uint8_t *d, size_t n, const char *want) {
        char buf[2 * MEASURE_DIGEST_MAX + 1];
        return strcmp(measure_hex(d, n, buf), want) == 0;
}

int main(void) {
        uint8_t d[MEASURE_DIGEST_MAX];
        const measure_alg *sha1 = measure_alg_by_name("sha1"), *sha256 = measure_alg_by_id(MEASURE_ALG_SHA256);

        CHECK(sha1 && sha1->size == 20 && sha1->id == 4, "sha1 registry entry");
        CHECK(sha256 && sha256->size == 32 && strcmp(sha256->name, "sha256") == 0, "sha256 registry entry");
        CHECK(measure_alg_by_name("SHA384") && measure_alg_by_name("SHA384")->size == 48, "names are case-insensitive");
        CHECK(!measure_alg_by_name("md5") && !measure_alg_by_id(0x0010), "unknown algorithms are rejected");

        /* FIPS 180-2 "abc" vectors. */
        measure_hash(sha1, "abc", 3, d);
        CHECK(hex_is(d, 20, "a9993e364706816aba3e25717850c26c9cd0d89d"), "sha1(abc)");
        measure_hash(sha256, "abc", 3, d);
        CHECK(hex_is(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256(abc)");
        measure_hash(measure_alg_by_name("sha512"), "", 0, d);
        CHECK(hex_is(d, 64,
                     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
              "sha512(empty)");

        measure_hasher *h = NULL;
        CHECK(measure_hasher_new(sha256, &h) == 0, "hasher created");
        measure_hasher_update(h, "a", 1);
        measure_hasher_update(h, "bc", 2);
        measure_hasher_final(h, d);
        CHECK(hex_is(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "incremental sha256(abc)");
        measure_hasher_update(h, "abc", 3);
        measure_hasher_final(h, d);
        CHECK(hex_is(d, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "hasher reusable after final");
        measure_hasher_free(h);

        /* Extending zero with sha256("abc"): sha256(32 zero bytes || sha256("abc")), computed independently
         * with: (head -c32 /dev/zero; printf abc | sha256sum | xxd -r -p) | sha256sum */
        measure_bank bank;
        measure_bank_init(&bank, sha256, 0);
        measure_bank_extend_data(&bank, 11, "abc", 3);
        CHECK(hex_is(bank.pcr[11], 32, "589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d"),
              "extend matches sha256(zero || sha256(abc))");
        CHECK(bank.pcr[17][0] == 0xff && bank.pcr[0][31] == 0, "DRTM PCRs start as ones, PCR 0 as zero");
        measure_bank_init(&bank, sha256, 3);
        CHECK(bank.pcr[0][31] == 3, "startup locality 3 sets PCR 0's last byte");
        CHECK(measure_bank_extend(&bank, 24, d) < 0, "PCR 24 is out of range");

        uint8_t raw[4];
        CHECK(measure_unhex("DEADbeef", raw, 4) == 0 && raw[0] == 0xde && raw[3] == 0xef, "unhex accepts both cases");
        CHECK(measure_unhex("deadbee", raw, 4) < 0 && measure_unhex("deadbeeg", raw, 4) < 0, "unhex rejects bad input");
        return tap_done();
}
