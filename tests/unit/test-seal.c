/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* attest/seal.c and the token parser of attest/luks.c against swtpm; tpm2-tools (tpm2_createpolicy,
 * tpm2_startauthsession + tpm2_policypcr + tpm2_policyauthvalue in a trial session) is the oracle for policy
 * digests over given PCR values. */

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

#include "luks.h"
#include "seal.h"
#include "tap.h"
#include "tpm.h"

typedef struct swtpm {
        char dir[64];
        char tcti[96];
} swtpm;

static int run_quiet(const char *cmd) {
        char full[1024];
        snprintf(full, sizeof(full), "(TSS2_LOG=all+none; export TSS2_LOG; %s) >/dev/null 2>&1", cmd);
        int status = system(full);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int swtpm_start(swtpm *t) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/lantern-test-seal.XXXXXX");
        if (!mkdtemp(t->dir))
                return -errno;
        srand((unsigned) time(NULL) ^ (unsigned) getpid());
        for (int attempt = 0; attempt < 20; attempt++) {
                int port = 20000 + 2 * (rand() % 15000);
                char cmd[512];
                snprintf(cmd, sizeof(cmd),
                         "swtpm socket --tpm2 --server type=tcp,port=%d,bindaddr=127.0.0.1 "
                         "--ctrl type=tcp,port=%d,bindaddr=127.0.0.1 --flags not-need-init,startup-clear "
                         "--tpmstate dir=%s --daemon --pid file=%s/swtpm.pid",
                         port, port + 1, t->dir, t->dir);
                if (run_quiet(cmd) == 0) {
                        snprintf(t->tcti, sizeof(t->tcti), "swtpm:host=127.0.0.1,port=%d", port);
                        return 0;
                }
        }
        return -EADDRINUSE;
}

static void swtpm_stop(swtpm *t) {
        char path[96];
        long pid = 0;
        snprintf(path, sizeof(path), "%s/swtpm.pid", t->dir);
        FILE *f = fopen(path, "re");
        if (f) {
                if (fscanf(f, "%ld", &pid) != 1)
                        pid = 0;
                fclose(f);
        }
        if (pid > 0 && kill((pid_t) pid, SIGTERM) == 0)
                for (int i = 0; i < 100 && kill((pid_t) pid, 0) == 0; i++)
                        usleep(50 * 1000);
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", t->dir);
}

static int open_retry(const char *tcti, attest_tpm **ret) {
        char err[512];
        int r = -EIO;
        for (int i = 0; i < 100; i++) {
                r = attest_tpm_open(tcti, ret, err, sizeof(err));
                if (r == 0)
                        return 0;
                usleep(50 * 1000);
        }
        printf("# %s\n", err);
        return r;
}

static void random_bytes(uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) rand();
}

static int read_file(const char *path, uint8_t *buf, size_t max, size_t *ret_size) {
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        size_t n = fread(buf, 1, max, f);
        fclose(f);
        *ret_size = n;
        return 0;
}

