/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bootspec reader against the bootspec crate's own documents (tests/fixtures/bootspec/, copied from
 * DeterminateSystems/bootspec and bootspec-secureboot), malformed documents and their messages, and the
 * command line and os-release texts built from a bootspec. */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict-bootspec.h"
#include "predict-cmdline.h"
#include "tap.h"

static char *slurp(const char *name, size_t *ret_size) {
        const char *dir = getenv("LANTERN_FIXTURES");
        char path[4096];
        snprintf(path, sizeof(path), "%s/bootspec/%s", dir ? dir : "tests/fixtures", name);
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = malloc(1 << 20);
        size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
        if (buf)
                buf[n] = 0;
        *ret_size = n;
        return buf;
}

static predict_bootspec *parse_fixture(const char *name, predict_error *err, int *ret_r) {
        size_t size = 0;
        predict_bootspec *b = NULL;
        char *data = slurp(name, &size);
        if (!data) {
                *ret_r = -ENOENT;
                snprintf(err->message, sizeof(err->message), "cannot read fixture %s", name);
                return NULL;
        }
        *ret_r = predict_bootspec_parse(data, size, name, err, &b);
        free(data);
        return b;
}

static predict_bootspec *parse_text(const char *text, predict_error *err, int *ret_r) {
        predict_bootspec *b = NULL;
        *ret_r = predict_bootspec_parse(text, strlen(text), "boot.json", err, &b);
        return b;
}

static bool streq_null(const char *a, const char *b) {
        return a == b || (a && b && strcmp(a, b) == 0);
}

static void test_rfc_example(void) {
        predict_error err = {};
        int r;
        predict_bootspec *b = parse_fixture("rfc0125-example-with-specialisation-and-extension.json", &err, &r);
        CHECK(r == 0 && b, "rfc0125 example parses (%s)", r < 0 ? err.message : "ok");
        if (!b)
                return;
        CHECK(streq_null(b->v1.label, "NixOS 21.11.20210810.dirty (Linux 5.15.30)"), "rfc0125: label");
        CHECK(streq_null(b->v1.system, "x86_64-linux"), "rfc0125: system");
        CHECK(streq_null(b->v1.kernel, "/nix/store/xxx-linux/bzImage"), "rfc0125: kernel");
        CHECK(streq_null(b->v1.initrd, "/nix/store/xxx-initrd-linux/initrd"), "rfc0125: initrd");
        CHECK(streq_null(b->v1.initrd_secrets, "/nix/store/xxx-append-secrets/bin/append-initrd-secrets"),
              "rfc0125: initrdSecrets");
        CHECK(b->v1.n_kernel_params == 8 && streq_null(b->v1.kernel_params[7], "loglevel=4"),
              "rfc0125: 8 kernelParams, the last loglevel=4");
        CHECK(b->n_specialisations == 1 && streq_null(b->specialisations[0].name, "<name>"),
              "rfc0125: one specialisation \"<name>\" (its extension ignored)");
        CHECK(!b->nested_specialisations && !b->synthesized, "rfc0125: no nested specialisations, not synthesised");
        char *cmdline = NULL;
        CHECK(predict_cmdline(&b->v1, &cmdline) == 0 &&
              streq_null(cmdline, "init=/nix/store/xxx-nixos-system-xxx/init amd_iommu=on amd_iommu=pt iommu=pt "
                                  "kvm.ignore_msrs=1 kvm.report_ignored_msrs=0 udev.log_priority=3 "
                                  "systemd.unified_cgroup_hierarchy=1 loglevel=4"),
              "rfc0125: cmdline");
        free(cmdline);
        predict_bootspec_free(b);
}

