/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCR 4, 7, 9 and 12 of a systemd-boot 252 boot, predicted from the firmware part of the captured log and the
 * parts' digests, against the PCRs read in the guest (tests/fixtures/boot/sd252-sdboot-*: pcrs.txt, and
 * info.txt's pesign/sha256sum digests of the boot manager, UKI, kernel and initrd). The UKI there is
 * systemd-stub 252's, whose PCR 4/9/12 behaviour the Lantern stub shares. Also the LoadOptions conversions. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "predict-boot.h"
#include "predict-firmware.h"
#include "predict-loadoptions.h"
#include "tap.h"

static char *slurp(const char *path, size_t *ret_size) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t n = 0;
        if (!f)
                return NULL;
        buf = malloc(1 << 20);
        if (buf) {
                n = fread(buf, 1, (1 << 20) - 1, f);
                buf[n] = 0;
        }
        fclose(f);
        if (ret_size)
                *ret_size = n;
        return buf;
}

/* "<key>: <hex>" from info.txt, or "<bank> <pcr> <hex>" from pcrs.txt. */
static bool lookup(const char *text, const char *key, char *ret, size_t max) {
        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t) (nl - p) : strlen(p), klen = strlen(key);
                if (len > klen && strncmp(p, key, klen) == 0 && len - klen < max) {
                        memcpy(ret, p + klen, len - klen);
                        ret[len - klen] = 0;
                        return true;
                }
                p = nl ? nl + 1 : NULL;
        }
        return false;
}

static bool pcr_is(const char *pcrs, const measure_alg *alg, unsigned pcr, const uint8_t *value) {
        char key[32], want[160], hex[2 * MEASURE_DIGEST_MAX + 1];
        snprintf(key, sizeof(key), "%s %u ", alg->name, pcr);
        return lookup(pcrs, key, want, sizeof(want)) && strcmp(want, measure_hex(value, alg->size, hex)) == 0;
}

static void digest_from_info(const char *info, const char *key, uint8_t *ret) {
        char hex[160] = "";
        lookup(info, key, hex, sizeof(hex));
        measure_unhex(hex, ret, 32);
}

