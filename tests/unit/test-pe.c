/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PE/COFF parser and Authenticode hash on PEs built here byte by byte, so every field and offset below is
 * known from the construction, not from the parser. Real-file oracles (pesign, objdump) are in
 * tests/cases/pe-*.sh. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "authenticode.h"
#include "pe.h"
#include "tap.h"

#define HEADERS 0x200
#include "pe-builder.h"

static const spec three[] = {
        { ".text", 0, "code code code", 0 },
        { ".linux", 0, "kernel-A", 0 },
        { ".linuxh", 0, "hash-of-kernel", 0 },
};

static void test_parse(bool pe32) {
        static uint8_t buf[0x2000];
        const char *what = pe32 ? "PE32" : "PE32+";
        size_t size = build_pe(buf, sizeof(buf), pe32, three, 3);
        measure_pe pe;
        measure_pe_error err = {};

        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, &err, &pe) == 0, "%s parses", what);
        CHECK(pe.magic == (pe32 ? 0x10b : 0x20b) && strcmp(measure_pe_format_name(&pe), what) == 0, "%s magic", what);
        CHECK(pe.pe_offset == LFANEW && pe.machine == 0x8664 && pe.n_sections == 3, "%s COFF header", what);
        CHECK(pe.size_of_headers == HEADERS && pe.file_alignment == 0x200 && pe.section_alignment == 0x1000,
              "%s alignment and SizeOfHeaders", what);
        CHECK(pe.checksum_offset == OPT + 64 && pe.checksum == 0x12345678, "%s CheckSum at optional header + 64", what);
        CHECK(pe.data_dirs_offset == OPT + (pe32 ? 96 : 112) && pe.n_data_dirs == 16, "%s data directories", what);
        CHECK(pe.section_table_offset == table_offset(pe32), "%s section table offset", what);
        CHECK(pe.size_of_image == 0x4000, "%s SizeOfImage", what);
        CHECK(strcmp(pe.sections[1].name, ".linux") == 0 && pe.sections[1].virtual_size == 8 &&
              pe.sections[1].virtual_address == 0x2000 && pe.sections[1].pointer_to_raw_data == 0x400 &&
              pe.sections[1].size_of_raw_data == 0x200, "%s section 1 fields", what);
        CHECK(strcmp(pe.sections[2].name, ".linuxh") == 0, "%s section 2 name", what);
        CHECK(measure_pe_section_offset(&pe, &pe.sections[1]) == 0x400 &&
              measure_pe_section_stored(&pe, &pe.sections[1]) == 8, "%s file offset and stored length", what);
}

static void test_lookup(void) {
        static uint8_t buf[0x2000];
        static const spec dup[] = {
                { ".linuxh", 0, "h", 0 },
                { ".linux", 0, "first", 0 },
                { ".linux", 0, "second", 0 },
                { ".linuxXY", 0, "eight-char name", 0 },
        };
        size_t size = build_pe(buf, sizeof(buf), false, dup, 4);
        measure_pe pe;

        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0, "duplicate names parse");
        CHECK(measure_pe_find_section(&pe, ".linux", MEASURE_PE_MATCH_PREFIX_LAST, 0, 4) == 3,
              "prefix match, last wins: .linuxXY");
        CHECK(measure_pe_find_section(&pe, ".linux", MEASURE_PE_MATCH_PREFIX_LAST, 0, 3) == 2,
              "prefix match, last wins within a range");
        CHECK(measure_pe_find_section(&pe, ".linux", MEASURE_PE_MATCH_EXACT_FIRST, 0, 4) == 1,
              "exact match, first wins: skips .linuxh");
        CHECK(measure_pe_find_section(&pe, ".linuxXY", MEASURE_PE_MATCH_EXACT_FIRST, 0, 4) == 3,
              "exact match of an 8-character name");
        CHECK(measure_pe_find_section(&pe, ".linuxh", MEASURE_PE_MATCH_EXACT_FIRST, 1, 4) == -ENOENT,
              "range excludes earlier sections");
        CHECK(measure_pe_find_section(&pe, ".initrd", MEASURE_PE_MATCH_PREFIX_LAST, 0, 4) == -ENOENT,
              "absent section");
        CHECK(measure_pe_find_section(&pe, "", MEASURE_PE_MATCH_EXACT_FIRST, 0, 4) == -EINVAL &&
              measure_pe_find_section(&pe, ".toolongname", MEASURE_PE_MATCH_EXACT_FIRST, 0, 4) == -EINVAL,
              "names of 1 to 8 characters only");
}