static void test_synthesized_fixtures(void) {
        predict_error err = {};
        int r;
        predict_bootspec *b = parse_fixture("nixos-21.11-synthesized-with-specialisation.json", &err, &r);
        CHECK(r == 0 && b, "21.11 synthesised document parses (%s)", r < 0 ? err.message : "ok");
        if (b) {
                CHECK(b->n_specialisations == 1 && streq_null(b->specialisations[0].name, "example"),
                      "21.11: specialisation example");
                CHECK(b->n_specialisations == 1 && streq_null(b->specialisations[0].v1.kernel, b->v1.kernel) &&
                              streq_null(b->specialisations[0].v1.initrd, b->v1.initrd),
                      "21.11: the specialisation shares kernel and initrd");
                CHECK(b->n_specialisations == 1 &&
                              streq_null(b->specialisations[0].v1.init,
                                         "/nix/store/3w5kr91xq46638fd310q2sa9mjm6r6hn-nixos-system-nixos-21.11pre-git/init"),
                      "21.11: the specialisation has its own init");
                CHECK(streq_null(b->v1.initrd_secrets, "/nix/store/kgkjwhscv52r2y1ha1y19lb9h4j3lfrc-nixos-system-"
                                                       "nixos-21.11pre-git/append-initrd-secrets"),
                      "21.11: initrdSecrets");
                predict_bootspec_free(b);
        }

        b = parse_fixture("nixos-15.09-synthesized-null-initrdsecrets.json", &err, &r);
        CHECK(r == 0 && b, "15.09 document parses (%s)", r < 0 ? err.message : "ok");
        if (b) {
                CHECK(b->v1.initrd_secrets == NULL, "15.09: \"initrdSecrets\": null is absent");
                CHECK(streq_null(b->v1.initrd, "/nix/store/gqdm8dk6my53kvn23r81win9vadjqv80-initrd/initrd"),
                      "15.09: initrd");
                CHECK(streq_null(b->v1.label, "NixOS 15.09pre-git (Linux 3.18.21)"), "15.09: label");
                CHECK(b->n_specialisations == 0, "15.09: empty specialisation map");
                predict_bootspec_free(b);
        }

        b = parse_fixture("nixos-18.09-synthesized-plain.json", &err, &r);
        CHECK(r == 0 && b, "18.09 document parses (%s)", r < 0 ? err.message : "ok");
        if (b) {
                CHECK(streq_null(b->v1.initrd_secrets, "/nix/store/b96sr7vmv90wxfjfk2d7icxh7d77a1na-nixos-system-"
                                                       "nixos-18.09pre-git/append-initrd-secrets"),
                      "18.09: initrdSecrets under the toplevel");
                CHECK(b->v1.n_kernel_params == 1 && streq_null(b->v1.kernel_params[0], "loglevel=4"),
                      "18.09: kernelParams");
                predict_bootspec_free(b);
        }

        b = parse_fixture("legacy-prerfc-bootspec-secureboot-21.11-specialisations.json", &err, &r);
        CHECK(r == -EINVAL && !b, "pre-RFC bootspec-secureboot document is refused");
        CHECK(strstr(err.message, "legacy-prerfc-bootspec-secureboot-21.11-specialisations.json: $: pre-RFC") ==
                      err.message,
              "pre-RFC: message names the file and $ (%s)", err.message);
        predict_bootspec_free(b);
}

#define V1_OK "\"init\":\"/i\",\"kernel\":\"/k\",\"label\":\"L\",\"system\":\"x86_64-linux\",\"toplevel\":\"/t\""

static void expect_error(const char *text, const char *message, const char *name) {
        predict_error err = {};
        int r;
        predict_bootspec *b = parse_text(text, &err, &r);
        CHECK(r < 0 && !b, "%s: refused", name);
        CHECK(strcmp(err.message, message) == 0, "%s: message", name);
        if (strcmp(err.message, message) != 0)
                printf("#   got:  %s\n#   want: %s\n", err.message, message);
        predict_bootspec_free(b);
}

static void expect_error_prefix(const char *text, const char *prefix, const char *name) {
        predict_error err = {};
        int r;
        predict_bootspec *b = parse_text(text, &err, &r);
        CHECK(r < 0 && !b, "%s: refused", name);
        CHECK(strncmp(err.message, prefix, strlen(prefix)) == 0, "%s: message starts with '%s' (%s)", name, prefix,
              err.message);
        predict_bootspec_free(b);
}