int main(void) {
        const measure_alg *sha256 = measure_alg_by_name("sha256");
        attest_tpm *tpm = NULL;
        swtpm t;
        char err[1024], cmd[1024], path[128], policy_file[128];
        int r;

        setenv("TSS2_LOG", "all+none", 1);
        unsetenv("TPM2TOOLS_TCTI");
        r = swtpm_start(&t);
        CHECK(r == 0, "swtpm starts");
        if (r < 0)
                return tap_done();
        r = open_retry(t.tcti, &tpm);
        CHECK(r == 0, "open the TPM (%s)", t.tcti);
        if (r < 0) {
                swtpm_stop(&t);
                return tap_done();
        }

        /* Policy digests over given values, with and without a PIN, against tpm2-tools' trial sessions. */
        attest_seal_policy p = { .bank = sha256, .pcr_mask = (1u << 7) | (1u << 11), .have_values = true };
        random_bytes(p.values[7], 32);
        random_bytes(p.values[11], 32);
        uint8_t plain[32], with_pin[32];
        r = attest_seal_policy_digest(tpm, &p, plain, NULL, err, sizeof(err));
        CHECK(r == 0, "attest_seal_policy_digest, PolicyPCR over given sha256 values of PCR 7 and 11");
        p.pin = "1234";
        r = attest_seal_policy_digest(tpm, &p, with_pin, NULL, err, sizeof(err));
        CHECK(r == 0, "attest_seal_policy_digest with PolicyAuthValue");
        p.pin = NULL;
        tpm = attest_tpm_free(tpm); /* swtpm serves one connection at a time: let tpm2-tools in */

        snprintf(path, sizeof(path), "%s/values.bin", t.dir);
        FILE *f = fopen(path, "we");
        fwrite(p.values[7], 1, 32, f);
        fwrite(p.values[11], 1, 32, f);
        fclose(f);
        snprintf(policy_file, sizeof(policy_file), "%s/policy.bin", t.dir);
        snprintf(cmd, sizeof(cmd), "tpm2_createpolicy -T '%s' --policy-pcr -l sha256:7,11 -f '%s' -L '%s'", t.tcti,
                 path, policy_file);
        uint8_t oracle[64];
        size_t n = 0;
        CHECK(run_quiet(cmd) == 0 && read_file(policy_file, oracle, sizeof(oracle), &n) == 0 && n == 32,
              "tpm2_createpolicy --policy-pcr -l sha256:7,11 -f values");
        CHECK(n == 32 && memcmp(plain, oracle, 32) == 0, "the PolicyPCR digest equals tpm2_createpolicy's");
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && tpm2_startauthsession -T '%s' -S s.ctx && tpm2_policypcr -T '%s' -S s.ctx "
                 "-l sha256:7,11 -f values.bin && tpm2_policyauthvalue -T '%s' -S s.ctx -L pin.bin && "
                 "tpm2_flushcontext -T '%s' s.ctx",
                 t.dir, t.tcti, t.tcti, t.tcti, t.tcti);
        snprintf(policy_file, sizeof(policy_file), "%s/pin.bin", t.dir);
        n = 0;
        CHECK(run_quiet(cmd) == 0 && read_file(policy_file, oracle, sizeof(oracle), &n) == 0 && n == 32,
              "tpm2_policypcr + tpm2_policyauthvalue in a trial session");
        CHECK(n == 32 && memcmp(with_pin, oracle, 32) == 0, "PolicyPCR + PolicyAuthValue equals tpm2-tools'");
        CHECK(memcmp(plain, with_pin, 32) != 0, "the PIN changes the policy");

        r = open_retry(t.tcti, &tpm);
        if (r < 0) {
                swtpm_stop(&t);
                return tap_done();
        }

        /* Seal to the current values, unseal: the same 32 bytes. */
        attest_seal_policy cur = { .pcr_mask = 1u << 7 };
        attest_sealed sealed = {};
        uint8_t secret[ATTEST_SEAL_SECRET_SIZE], *out = NULL;
        size_t out_size = 0;
        r = attest_seal(tpm, &cur, secret, &sealed, err, sizeof(err));
        CHECK(r == 0 && sealed.blob && sealed.bank == sha256 && sealed.primary_alg == ATTEST_PRIMARY_ECC,
              "attest_seal to the current PCR 7 (bank sha256 as systemd picks it, ECC primary)");
        if (r < 0)
                printf("# %s\n", err);
        r = attest_unseal(tpm, &cur, sealed.primary_alg, sealed.blob, sealed.blob_size, sealed.policy_hash, 32, &out,
                          &out_size, err, sizeof(err));
        CHECK(r == 0 && out_size == 32 && memcmp(out, secret, 32) == 0, "attest_unseal gives the sealed bytes");
        free(out);
        out = NULL;
        uint8_t auth[64];
        size_t auth_size = 0;
        CHECK(attest_seal_blob_check(sealed.blob, sealed.blob_size, auth, &auth_size, err, sizeof(err)) == 0 &&
                      auth_size == 32 && memcmp(auth, sealed.policy_hash, 32) == 0,
              "the blob's authPolicy is the recorded policy digest");

        /* Every truncation of the blob, and a trailing byte, is refused before the TPM sees it. */
        bool all_refused = true;
        for (size_t cut = 0; cut < sealed.blob_size; cut++)
                if (attest_seal_blob_check(sealed.blob, cut, NULL, NULL, err, sizeof(err)) != -EBADMSG)
                        all_refused = false;
        CHECK(all_refused, "every truncated blob (%zu cuts) is refused with -EBADMSG", sealed.blob_size);
        uint8_t *longer = malloc(sealed.blob_size + 1);
        memcpy(longer, sealed.blob, sealed.blob_size);
        longer[sealed.blob_size] = 0;
        r = attest_unseal(tpm, &cur, sealed.primary_alg, longer, sealed.blob_size + 1, NULL, 0, &out, &out_size, err,
                          sizeof(err));
        CHECK(r == -EBADMSG && strstr(err, "1 trailing bytes at offset"), "a trailing byte is refused: %s", err);
        free(longer);

        /* A blob whose private part was altered does not load: the TPM's integrity check. */
        sealed.blob[10] ^= 0x55;
        r = attest_unseal(tpm, &cur, sealed.primary_alg, sealed.blob, sealed.blob_size, sealed.policy_hash, 32, &out,
                          &out_size, err, sizeof(err));
        CHECK(r == -EXDEV, "a corrupted private part is refused by the TPM (Esys_Load): %s", err);
        attest_sealed_done(&sealed);

        /* PIN: the right one unseals, a wrong one is -EACCES. */
        cur.pin = "2468";
        r = attest_seal(tpm, &cur, secret, &sealed, err, sizeof(err));
        CHECK(r == 0, "attest_seal with a PIN");
        r = attest_unseal(tpm, &cur, sealed.primary_alg, sealed.blob, sealed.blob_size, sealed.policy_hash, 32, &out,
                          &out_size, err, sizeof(err));
        CHECK(r == 0 && out_size == 32 && memcmp(out, secret, 32) == 0, "the right PIN unseals");
        free(out);
        out = NULL;
        cur.pin = "1357";
        r = attest_unseal(tpm, &cur, sealed.primary_alg, sealed.blob, sealed.blob_size, NULL, 0, &out, &out_size, err,
                          sizeof(err));
        CHECK(r == -EACCES && out == NULL, "a wrong PIN is -EACCES: %s", err);
        attest_sealed_done(&sealed);

        /* Predicted values the TPM does not have: sealing works, unsealing is -EPERM. */
        r = attest_seal(tpm, &p, secret, &sealed, err, sizeof(err));
        CHECK(r == 0 && memcmp(sealed.policy_hash, plain, 32) == 0,
              "attest_seal to given values records the tpm2_createpolicy digest");
        attest_seal_policy now = { .bank = sha256, .pcr_mask = p.pcr_mask };
        r = attest_unseal(tpm, &now, sealed.primary_alg, sealed.blob, sealed.blob_size, sealed.policy_hash, 32, &out,
                          &out_size, err, sizeof(err));
        CHECK(r == -EPERM && strstr(err, "do not satisfy the sealed policy"), "unsealing with other PCRs is -EPERM");
        r = attest_unseal(tpm, &now, sealed.primary_alg, sealed.blob, sealed.blob_size, NULL, 0, &out, &out_size, err,
                          sizeof(err));
        CHECK(r == -EPERM, "without the recorded digest the TPM itself refuses (-EPERM): %s", err);
        attest_sealed_done(&sealed);

        /* Malformed tokens: refused, no crash (the sanitizer build runs this too). */
