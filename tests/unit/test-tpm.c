/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* attest/tpm.c against swtpm; tpm2-tools (tpm2_pcrextend, tpm2_pcrread, tpm2_getcap) is the oracle. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "tpm.h"

typedef struct swtpm {
        char dir[64];
        char tcti[96];
        int port;
} swtpm;

static int run_argv(char *const argv[]) {
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0) {
                        dup2(null, STDOUT_FILENO);
                        dup2(null, STDERR_FILENO);
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

static pid_t swtpm_pid(const swtpm *t) {
        char path[96];
        long pid = 0;
        snprintf(path, sizeof(path), "%s/swtpm.pid", t->dir);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        if (fscanf(f, "%ld", &pid) != 1)
                pid = 0;
        fclose(f);
        return (pid_t) pid;
}

/* Starts swtpm on a random loopback port pair in a fresh directory; extra_flags is the --flags value. */
static int swtpm_start(swtpm *t, const char *flags) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/lantern-test-tpm.XXXXXX");
        if (!mkdtemp(t->dir))
                return -errno;
        srand((unsigned) time(NULL) ^ (unsigned) getpid());
        for (int attempt = 0; attempt < 20; attempt++) {
                char server[96], ctrl[96], state[96], pidf[96];
                t->port = 20000 + 2 * (rand() % 15000);
                snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1", t->port);
                snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1", t->port + 1);
                snprintf(state, sizeof(state), "dir=%s", t->dir);
                snprintf(pidf, sizeof(pidf), "file=%s/swtpm.pid", t->dir);
                char *argv[] = { "swtpm", "socket", "--tpm2", "--server", server, "--ctrl", ctrl,
                                 "--flags", (char *) flags, "--tpmstate", state, "--daemon", "--pid", pidf, NULL };
                if (run_argv(argv) == 0) {
                        snprintf(t->tcti, sizeof(t->tcti), "swtpm:host=127.0.0.1,port=%d", t->port);
                        return 0;
                }
        }
        return -EADDRINUSE;
}

static void swtpm_stop(swtpm *t) {
        pid_t pid = swtpm_pid(t);
        if (pid > 0 && kill(pid, SIGTERM) == 0)
                for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
                        usleep(50 * 1000);
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", t->dir);
}

/* Opens the TPM, retrying while swtpm is still coming up. */
static int open_retry(const char *tcti, attest_tpm **ret, char *err, size_t errlen) {
        int r = -EIO;
        for (int i = 0; i < 100; i++) {
                r = attest_tpm_open(tcti, ret, err, errlen);
                if (r == 0)
                        return 0;
                usleep(50 * 1000);
        }
        return r;
}

/* tpm2_pcrread -T tcti SPEC, parsed: values[bank index][pcr], mask per bank. */
static int oracle_pcrread(const char *tcti, const char *spec, const measure_alg *banks, size_t n_banks,
                          uint8_t values[][MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX], uint32_t *masks) {
        char cmd[256], line[512];
        int bank = -1;
        snprintf(cmd, sizeof(cmd), "TSS2_LOG=all+none tpm2_pcrread -T '%s' %s", tcti, spec);
        FILE *f = popen(cmd, "r");
        if (!f)
                return -errno;
        memset(masks, 0, n_banks * sizeof(*masks));
        while (fgets(line, sizeof(line), f)) {
                char name[32], hex[160];
                unsigned pcr;
                if (line[0] == ' ' && line[1] == ' ' && line[2] != ' ' && sscanf(line, "  %31[a-z0-9_]:", name) == 1) {
                        bank = -1;
                        for (size_t i = 0; i < n_banks; i++)
                                if (strcmp(banks[i].name, name) == 0)
                                        bank = (int) i;
                } else if (bank >= 0 && sscanf(line, " %u : 0x%150s", &pcr, hex) == 2 && pcr < MEASURE_PCR_COUNT) {
                        if (measure_unhex(hex, values[bank][pcr], banks[bank].size) == 0)
                                masks[bank] |= UINT32_C(1) << pcr;
                }
        }
        return pclose(f) == 0 ? 0 : -EIO;
}

static const measure_alg *alg(const char *name) {
        return measure_alg_by_name(name);
}

