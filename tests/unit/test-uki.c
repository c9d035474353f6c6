/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The UKI measurement plan on UKIs built here byte by byte: stub identification from .sdmagic, canonical
 * order, skipped sections, zero fill, matching rules per version, multi-profile, and the PCR 11 fold against
 * values computed in the shell. Real-UKI oracles (systemd-measure) are in tests/cases/uki-*.sh. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "pe.h"
#include "uki.h"
#include "tap.h"

#define HEADERS 0x400 /* room for 17 section headers */
#include "pe-builder.h"

static uint8_t buf[0x8000];
static size_t size;
static measure_pe pe;

static int plan_for(const spec *s, size_t n, measure_uki_plan *ret) {
        size = build_pe(buf, sizeof(buf), false, s, n);
        if (measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) < 0)
                return -100;
        return measure_uki_plan_build(&pe, buf, size, NULL, ret);
}

/* The plan's sections as "name@index,..." */
static const char *plan_str(const measure_uki_plan *p) {
        static char s[512];
        size_t at = 0;
        s[0] = 0;
        for (size_t i = 0; i < p->n; i++)
                at += (size_t) snprintf(s + at, sizeof(s) - at, "%s%s@%u", i ? "," : "",
                                        measure_uki_sections[p->m[i].section].name, p->m[i].pe_index);
        return s;
}

#define MAGIC(v) { ".sdmagic", 0, "#### LoaderInfo: " v " ####", 0 }

static void test_identify(void) {
        static const struct {
                const char *text;
                measure_uki_stub_kind kind;
                unsigned version, rules;
                measure_pe_match match;
                const char *ident;
        } cases[] = {
                { "#### LoaderInfo: systemd-stub 252.39-1~deb12u2 ####", MEASURE_UKI_STUB_SYSTEMD, 252, 252,
                  MEASURE_PE_MATCH_PREFIX_LAST, "systemd-stub 252.39-1~deb12u2" },
                { "#### LoaderInfo: systemd-stub 256 ####", MEASURE_UKI_STUB_SYSTEMD, 256, 256,
                  MEASURE_PE_MATCH_PREFIX_LAST, "systemd-stub 256" },
                { "#### LoaderInfo: systemd-stub 257.1 ####", MEASURE_UKI_STUB_SYSTEMD, 257, 257,
                  MEASURE_PE_MATCH_EXACT_FIRST, "systemd-stub 257.1" },
                { "#### LoaderInfo: lantern-stub 0.1.0 ####", MEASURE_UKI_STUB_LANTERN, 0, 256,
                  MEASURE_PE_MATCH_EXACT_FIRST, "lantern-stub 0.1.0" },
                { "#### LoaderInfo: systemd-boot 252 ####", MEASURE_UKI_STUB_UNKNOWN, 0, 252,
                  MEASURE_PE_MATCH_PREFIX_LAST, "systemd-boot 252" },
                { "#### LoaderInfo: systemd-stub x ####", MEASURE_UKI_STUB_UNKNOWN, 0, 252,
                  MEASURE_PE_MATCH_PREFIX_LAST, "systemd-stub x" },
                { "#### LoaderInfo: systemd-stub 254", MEASURE_UKI_STUB_SYSTEMD, 254, 254,
                  MEASURE_PE_MATCH_PREFIX_LAST, "systemd-stub 254" },
                { "LoaderInfo: systemd-stub 254 ####", MEASURE_UKI_STUB_UNKNOWN, 0, 252,
                  MEASURE_PE_MATCH_PREFIX_LAST, "" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                spec s[] = { { ".text", 0, "code", 0 }, { ".sdmagic", 0, cases[i].text, 0 } };
                measure_uki_stub stub;
                size = build_pe(buf, sizeof(buf), false, s, 2);
                CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
                      measure_uki_stub_identify(&pe, buf, size, &stub) == 0 && stub.kind == cases[i].kind &&
                      stub.version == cases[i].version && stub.rules == cases[i].rules &&
                      stub.match == cases[i].match && strcmp(stub.ident, cases[i].ident) == 0,
                      "identify '%s' -> kind %d version %u rules %u ident '%s'", cases[i].text, stub.kind,
                      stub.version, stub.rules, stub.ident);
        }

        /* .sdmagic whose VirtualSize ends before its NUL: the text stops there. */
        spec cut[] = { { ".sdmagic", 33, "#### LoaderInfo: systemd-stub 253 ####", 0 } };
        measure_uki_stub stub;
        size = build_pe(buf, sizeof(buf), false, cut, 1);
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_uki_stub_identify(&pe, buf, size, &stub) == 0 && stub.version == 253 &&
              strcmp(stub.ident, "systemd-stub 253") == 0, "identify within VirtualSize only");

        spec none[] = { { ".text", 0, "code", 0 } };
        size = build_pe(buf, sizeof(buf), false, none, 1);
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_uki_stub_identify(&pe, buf, size, &stub) == 0 && stub.kind == MEASURE_UKI_STUB_UNKNOWN &&
              stub.rules == MEASURE_UKI_DEFAULT_RULES && stub.ident[0] == 0, "no .sdmagic: default rules");
}