#define Z32 "0000000000000000000000000000000000000000000000000000000000000000"
        static const char *const bad_tokens[] = {
                "",
                "[]",
                "{\"type\":\"clevis\",\"keyslots\":[\"1\"]}",
                "{\"type\":\"systemd-tpm2\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[1],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"00\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"x\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"00\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"00\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[-1],\"tpm2-policy-hash\":\"00\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"0\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"00\",\"tpm2-pcr-bank\":\"md5\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"00\",\"tpm2-primary-alg\":\"dsa\"}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"00\",\"tpm2-pin\":1}",
                "{\"type\":\"systemd-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"00\",\"tpm2_pubkey_pcrs\":[11]}",
                /* lantern-tpm2: no branches, too few, not hex, a short policy hash, no bank */
                "{\"type\":\"lantern-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-policy-hash\":\"" Z32 "\"}",
                "{\"type\":\"lantern-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-policy-hash\":\"" Z32 "\",\"tpm2-policy-branches\":[\"" Z32 "\"]}",
                "{\"type\":\"lantern-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-policy-hash\":\"" Z32 "\",\"tpm2-policy-branches\":[\"" Z32 "\",\"x" Z32 "\"]}",
                "{\"type\":\"lantern-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-pcr-bank\":\"sha256\",\"tpm2-policy-hash\":\"00\",\"tpm2-policy-branches\":[\"" Z32 "\",\"" Z32 "\"]}",
                "{\"type\":\"lantern-tpm2\",\"keyslots\":[\"1\"],\"tpm2-blob\":\"AAAA\",\"tpm2-pcrs\":[7],\"tpm2-policy-hash\":\"" Z32 "\",\"tpm2-policy-branches\":[\"" Z32 "\",\"" Z32 "\"]}",
        };
        bool refused = true;
        for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
                attest_luks_token tok;
                err[0] = '\0';
                if (attest_luks_token_from_json(bad_tokens[i], &tok, err, sizeof(err)) >= 0) {
                        printf("# accepted: %s\n", bad_tokens[i]);
                        attest_luks_token_done(&tok);
                        refused = false;
                } else if (!err[0])
                        refused = false;
        }
        CHECK(refused, "%zu malformed tokens are refused with a message", sizeof(bad_tokens) / sizeof(bad_tokens[0]));

        attest_tpm_free(tpm);
        swtpm_stop(&t);
        return tap_done();
}