static void test_errors(void) {
        expect_error("{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":[\"a\",\"b\",3]}}",
                     "boot.json: $.\"org.nixos.bootspec.v1\".kernelParams[2]: expected a string, got a number",
                     "kernelParams[2] is a number");
        expect_error("{\"org.nixos.bootspec.v1\":{\"init\":\"/i\",\"label\":\"L\",\"system\":\"s\",\"toplevel\":\"/t\","
                     "\"kernelParams\":[]}}",
                     "boot.json: $.\"org.nixos.bootspec.v1\": missing required field \"kernel\"", "missing kernel");
        expect_error("{\"org.nixos.bootspec.v1\":{\"init\":\"/i\",\"kernel\":\"/k\",\"label\":null,\"system\":\"s\","
                     "\"toplevel\":\"/t\",\"kernelParams\":[]}}",
                     "boot.json: $.\"org.nixos.bootspec.v1\".label: expected a string, got null", "null label");
        expect_error("{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":\"quiet\"}}",
                     "boot.json: $.\"org.nixos.bootspec.v1\".kernelParams: expected an array of strings, got a string",
                     "kernelParams is a string");
        expect_error("{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":[]},\"org.nixos.specialisation.v1\":"
                     "{\"my spec\":{\"org.nixos.bootspec.v1\":{\"kernel\":\"/k\",\"label\":\"L\",\"system\":\"s\","
                     "\"toplevel\":\"/t\",\"init\":null,\"kernelParams\":[]}}}}",
                     "boot.json: $.\"org.nixos.specialisation.v1\".\"my spec\".\"org.nixos.bootspec.v1\".init: expected "
                     "a string, got null",
                     "specialisation with null init");
        expect_error("{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":[]},\"org.nixos.specialisation.v1\":null}",
                     "boot.json: $.\"org.nixos.specialisation.v1\": expected an object, got null",
                     "null specialisation map");
        expect_error("{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":[]},\"org.nixos.specialisation.v1\":"
                     "{\"a\":{\"org.test\":1}}}",
                     "boot.json: $.\"org.nixos.specialisation.v1\".a: missing required field \"org.nixos.bootspec.v1\"",
                     "specialisation without bootspec");
        expect_error("{\"org.nixos.bootspec.v2\":{}}",
                     "boot.json: $.\"org.nixos.bootspec.v2\": unsupported bootspec version (only "
                     "\"org.nixos.bootspec.v1\" is known)",
                     "bootspec v2");
        expect_error("{\"v1\":{}}",
                     "boot.json: $: pre-RFC 0125 bootspec preview ({\"v1\": ...}), not supported: expected an object "
                     "with \"org.nixos.bootspec.v1\"",
                     "pre-RFC preview");
        expect_error("[]", "boot.json: $: expected an object, got an array", "top-level array");
        expect_error("{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":[\"a\\u0000b\"]}}",
                     "boot.json: $.\"org.nixos.bootspec.v1\".kernelParams[0]: string contains a NUL character",
                     "NUL inside a parameter");
        expect_error("{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":[]}} x",
                     "boot.json: offset 124: invalid JSON: unexpected character", "trailing data");
        expect_error_prefix("{\"org.nixos.bootspec.v1\":{", "boot.json: offset ", "truncated document");
        expect_error_prefix("{\"org.nixos.bootspec.v1\":{\"label\":\"\xff\"}}", "boot.json: offset ", "invalid UTF-8");
        expect_error_prefix("{\"a\":'x'}", "boot.json: offset ", "single-quoted value (strict JSON)");
        {
                static const char withnul[] = "{\"a\":1,\0}";
                predict_error e = {};
                predict_bootspec *nb = NULL;
                CHECK(predict_bootspec_parse(withnul, sizeof(withnul) - 1, "boot.json", &e, &nb) == -EINVAL && !nb &&
                              strcmp(e.message, "boot.json: offset 7: NUL byte in JSON text") == 0,
                      "raw NUL byte: refused with its offset (%s)", e.message);
        }

        char deep[400];
        size_t n = 0;
        n += (size_t) snprintf(deep, sizeof(deep), "{\"x\":");
        for (int i = 0; i < 100; i++)
                deep[n++] = '[';
        deep[n] = 0;
        expect_error_prefix(deep, "boot.json: offset ", "nesting deeper than the limit");

        predict_error err = {};
        predict_bootspec *b = NULL;
        size_t big = PREDICT_BOOTSPEC_MAX_SIZE + 1;
        char *huge = malloc(big);
        if (huge) {
                memset(huge, ' ', big);
                CHECK(predict_bootspec_parse(huge, big, "boot.json", &err, &b) == -EFBIG && !b,
                      "documents over the size cap are refused");
                free(huge);
        }
}