static void test_plan(void) {
        measure_uki_plan p = {};
        const spec scrambled[] = {
                MAGIC("systemd-stub 252"),
                { ".pcrpkey", 0, "key", 0 },
                { ".pcrsig", 0, "{}", 0 },
                { ".initrd", 0, "initrd", 0 },
                { ".uname", 0, "6.1", 0 },
                { ".sbat", 0, "sbat,1", 0 },
                { ".cmdline", 0, "", 0 },
                { ".dtb", 0, "dtb", 0 },
                { ".osrel", 0, "ID=x", 0 },
                { ".linux", 0, "kernel", 0 },
                { ".splash", 0, "bmp", 0 },
        };
        CHECK(plan_for(scrambled, 11, &p) == 0, "252 plan builds");
        CHECK(strcmp(plan_str(&p), ".linux@9,.osrel@8,.initrd@3,.splash@10,.dtb@7,.pcrpkey@1") == 0,
              "252: canonical order, no .pcrsig/.uname/.sbat, empty .cmdline skipped: %s", plan_str(&p));
        CHECK(p.m[0].offset == pe.sections[9].pointer_to_raw_data && p.m[0].length == 6 && p.m[0].zero_fill == 0,
              "252: .linux range");

        spec v254[11];
        memcpy(v254, scrambled, sizeof(v254));
        v254[0] = (spec) MAGIC("systemd-stub 254");
        CHECK(plan_for(v254, 11, &p) == 0 &&
              strcmp(plan_str(&p), ".linux@9,.osrel@8,.initrd@3,.splash@10,.dtb@7,.uname@4,.sbat@5,.pcrpkey@1") == 0,
              "254: adds .uname and .sbat before .pcrpkey: %s", plan_str(&p));

        const spec zf[] = {
                MAGIC("systemd-stub 252"),
                { ".cmdline", 0x300, "console=ttyS0", 0 },
                { ".osrel", 4, "ID=lantern", 0 },
        };
        CHECK(plan_for(zf, 3, &p) == 0 && p.n == 2, "zero-fill plan builds");
        CHECK(p.m[0].section == MEASURE_UKI_OSREL && p.m[0].length == 4 && p.m[0].zero_fill == 0,
              "VirtualSize below SizeOfRawData: VirtualSize bytes, no fill");
        CHECK(p.m[1].section == MEASURE_UKI_CMDLINE && p.m[1].length == 0x200 && p.m[1].zero_fill == 0x100,
              "VirtualSize above SizeOfRawData: raw bytes then zeros");

        const spec big[] = {
                MAGIC("systemd-stub 252"),
                { ".cmdline", 0x2000, "x", 0 },
        };
        size = build_pe(buf, sizeof(buf), false, big, 2);
        buf[OPT + 56 + 1] = 0x20; /* SizeOfImage 0x2000: .cmdline at 0x2000 + 0x2000 no longer fits */
        buf[OPT + 56 + 2] = 0;
        measure_pe_error err = {};
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_uki_plan_build(&pe, buf, size, &err, &p) == -EBADMSG &&
              err.offset == table_offset(false) + 40 + 8, "section past SizeOfImage refused at its VirtualSize");

        const spec bss[] = {
                MAGIC("systemd-stub 252"),
                { ".cmdline", 0x100, "", 0 },
        };
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        uint8_t v[1][MEASURE_DIGEST_MAX];
        size = build_pe(buf, sizeof(buf), false, bss, 2);
        put32(buf + table_offset(false) + 40 + 20, 0xffffff00); /* PointerToRawData is meaningless here */
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_uki_plan_build(&pe, buf, size, NULL, &p) == 0 && p.n == 1 && p.m[0].offset == 0 &&
              p.m[0].length == 0 && p.m[0].zero_fill == 0x100 &&
              measure_uki_plan_fold(&p, buf, size, NULL, &sha256, 1, v) == 0,
              "SizeOfRawData 0: all zero fill, PointerToRawData ignored");

        const spec old[] = { MAGIC("systemd-stub 250"), { ".linux", 0, "k", 0 } };
        CHECK(plan_for(old, 2, &p) == -EPROTONOSUPPORT, "systemd-stub 250: nothing measured into PCR 11");
}