static void test_loaded(void) {
        static uint8_t file[0x2000], mem[0x4000];
        size_t size = build_pe(file, sizeof(file), false, three, 3);
        measure_pe pe;

        /* Lay the image out as a loader would: headers at 0, each section at its VirtualAddress. */
        memcpy(mem, file, HEADERS);
        memcpy(mem + 0x1000, file + 0x200, 0x200);
        memcpy(mem + 0x2000, file + 0x400, 0x200);
        memcpy(mem + 0x3000, file + 0x600, 0x200);
        CHECK(measure_pe_parse(mem, sizeof(mem), MEASURE_PE_LOADED, NULL, &pe) == 0, "loaded image parses");
        CHECK(measure_pe_section_offset(&pe, &pe.sections[1]) == 0x2000 &&
              measure_pe_section_stored(&pe, &pe.sections[1]) == 8 &&
              memcmp(mem + 0x2000, "kernel-A", 8) == 0, "loaded layout: sections at their VirtualAddress");
        CHECK(measure_pe_parse(mem, 0x3004, MEASURE_PE_LOADED, NULL, &pe) == -EBADMSG,
              "loaded image shorter than its last section");
        (void) size;
}

/* Expects parsing to fail with r at offset off, leaving ret untouched. */
static void expect_error(const uint8_t *buf, size_t size, int r, uint64_t off, const char *what) {
        measure_pe pe;
        measure_pe_error err = {};
        memset(&pe, 0xa5, sizeof(pe));
        int got = measure_pe_parse(buf, size, MEASURE_PE_FILE, &err, &pe);
        bool untouched = ((uint8_t *) &pe)[0] == 0xa5 && ((uint8_t *) &pe)[sizeof(pe) - 1] == 0xa5;
        CHECK(got == r && err.offset == off && err.what && untouched, "%s: error %d at 0x%llx (\"%s\")", what, got,
              (unsigned long long) err.offset, err.what ? err.what : "");
}