static void test_shapes(void) {
        predict_error err = {};
        int r;
        predict_bootspec *b = parse_text(
                "{\"org.nixos.bootspec.v1\":{" V1_OK ",\"initrd\":null,\"kernelParams\":[\"x\",\"quiet\"],"
                "\"unknownField\":1},\"org.nixos.specialisation.v1\":{\"zeta\":{\"org.nixos.bootspec.v1\":{" V1_OK
                ",\"kernelParams\":[]}},\"alpha\":{\"org.nixos.bootspec.v1\":{" V1_OK ",\"kernelParams\":[]},"
                "\"org.nixos.specialisation.v1\":{\"deeper\":{}}}},\"org.x\":null,\"org.y\":[1,{}]}",
                &err, &r);
        CHECK(r == 0 && b, "extensions of any type and unknown v1 fields are ignored (%s)", r < 0 ? err.message : "ok");
        if (!b)
                return;
        CHECK(b->v1.initrd == NULL, "\"initrd\": null is absent");
        CHECK(b->n_specialisations == 2 && streq_null(b->specialisations[0].name, "alpha") &&
                      streq_null(b->specialisations[1].name, "zeta"),
              "specialisations are sorted by name");
        CHECK(b->nested_specialisations, "a specialisation's own specialisations are flagged, not predicted");
        predict_bootspec_free(b);
}

static void test_cmdline_osrel(void) {
        char *s = NULL;
        char *params[] = { "root=PARTUUID=ab-01", "x=\"a b\"", "name=Grüße" };
        predict_bootspec_v1 v = { .label = "NixOS L", .init = "/nix/store/t/init", .toplevel = "/t",
                                  .kernel_params = params, .n_kernel_params = 3 };

        CHECK(predict_cmdline(&v, &s) == 0 && streq_null(s, "init=/nix/store/t/init root=PARTUUID=ab-01 x=\"a b\" name=Grüße"),
              "cmdline keeps every parameter's bytes, joined by one space");
        free(s);
        v.n_kernel_params = 0;
        CHECK(predict_cmdline(&v, &s) == 0 && streq_null(s, "init=/nix/store/t/init"),
              "cmdline without parameters has no trailing space");
        free(s);
        char *empty[] = { "" };
        v.kernel_params = empty;
        v.n_kernel_params = 1;
        CHECK(predict_cmdline(&v, &s) == 0 && streq_null(s, "init=/nix/store/t/init "),
              "a synthesised empty kernel-params element gives the generation's own trailing space");
        free(s);

        const char *osr = "# comment\nNAME=NixOS\nID=nixos\n\nPRETTY_NAME=\"NixOS 24.05 (Uakari)\"\nVERSION_ID=\"24.05\"\n"
                          "not a line\nBUILD_ID=\"x\"";
        CHECK(predict_osrel(osr, strlen(osr), &v, "debug", 12, &s) == 0 &&
                      streq_null(s, "NAME=NixOS\nID=nixos\nPRETTY_NAME=\"NixOS L (Generation 12, specialisation debug)\"\n"
                                    "VERSION_ID=\"12\"\nBUILD_ID=\"x\"\n"),
              "osrel: os-release with PRETTY_NAME and VERSION_ID naming the generation");
        free(s);
        v.label = "say \"hi\" $HOME `x` \\";
        CHECK(predict_osrel(NULL, 0, &v, NULL, 3, &s) == 0 &&
                      streq_null(s, "NAME=NixOS\nID=nixos\nPRETTY_NAME=\"say \\\"hi\\\" \\$HOME \\`x\\` \\\\ (Generation 3)\"\n"
                                    "VERSION_ID=\"3\"\n"),
              "osrel without os-release, label quoted");
        free(s);
}

int main(void) {
        test_rfc_example();
        test_synthesized_fixtures();
        test_errors();
        test_shapes();
        test_cmdline_osrel();
        return tap_done();
}