static void test_matching(void) {
        measure_uki_plan p = {};
        spec s[] = {
                MAGIC("systemd-stub 252"),
                { ".linux", 0, "kernel", 0 },
                { ".linuxh", 0, "hash", 0 },
                { ".initrdh", 0, "ihash", 0 },
                { ".initrd", 0, "initrd", 0 },
                { ".ucode", 0, "ucode", 0 },
                { ".sbat", 0, "sbat", 0 },
        };
        CHECK(plan_for(s, 7, &p) == 0 && strcmp(plan_str(&p), ".linux@2,.initrd@4") == 0,
              "252: prefix match, last wins (.linuxh taken as .linux): %s", plan_str(&p));
        s[0] = (spec) MAGIC("systemd-stub 256");
        CHECK(plan_for(s, 7, &p) == 0 && strcmp(plan_str(&p), ".linux@2,.initrd@4,.ucode@5,.sbat@6") == 0,
              "256: .ucode after .initrd, still prefix-last: %s", plan_str(&p));
        s[0] = (spec) MAGIC("systemd-stub 258");
        CHECK(plan_for(s, 7, &p) == 0 && strcmp(plan_str(&p), ".linux@1,.initrd@4,.ucode@5,.sbat@6") == 0,
              "258: exact match, first wins: %s", plan_str(&p));
        s[0] = (spec) MAGIC("lantern-stub 0.1");
        s[2].data = "0123456789abcdef0123456789abcdef"; /* thin layout: 32-byte SHA-256 sections */
        s[3].data = "fedcba9876543210fedcba9876543210";
        CHECK(plan_for(s, 7, &p) == 0 && strcmp(plan_str(&p), ".linux@1,.initrd@4,.ucode@5") == 0,
              "lantern-stub: exact match, no .sbat: %s", plan_str(&p));
        CHECK(p.m[0].external && p.m[0].hash_pe_index == 2 && p.m[1].external && p.m[1].hash_pe_index == 3 &&
              !p.m[2].external, "lantern-stub: .linuxh/.initrdh make .linux/.initrd ESP paths");

        char path[MEASURE_UKI_THIN_PATH_MAX + 1];
        const uint8_t *sha;
        CHECK(measure_uki_thin_file(&pe, buf, size, &p.m[0], path, &sha) == 0 && strcmp(path, "kernel") == 0 &&
              memcmp(sha, "0123456789abcdef0123456789abcdef", 32) == 0, "thin file: path and hash");
        CHECK(measure_uki_thin_file(&pe, buf, size, &p.m[2], path, &sha) == -EINVAL, "thin file: not for .ucode");

        s[2].data = "short";
        measure_pe_error err = {};
        size = build_pe(buf, sizeof(buf), false, s, 7);
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_uki_plan_build(&pe, buf, size, &err, &p) == -EBADMSG &&
              err.offset == table_offset(false) + 2 * 40 + 8, "thin layout: a hash section of 5 bytes is refused");
        s[2].data = "0123456789abcdef0123456789abcdef";
        s[1].data = "\\EFI\\\x01";
        size = build_pe(buf, sizeof(buf), false, s, 7);
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_uki_plan_build(&pe, buf, size, &err, &p) == -EBADMSG && err.offset == pe.sections[1].pointer_to_raw_data,
              "thin layout: a path with a control character is refused at its offset");
}