static void test_errors(void) {
        static uint8_t good[0x2000], buf[0x2000];
        size_t size = build_pe(good, sizeof(good), false, three, 3), t = table_offset(false);

#define MUTATE(stmt) do { memcpy(buf, good, sizeof(buf)); stmt; } while (0)
        expect_error(good, 63, -EBADMSG, 63, "63 bytes");
        MUTATE(buf[1] = 'X');
        expect_error(buf, size, -EBADMSG, 0, "no MZ");
        MUTATE(put32(buf + 0x3c, 0x3f));
        expect_error(buf, size, -EBADMSG, 0x3c, "e_lfanew inside the DOS header");
        MUTATE(put32(buf + 0x3c, 0xffffffff));
        expect_error(buf, size, -EBADMSG, 0x3c, "e_lfanew 0xffffffff");
        expect_error(good, LFANEW + 23, -EBADMSG, 0x3c, "file ends inside the COFF header");
        MUTATE(buf[LFANEW + 2] = 1);
        expect_error(buf, size, -EBADMSG, LFANEW, "bad PE signature");
        MUTATE(put16(buf + COFF + 2, 97));
        expect_error(buf, size, -E2BIG, COFF + 2, "97 sections");
        MUTATE(put16(buf + COFF + 16, 0));
        expect_error(buf, size, -EBADMSG, COFF + 16, "SizeOfOptionalHeader 0");
        MUTATE(put16(buf + COFF + 16, 111));
        expect_error(buf, size, -EBADMSG, COFF + 16, "SizeOfOptionalHeader below PE32+'s fixed part");
        expect_error(good, OPT + 100, -EBADMSG, COFF + 16, "file ends inside the optional header");
        MUTATE(put16(buf + OPT, 0x107));
        expect_error(buf, size, -EBADMSG, OPT, "ROM image magic");
        MUTATE(put32(buf + OPT + 108, 17));
        expect_error(buf, size, -E2BIG, OPT + 108, "17 data directories");
        MUTATE(put32(buf + OPT + 108, 15); put16(buf + COFF + 16, 112 + 8 * 14));
        expect_error(buf, size, -EBADMSG, OPT + 108, "data directories beyond SizeOfOptionalHeader");
        MUTATE(put32(buf + OPT + 60, (uint32_t) t + 40 * 3 - 1));
        expect_error(buf, size, -EBADMSG, OPT + 60, "SizeOfHeaders short of the section table");
        MUTATE(put32(buf + OPT + 60, (uint32_t) size + 1));
        expect_error(buf, size, -EBADMSG, OPT + 60, "SizeOfHeaders past the end");
        MUTATE(put32(buf + t + 40 * 2 + 16, 0x400));
        expect_error(buf, size, -EBADMSG, t + 40 * 2 + 16, "last section's data past the end");
        MUTATE(put32(buf + t + 40 * 2 + 20, 0xffffff00));
        expect_error(buf, size, -EBADMSG, t + 40 * 2 + 16, "PointerToRawData near 4 GiB");
        MUTATE(put32(buf + t + 40 * 1 + 20, 0x100));
        expect_error(buf, size, -EBADMSG, t + 40 + 20, "section data in the headers");
        MUTATE(put32(buf + t + 40 * 2 + 20, 0x400));
        expect_error(buf, size, -EBADMSG, t + 40 * 2 + 20, "section data overlapping");
        MUTATE(put32(buf + t + 40 * 2 + 12, 0x2004));
        expect_error(buf, size, -EBADMSG, t + 40 * 2 + 12, "sections overlapping in memory");
        MUTATE(put32(buf + t + 40 * 2 + 8, 0xfffff000));
        expect_error(buf, size, -EBADMSG, t + 40 * 2 + 8, "VirtualAddress + VirtualSize overflows");
        MUTATE(put32(buf + OPT + 112 + 32, (uint32_t) size); put32(buf + OPT + 112 + 36, 8));
        expect_error(buf, size, -EBADMSG, OPT + 112 + 32, "certificate table past the end");
        MUTATE(put32(buf + OPT + 112 + 32, 0x400); put32(buf + OPT + 112 + 36, 8));
        expect_error(buf, size, -EBADMSG, OPT + 112 + 32, "certificate table over section data");
#undef MUTATE
        measure_pe pe;
        CHECK(measure_pe_parse(NULL, 10, MEASURE_PE_FILE, NULL, &pe) == -EINVAL &&
              measure_pe_parse(good, size, MEASURE_PE_FILE, NULL, NULL) == -EINVAL, "bad arguments");
        memcpy(buf, good, sizeof(buf));
        put16(buf + COFF + 2, 0);
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 && pe.n_sections == 0,
              "zero sections is a valid PE");
}