int main(void) {
        swtpm t, t2;
        attest_tpm *tpm = NULL, *sentinel = (attest_tpm *) &t;
        char err[512];
        int r;

        setenv("TSS2_LOG", "all+none", 1);
        unsetenv("TPM2TOOLS_TCTI");

        r = swtpm_start(&t, "not-need-init,startup-clear");
        CHECK(r == 0, "swtpm starts (%s)", t.tcti);
        if (r < 0)
                return tap_done();

        r = open_retry(t.tcti, &tpm, err, sizeof(err));
        CHECK(r == 0 && tpm, "open with an explicit TCTI conf (Startup already done by swtpm is tolerated)");
        if (r < 0) {
                printf("# %s\n", err);
                swtpm_stop(&t);
                return tap_done();
        }

        /* Which banks are active: tpm2_getcap pcrs lists "  - sha256: [ 0, 1, ... ]" for allocated ones. */
        {
                const measure_alg *banks[8];
                size_t n = 99;
                char cmd[256], line[512], want[128] = "", got[128] = "";
                snprintf(cmd, sizeof(cmd), "TSS2_LOG=all+none tpm2_getcap -T '%s' pcrs", t.tcti);
                FILE *f = popen(cmd, "r");
                while (f && fgets(line, sizeof(line), f)) {
                        char name[32];
                        if (sscanf(line, " - %31[a-z0-9_]: [ %*d", name) == 1 && !strstr(line, "[ ]")) {
                                strcat(want, name);
                                strcat(want, " ");
                        }
                }
                if (f)
                        pclose(f);
                r = attest_tpm_active_banks(tpm, banks, 8, &n, err, sizeof(err));
                for (size_t i = 0; r == 0 && i < n; i++) {
                        strcat(got, banks[i]->name);
                        strcat(got, " ");
                }
                CHECK(r == 0 && strcmp(got, want) == 0, "active banks '%s' equal tpm2_getcap pcrs '%s'", got, want);
                CHECK(strcmp(want, "sha1 sha256 sha384 sha512 ") == 0, "swtpm without swtpm_setup: four banks");

                size_t n2 = 77;
                const measure_alg *first = NULL;
                r = attest_tpm_active_banks(tpm, &first, 1, &n2, err, sizeof(err));
                CHECK(r == -ENOBUFS && n2 == 77 && !first, "active banks: too small an array is refused, outputs untouched");
        }

        /* Extend through the oracle, then compare every PCR of every bank. */
        {
                static const char *const extends[] = {
                        "0:sha1=0101010101010101010101010101010101010101",
                        "0:sha256=0202020202020202020202020202020202020202020202020202020202020202",
                        "7:sha384=030303030303030303030303030303030303030303030303"
                        "030303030303030303030303030303030303030303030303",
                        "8:sha512=04040404040404040404040404040404040404040404040404040404040404040404040404040404"
                        "040404040404040404040404040404040404040404040404",
                        "11:sha256=0505050505050505050505050505050505050505050505050505050505050505",
                        "16:sha1=0606060606060606060606060606060606060606,"
                        "sha256=0707070707070707070707070707070707070707070707070707070707070707",
                        "23:sha256=0808080808080808080808080808080808080808080808080808080808080808",
                };
                bool extended = true;
                for (size_t i = 0; i < sizeof(extends) / sizeof(extends[0]); i++) {
                        char *argv[] = { "tpm2_pcrextend", "-T", t.tcti, (char *) extends[i], NULL };
                        extended &= run_argv(argv) == 0;
                }
                CHECK(extended, "tpm2_pcrextend into PCRs 0,7,8,11,16,23");

                static uint8_t want[4][MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX], got[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
                uint32_t masks[4];
                size_t n_algs;
                const measure_alg *algs = measure_alg_list(&n_algs);
                r = oracle_pcrread(t.tcti, "sha1:all+sha256:all+sha384:all+sha512:all", algs, 4, want, masks);
                CHECK(r == 0 && masks[0] == 0xffffff && masks[3] == 0xffffff, "oracle: tpm2_pcrread gives 24 PCRs per bank");
                for (size_t b = 0; b < 4; b++) {
                        uint32_t read = 0;
                        memset(got, 0xaa, sizeof(got));
                        r = attest_tpm_pcr_read(tpm, &algs[b], 0xffffff, got, &read, err, sizeof(err));
                        bool same = true;
                        for (unsigned p = 0; p < MEASURE_PCR_COUNT; p++)
                                same &= memcmp(got[p], want[b][p], algs[b].size) == 0;
                        CHECK(r == 0 && read == 0xffffff && same, "%s PCRs 0-23 (three TPM2_PCR_Read calls) equal tpm2_pcrread",
                              algs[b].name);
                }

                /* A sparse selection: only those PCRs are written. */
                uint32_t read = 0;
                memset(got, 0xaa, sizeof(got));
                r = attest_tpm_pcr_read(tpm, alg("sha256"), (1u << 0) | (1u << 11) | (1u << 23), got, &read, err,
                                        sizeof(err));
                uint8_t untouched[MEASURE_DIGEST_MAX];
                memset(untouched, 0xaa, sizeof(untouched));
                CHECK(r == 0 && read == ((1u << 0) | (1u << 11) | (1u << 23)), "sha256 PCRs 0,11,23: read mask");
                CHECK_MEM(got[11], want[1][11], 32, "sha256 PCR 11 equals tpm2_pcrread");
                CHECK_MEM(got[23], want[1][23], 32, "sha256 PCR 23 equals tpm2_pcrread");
                CHECK_MEM(got[1], untouched, 32, "sha256 PCR 1 (not asked for) is untouched");

                read = 12345;
                r = attest_tpm_pcr_read(tpm, alg("sha256"), 1u << 24, got, &read, err, sizeof(err));
                CHECK(r == -EINVAL && read == 12345, "PCR 24 is refused, read mask untouched");
        }

        /* swtpm (libtpms) has no SM3: the TPM error comes back in tpm2-tools' shape. */
        {
                static uint8_t got[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
                uint32_t read = 12345;
                err[0] = 0;
                r = attest_tpm_pcr_read(tpm, alg("sm3_256"), 1, got, &read, err, sizeof(err));
                CHECK(r < 0 && read == 12345, "sm3_256 bank on swtpm: error (%d)", r);
                CHECK(strncmp(err, "Esys_PCR_Read(0x1c3) - ", 23) == 0 && strstr(err, "hash algorithm"),
                      "error message: '%s'", err);
                /* A short errbuf is truncated, not overrun. */
                char small[8];
                memset(small, 'x', sizeof(small));
                attest_tpm_pcr_read(tpm, alg("sm3_256"), 1, got, &read, small, 5);
                CHECK(memcmp(small, "Esys", 5) == 0 && small[4] == 0 && small[5] == 'x', "errbuf of 5 bytes: 'Esys'");
                CHECK(attest_tpm_pcr_read(tpm, alg("sm3_256"), 1, got, &read, NULL, 0) < 0, "errbuf may be NULL");
        }
        CHECK(attest_tpm_esys(tpm) != NULL, "the ESAPI context is available to other attest/ code");
        tpm = attest_tpm_free(tpm);
        CHECK(!tpm && !attest_tpm_free(NULL), "free returns NULL and accepts NULL");

        /* TCTI resolution like tpm2-tools: --tcti, else $TPM2TOOLS_TCTI, else the default. */
        {
                char bad[96];
                snprintf(bad, sizeof(bad), "swtpm:host=127.0.0.1,port=%d", t.port + 1000);

                setenv("TPM2TOOLS_TCTI", t.tcti, 1);
                r = attest_tpm_open(NULL, &tpm, err, sizeof(err));
                CHECK(r == 0, "open(NULL) uses $TPM2TOOLS_TCTI");
                tpm = attest_tpm_free(tpm);
                r = attest_tpm_open("", &tpm, err, sizeof(err));
                CHECK(r == 0, "open(\"\") uses $TPM2TOOLS_TCTI");
                tpm = attest_tpm_free(tpm);

                setenv("TPM2TOOLS_TCTI", bad, 1);
                r = attest_tpm_open(t.tcti, &tpm, err, sizeof(err));
                CHECK(r == 0, "an explicit conf wins over $TPM2TOOLS_TCTI");
                tpm = attest_tpm_free(tpm);

                attest_tpm *out = sentinel;
                r = attest_tpm_open(NULL, &out, err, sizeof(err));
                char want[160];
                snprintf(want, sizeof(want), "cannot open TCTI '%s': Tss2_TctiLdr_Initialize(0x", bad);
                CHECK(r < 0 && out == sentinel, "unreachable TPM from $TPM2TOOLS_TCTI: error, output untouched");
                CHECK(strncmp(err, want, strlen(want)) == 0, "error message: '%s'", err);
                unsetenv("TPM2TOOLS_TCTI");

                r = attest_tpm_open("nosuchtcti", &out, err, sizeof(err));
                CHECK(r < 0 && out == sentinel && strstr(err, "cannot open TCTI 'nosuchtcti'"),
                      "unknown TCTI module: '%s'", err);
        }
        swtpm_stop(&t);

        /* A TPM that has not been started: open issues TPM2_Startup(CLEAR) itself. */
        r = swtpm_start(&t2, "not-need-init");
        CHECK(r == 0, "swtpm without startup-clear starts (%s)", t2.tcti);
        if (r == 0) {
                r = open_retry(t2.tcti, &tpm, err, sizeof(err));
                CHECK(r == 0, "open runs TPM2_Startup on a fresh TPM");
                static uint8_t got[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX], want[1][MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
                uint32_t read = 0, mask = 0;
                r = attest_tpm_pcr_read(tpm, alg("sha256"), 0xffffff, got, &read, err, sizeof(err));
                int o = oracle_pcrread(t2.tcti, "sha256:all", alg("sha256"), 1, want, &mask);
                bool same = r == 0 && o == 0 && read == 0xffffff && mask == 0xffffff;
                for (unsigned p = 0; same && p < MEASURE_PCR_COUNT; p++)
                        same &= memcmp(got[p], want[0][p], 32) == 0;
                CHECK(same, "after our Startup, sha256 PCRs 0-23 equal tpm2_pcrread");
                tpm = attest_tpm_free(tpm);
                swtpm_stop(&t2);
        }
        return tap_done();
}