static void test_thin_fold(void) {
        measure_uki_plan p = {};
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        uint8_t v[1][MEASURE_DIGEST_MAX];
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        const spec s[] = {
                MAGIC("lantern-stub 0.1"),
                { ".linux", 0, "\\EFI\\k.efi", 0 },
                { ".linuxh", 0, "0123456789abcdef0123456789abcdef", 0 },
                { ".osrel", 0, "ID=x", 0 },
        };
        measure_uki_external ext[2] = { { "KERNEL", 6 }, { NULL, 0 } };
        CHECK(plan_for(s, 4, &p) == 0 && p.n == 2 && p.m[0].external, "thin fold: plan");
        CHECK(measure_uki_plan_fold(&p, buf, size, NULL, &sha256, 1, v) == -ENXIO, "thin fold: needs the file");
        /* Expected: the shell fold (tests/cases/uki-zerofill.sh) of .linux=<"KERNEL"> .osrel=<"ID=x">. */
        CHECK(measure_uki_plan_fold(&p, buf, size, ext, &sha256, 1, v) == 0 &&
              strcmp(measure_hex(v[0], 32, hex), "883c246eb4b9eef9042b16156587e31ac0879defd6a0cd3eb641aaed9b711a92") == 0,
              "thin fold: measures the file's content, not the path");
}

static void test_profiles(void) {
        measure_uki_plan p = {};
        const spec s[] = {
                MAGIC("systemd-stub 257"),
                { ".linux", 0, "kernel", 0 },
                { ".cmdline", 0, "base", 0 },
                { ".osrel", 0, "ID=x", 0 },
                { ".profile", 0, "ID=default", 0 },
                { ".cmdline", 0, "profile 0", 0 },
                { ".profile", 0, "ID=debug", 0 },
                { ".cmdline", 0, "profile 1", 0 },
                { ".dtb", 0, "profile 1 dtb", 0 },
        };
        CHECK(plan_for(s, 9, &p) == 0 && strcmp(plan_str(&p), ".linux@1,.osrel@3,.cmdline@5,.profile@4") == 0,
              "257 multi-profile: base plus profile 0, which overrides .cmdline: %s", plan_str(&p));

        spec d[] = {
                MAGIC("systemd-stub 257"),
                { ".linux", 0, "kernel", 0 },
                { ".dtbauto", 0, "dtb", 0 },
        };
        CHECK(plan_for(d, 3, &p) == 0 && p.hardware_dependent && strcmp(plan_str(&p), ".linux@1") == 0,
              "257 .dtbauto: flagged, not planned");
        d[0] = (spec) MAGIC("systemd-stub 252");
        CHECK(plan_for(d, 3, &p) == 0 && !p.hardware_dependent, "252 does not know .dtbauto");
}