static void test_authenticode(void) {
        static uint8_t buf[0x3000];
        size_t size = build_pe(buf, sizeof(buf), false, three, 3);
        const measure_alg *algs[2] = { measure_alg_by_name("sha256"), measure_alg_by_name("sha1") };
        uint8_t d[2][MEASURE_DIGEST_MAX], d2[2][MEASURE_DIGEST_MAX];
        char hex[2 * MEASURE_DIGEST_MAX + 1];
        measure_pe pe;

        /* Expected values: this PE written to a file (`test-pe pe32+ FILE`) and signed with osslsigncode
         * (`osslsigncode sign -h sha256|sha1 -certs C -key K -in FILE -out S`), whose `osslsigncode verify -in S`
         * prints them as "Current message digest". (pesign refuses this minimal PE.) */
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0, "authenticode: parses");
        CHECK(measure_authenticode_hash(&pe, buf, size, algs, 2, d) == 0, "authenticode: two banks in one pass");
        CHECK(strcmp(measure_hex(d[0], 32, hex), "9e31e7fd283ad2fcada1074177172a48dbabedcee97c6d29b2313c881934e8f9") == 0,
              "authenticode: sha256 equals osslsigncode's");
        CHECK(strcmp(measure_hex(d[1], 20, hex), "69f37c8018ac1f43742766b996652329fafc6016") == 0,
              "authenticode: sha1 equals osslsigncode's");

        /* CheckSum, the certificate-table entry and an appended certificate table do not change the hash. */
        put32(buf + OPT + 64, 0xdeadbeef);
        put32(buf + OPT + 112 + 32, (uint32_t) size);
        put32(buf + OPT + 112 + 36, 0x100);
        memset(buf + size, 0x77, 0x100);
        CHECK(measure_pe_parse(buf, size + 0x100, MEASURE_PE_FILE, NULL, &pe) == 0, "authenticode: signed parses");
        CHECK(measure_authenticode_hash(&pe, buf, size + 0x100, algs, 2, d2) == 0 && memcmp(d[0], d2[0], 32) == 0 &&
                      memcmp(d[1], d2[1], 20) == 0,
              "authenticode: CheckSum and certificate table are not hashed");
        /* Trailing data before the certificate table is hashed. */
        put32(buf + OPT + 112 + 32, (uint32_t) size + 8);
        put32(buf + OPT + 112 + 36, 0xf8);
        CHECK(measure_pe_parse(buf, size + 0x100, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_authenticode_hash(&pe, buf, size + 0x100, algs, 2, d2) == 0 && memcmp(d[0], d2[0], 32) != 0,
              "authenticode: trailing data is hashed");
        CHECK(measure_authenticode_hash(&pe, buf, size, algs, 2, d2) == -EINVAL, "authenticode: size must match the parse");

        /* PE32: the certificate-table entry is at optional header + 128. Expected values as above, from
         * `test-pe pe32 FILE` and osslsigncode. */
        size = build_pe(buf, sizeof(buf), true, three, 3);
        CHECK(measure_pe_parse(buf, size, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_authenticode_hash(&pe, buf, size, algs, 2, d) == 0, "authenticode PE32: hashes");
        CHECK(strcmp(measure_hex(d[0], 32, hex), "d672ed4aa316208b37c2b2a3f6889047d040757e4a20b33e5166ac85cd71d606") == 0,
              "authenticode PE32: sha256 equals osslsigncode's");
        CHECK(strcmp(measure_hex(d[1], 20, hex), "30a82344e45bc2b691a7618c8d01884b9573ae8e") == 0,
              "authenticode PE32: sha1 equals osslsigncode's");
        put32(buf + OPT + 96 + 32, (uint32_t) size);
        put32(buf + OPT + 96 + 36, 0x100);
        memset(buf + size, 0x55, 0x100);
        CHECK(measure_pe_parse(buf, size + 0x100, MEASURE_PE_FILE, NULL, &pe) == 0 &&
              measure_authenticode_hash(&pe, buf, size + 0x100, algs, 2, d2) == 0 && memcmp(d[0], d2[0], 32) == 0,
              "authenticode PE32: certificate table not hashed");
}

int main(int argc, char **argv) {
        if (argc == 3) {
                /* test-pe pe32|pe32+ FILE: writes the PE test_authenticode hashes, for the oracle. */
                static uint8_t buf[0x3000];
                size_t size = build_pe(buf, sizeof(buf), strcmp(argv[1], "pe32") == 0, three, 3);
                FILE *f = fopen(argv[2], "we");
                if (!f || fwrite(buf, 1, size, f) != size || fclose(f) != 0)
                        return 1;
                return 0;
        }
        test_parse(false);
        test_parse(true);
        test_lookup();
        test_loaded();
        test_errors();
        test_authenticode();
        return tap_done();
}