static void fixture(const char *top, const char *name, bool sb) {
        char path[4096];
        size_t log_size = 0;
        const measure_alg *banks[4] = { measure_alg_by_name("sha1"), measure_alg_by_name("sha256"),
                                        measure_alg_by_name("sha384"), measure_alg_by_name("sha512") };
        predict_firmware fw;
        predict_error err = {};

        snprintf(path, sizeof(path), "%s/boot/%s/eventlog.bin", top, name);
        char *log = slurp(path, &log_size);
        snprintf(path, sizeof(path), "%s/boot/%s/pcrs.txt", top, name);
        char *pcrs = slurp(path, NULL);
        snprintf(path, sizeof(path), "%s/boot/%s/info.txt", top, name);
        char *info = slurp(path, NULL);
        snprintf(path, sizeof(path), "%s/boot/%s/cmdline", top, name);
        size_t cmdline_size = 0;
        char *cmdline = slurp(path, &cmdline_size);
        CHECK(log && pcrs && info && cmdline, "%s: fixture files read", name);
        if (!log || !pcrs || !info || !cmdline)
                goto finish;

        int r = predict_firmware_from_log((const uint8_t *) log, log_size, name, banks, 4, &err, &fw);
        CHECK(r == 0, "%s: firmware part read (%s)", name, err.message);
        CHECK(fw.secure_boot == sb, "%s: Secure Boot %s", name, sb ? "on" : "off");
        CHECK(strcmp(fw.boot_manager_path, "\\EFI\\BOOT\\BOOTX64.EFI") == 0, "%s: boot manager path %s", name,
              fw.boot_manager_path);

        /* sha256 digests from info.txt (pesign -h, sha256sum); the other banks carry no outside digest. */
        uint8_t uki[4][MEASURE_DIGEST_MAX] = {}, kernel[4][MEASURE_DIGEST_MAX] = {}, initrd[4][MEASURE_DIGEST_MAX] = {};
        digest_from_info(info, "uki-authenticode-sha256: ", uki[1]);
        digest_from_info(info, "kernel-authenticode-sha256: ", kernel[1]);
        digest_from_info(info, "initrd-sha256: ", initrd[1]);
        predict_boot_inputs in = {
                .firmware = &fw,
                .sdboot_version = 252,
                .stub = (const uint8_t (*)[MEASURE_DIGEST_MAX]) uki,
                .kernel = (const uint8_t (*)[MEASURE_DIGEST_MAX]) kernel,
                .initrd = (const uint8_t (*)[MEASURE_DIGEST_MAX]) initrd,
                .cmdline = cmdline,
                .cmdline_size = cmdline_size,
        };
        predict_boot_pcrs p;
        CHECK(predict_boot_compute(&in, banks, 4, &p) == 0, "%s: computed", name);
        CHECK(!p.pcr4_unknown, "%s: PCR 4 predicted", name);
        CHECK(pcr_is(pcrs, banks[1], 4, p.pcr4[1]), "%s: sha256 PCR 4 = guest", name);
        CHECK(pcr_is(pcrs, banks[1], 9, p.pcr9[1]), "%s: sha256 PCR 9 = guest", name);
        for (size_t b = 0; b < 4; b++) {
                CHECK(pcr_is(pcrs, banks[b], 7, p.pcr7[b]), "%s: %s PCR 7 = guest", name, banks[b]->name);
                CHECK(pcr_is(pcrs, banks[b], 12, p.pcr12[b]), "%s: %s PCR 12 = guest", name, banks[b]->name);
        }

        /* systemd-boot 255: no options passed, nothing in PCR 12. */
        in.sdboot_version = 255;
        uint8_t zero[MEASURE_DIGEST_MAX] = {};
        CHECK(predict_boot_compute(&in, banks, 4, &p) == 0 && memcmp(p.pcr12[1], zero, 32) == 0,
              "%s: systemd-boot 255 leaves PCR 12 zero", name);
        CHECK(pcr_is(pcrs, banks[1], 9, p.pcr9[1]), "%s: ... and PCR 9 is the same (same text)", name);

        /* The stub's Authenticode hash unknown: PCR 4 not predicted. */
        in.stub = NULL;
        CHECK(predict_boot_compute(&in, banks, 4, &p) == 0 && p.pcr4_unknown, "%s: no stub, no PCR 4", name);

        /* A cut log is an error naming the event and offset. */
        r = predict_firmware_from_log((const uint8_t *) log, 0x1000, name, banks, 4, &err, &fw);
        CHECK(r < 0 && strstr(err.message, "offset 0x"), "%s: cut log refused: %s", name, err.message);
finish:
        free(log);
        free(pcrs);
        free(info);
        free(cmdline);
}

static bool bytes_are(const uint8_t *got, size_t n, const char *want_utf16, size_t want_n) {
        return n == want_n && memcmp(got, want_utf16, n) == 0;
}

int main(void) {
        const char *top = getenv("LANTERN_FIXTURES");
        if (!top)
                top = "tests/fixtures";
        fixture(top, "sd252-sdboot-sb-off", false);
        fixture(top, "sd252-sdboot-sb-on", true);

        uint8_t *u = NULL;
        size_t n = 0;
        /* "é" U+00E9, "✓" U+2713, an invalid byte (dropped), U+1F600 (beyond UCS-2: dropped), a tab (space),
         * surrounding spaces cut. */
        const char in[] = " a\xc3\xa9\xe2\x9c\x93\xff\tb\xf0\x9f\x98\x80 ";
        CHECK(predict_loadoptions_sdboot(in, sizeof(in) - 1, &u, &n) == 0 &&
              bytes_are(u, n, "a\0\xe9\0\x13\x27 \0b\0\0\0", 12), "systemd-boot conversion and mangling");
        free(u);
        CHECK(predict_loadoptions_widen(in, sizeof(in) - 1, &u, &n) == 0 && n == 2 * (sizeof(in) - 1) + 2 &&
              u[4] == 0xc3 && u[5] == 0 && u[n - 4] == ' ', "stub widening keeps every byte");
        free(u);
        CHECK(predict_sdboot_version("systemd-boot 252.39") == 252 && predict_sdboot_version("systemd-stub 252") == 0,
              "systemd-boot version from .sdmagic");
        return tap_done();
}