static void test_loaded(void) {
        static uint8_t mem[0x5000];
        measure_uki_plan p = {};
        const spec s[] = {
                MAGIC("lantern-stub 0.1"),
                { ".cmdline", 0x300, "console=ttyS0", 0 },
                { ".linux", 0, "kernel", 0 },
        };
        size = build_pe(buf, sizeof(buf), false, s, 3);
        memset(mem, 0, sizeof(mem));
        memcpy(mem, buf, HEADERS);
        for (int i = 0; i < 3; i++)
                memcpy(mem + 0x1000 * (i + 1), buf + HEADERS + 0x200 * i, 0x200);
        CHECK(measure_pe_parse(mem, sizeof(mem), MEASURE_PE_LOADED, NULL, &pe) == 0 &&
              measure_uki_plan_build(&pe, mem, sizeof(mem), NULL, &p) == 0 && p.stub.kind == MEASURE_UKI_STUB_LANTERN,
              "loaded image: plan builds, stub identified");
        CHECK(p.n == 2 && p.m[0].section == MEASURE_UKI_LINUX && p.m[0].offset == 0x3000 && p.m[0].length == 6 &&
              p.m[1].section == MEASURE_UKI_CMDLINE && p.m[1].offset == 0x2000 && p.m[1].length == 0x300 &&
              p.m[1].zero_fill == 0, "loaded image: VirtualAddress ranges, memory already zero-filled");
}

static void test_fold(void) {
        measure_uki_plan p = {};
        const measure_alg *algs[3] = { measure_alg_by_name("sha1"), measure_alg_by_name("sha256"),
                                       measure_alg_by_name("sha384") };
        uint8_t v[3][MEASURE_DIGEST_MAX], name[MEASURE_DIGEST_MAX], data[MEASURE_DIGEST_MAX];
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        const spec s[] = {
                MAGIC("systemd-stub 252"),
                { ".cmdline", 0x300, "console=ttyS0", 0 },
                { ".osrel", 0, "ID=lantern\n", 0 },
                { ".linux", 0, "kernel", 0 },
        };
        /* Expected: the shell fold of tests/cases/uki-zerofill.sh, fold BANK .linux=l .osrel=o .cmdline=c, over
         * l = "kernel", o = "ID=lantern\n", c = "console=ttyS0" followed by zeros up to 0x300 bytes. */
        CHECK(plan_for(s, 4, &p) == 0 && measure_uki_plan_fold(&p, buf, size, NULL, algs, 3, v) == 0, "fold runs");
        CHECK(strcmp(measure_hex(v[0], 20, hex), "9ffb083b742457539cb1d5586172d094267f45c8") == 0, "fold sha1");
        CHECK(strcmp(measure_hex(v[1], 32, hex), "6d48193daa2f7462d7856da303e389bd3f21e09c6992331dee95551a0c6692f6") == 0,
              "fold sha256");
        CHECK(strcmp(measure_hex(v[2], 48, hex), "321f2280504c475ee8a04e865964b51b6c86f35474d5c37a3be19cae9a3360"
                                                 "5dc9b8f3175ee5fb74f44002dfa1376084") == 0, "fold sha384");
        /* Event digests: sha256(".linux\0") and sha256("kernel"), from `printf '.linux\0' | sha256sum` and
         * `printf kernel | sha256sum`. */
        CHECK(measure_uki_measurement_digests(&p.m[0], buf, size, NULL, algs[1], name, data) == 0 &&
              strcmp(measure_hex(name, 32, hex), "0da293e37ad5511c59be47993769aacb91b243f7d010288e118dc90e95aaef5a") == 0,
              "event digest of the name: %s", hex);
        CHECK(strcmp(measure_hex(data, 32, hex), "6923dd1bc0460082c5d55a831908c24a282860b7f1cd6c2b79cf1bc8857c639c") == 0,
              "event digest of the data: %s", hex);
        measure_uki_plan bad = p;
        bad.m[0].offset = size;
        CHECK(measure_uki_plan_fold(&bad, buf, size, NULL, algs, 3, v) == -EINVAL, "fold refuses a plan outside the buffer");
}

int main(void) {
        test_identify();
        test_plan();
        test_matching();
        test_profiles();
        test_loaded();
        test_fold();
        test_thin_fold();
        return tap_done();
}
