/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tpm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

struct attest_tpm {
        TSS2_TCTI_CONTEXT *tcti;
        ESYS_CONTEXT *esys;
};

/* The TCTI tpm2-tools would use: --tcti, else $TPM2TOOLS_TCTI, else NULL (tctildr's default). */
static const char *tcti_resolve(const char *conf) {
        if (conf && *conf)
                return conf;
        const char *env = getenv("TPM2TOOLS_TCTI");
        if (env && *env)
                return env;
        return NULL;
}

void attest_set_error(char *errbuf, size_t errlen, const char *fmt, ...) {
        if (!errbuf || errlen == 0)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
}

int attest_tss_error(char *errbuf, size_t errlen, const char *call, uint32_t rc, int r) {
        attest_set_error(errbuf, errlen, "%s(0x%x) - %s", call, (unsigned) rc, Tss2_RC_Decode(rc));
        return r;
}

int attest_tpm_open(const char *tcti_conf, attest_tpm **ret, char *errbuf, size_t errlen) {
        const char *conf = tcti_resolve(tcti_conf);
        attest_tpm *tpm;
        TSS2_RC rc;
        int r;

        if (!ret)
                return -EINVAL;
        tpm = calloc(1, sizeof(*tpm));
        if (!tpm) {
                attest_set_error(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }

        rc = Tss2_TctiLdr_Initialize(conf, &tpm->tcti);
        if (rc != TSS2_RC_SUCCESS) {
                attest_set_error(errbuf, errlen, "cannot open TCTI '%s': Tss2_TctiLdr_Initialize(0x%x) - %s",
                                 conf ? conf : "(default)", (unsigned) rc, Tss2_RC_Decode(rc));
                tpm->tcti = NULL;
                r = -ENXIO;
                goto fail;
        }

        rc = Esys_Initialize(&tpm->esys, tpm->tcti, /* abiVersion= */ NULL);
        if (rc != TSS2_RC_SUCCESS) {
                tpm->esys = NULL;
                r = attest_tss_error(errbuf, errlen, "Esys_Initialize", rc, -EIO);
                goto fail;
        }

        /* A booted machine's TPM (and swtpm with startup-clear) is already started: that is fine. */
        rc = Esys_Startup(tpm->esys, TPM2_SU_CLEAR);
        if (rc != TSS2_RC_SUCCESS && rc != TPM2_RC_INITIALIZE) {
                r = attest_tss_error(errbuf, errlen, "Esys_Startup", rc, -EIO);
                goto fail;
        }

        *ret = tpm;
        return 0;
fail:
        attest_tpm_free(tpm);
        return r;
}

attest_tpm *attest_tpm_free(attest_tpm *tpm) {
        if (!tpm)
                return NULL;
        if (tpm->esys)
                Esys_Finalize(&tpm->esys);
        if (tpm->tcti)
                Tss2_TctiLdr_Finalize(&tpm->tcti);
        free(tpm);
        return NULL;
}

struct ESYS_CONTEXT *attest_tpm_esys(attest_tpm *tpm) {
        return tpm ? tpm->esys : NULL;
}

static bool selection_empty(const TPMS_PCR_SELECTION *s) {
        for (size_t i = 0; i < s->sizeofSelect && i < sizeof(s->pcrSelect); i++)
                if (s->pcrSelect[i])
                        return false;
        return true;
}

int attest_tpm_active_banks(attest_tpm *tpm, const measure_alg **ret, size_t max, size_t *ret_n, char *errbuf,
                            size_t errlen) {
        TPMS_CAPABILITY_DATA *cap = NULL;
        TPMI_YES_NO more = TPM2_NO;
        const measure_alg *found[8];
        size_t n_found = 0, n_algs;
        const measure_alg *algs = measure_alg_list(&n_algs);
        TSS2_RC rc;

        if (!tpm || !ret || !ret_n)
                return -EINVAL;

        rc = Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS,
                                /* property= */ 0, /* propertyCount= */ 1, &more, &cap);
        if (rc != TSS2_RC_SUCCESS)
                return attest_tss_error(errbuf, errlen, "Esys_GetCapability", rc, -EIO);
        if (cap->capability != TPM2_CAP_PCRS) {
                attest_set_error(errbuf, errlen, "Esys_GetCapability(TPM2_CAP_PCRS) returned capability 0x%x",
                                 (unsigned) cap->capability);
                Esys_Free(cap);
                return -EBADMSG;
        }

        /* Walk the registry so the result has its order; banks the registry does not know are skipped. */
        const TPML_PCR_SELECTION *sel = &cap->data.assignedPCR;
        size_t count = sel->count < TPM2_NUM_PCR_BANKS ? sel->count : TPM2_NUM_PCR_BANKS;
        for (size_t a = 0; a < n_algs && n_found < sizeof(found) / sizeof(found[0]); a++)
                for (size_t i = 0; i < count; i++)
                        if (sel->pcrSelections[i].hash == algs[a].id && !selection_empty(&sel->pcrSelections[i])) {
                                found[n_found++] = &algs[a];
                                break;
                        }
        Esys_Free(cap);

        if (n_found > max) {
                attest_set_error(errbuf, errlen, "the TPM has %zu active banks, more than the %zu expected", n_found,
                                 max);
                return -ENOBUFS;
        }
        memcpy(ret, found, n_found * sizeof(found[0]));
        *ret_n = n_found;
        return 0;
}

static uint32_t selection_mask(const TPMS_PCR_SELECTION *s) {
        uint32_t mask = 0;
        for (size_t i = 0; i < s->sizeofSelect && i < 4 && i < sizeof(s->pcrSelect); i++)
                mask |= (uint32_t) s->pcrSelect[i] << (8 * i);
        return mask;
}

int attest_tpm_pcr_read(attest_tpm *tpm, const measure_alg *alg, uint32_t mask,
                        uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX], uint32_t *ret_read_mask,
                        char *errbuf, size_t errlen) {
        const uint32_t all = (UINT32_C(1) << MEASURE_PCR_COUNT) - 1;
        uint8_t out[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
        uint32_t pending = mask, got = 0;

        if (!tpm || !alg || !values || !ret_read_mask || (mask & ~all) || alg->size > MEASURE_DIGEST_MAX)
                return -EINVAL;

        /* One TPM2_PCR_Read returns at most 8 digests; ask again for what is still missing. */
        while (pending) {
                TPML_PCR_SELECTION in = {
                        .count = 1,
                        .pcrSelections[0] = {
                                .hash = alg->id,
                                .sizeofSelect = 3,
                                .pcrSelect = { pending & 0xff, (pending >> 8) & 0xff, (pending >> 16) & 0xff },
                        },
                };
                TPML_PCR_SELECTION *sel_out = NULL;
                TPML_DIGEST *digests = NULL;
                UINT32 update_counter;
                TSS2_RC rc;

                rc = Esys_PCR_Read(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &in, &update_counter,
                                   &sel_out, &digests);
                if (rc != TSS2_RC_SUCCESS)
                        return attest_tss_error(errbuf, errlen, "Esys_PCR_Read", rc, -EIO);

                uint32_t returned = 0;
                for (size_t i = 0; i < sel_out->count && i < TPM2_NUM_PCR_BANKS; i++)
                        if (sel_out->pcrSelections[i].hash == alg->id)
                                returned |= selection_mask(&sel_out->pcrSelections[i]);

                int r = 0;
                if (returned & ~pending) {
                        attest_set_error(errbuf, errlen,
                                         "Esys_PCR_Read: the TPM returned PCRs that were not asked for");
                        r = -EBADMSG;
                } else if ((size_t) __builtin_popcount(returned) != digests->count) {
                        attest_set_error(errbuf, errlen, "Esys_PCR_Read: %u digests for %d selected PCRs",
                                         (unsigned) digests->count, __builtin_popcount(returned));
                        r = -EBADMSG;
                } else {
                        /* Digests come in ascending PCR order of the returned selection. */
                        size_t d = 0;
                        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT && r == 0; pcr++) {
                                if (!(returned & (UINT32_C(1) << pcr)))
                                        continue;
                                if (digests->digests[d].size != alg->size) {
                                        attest_set_error(errbuf, errlen,
                                                         "Esys_PCR_Read: %s PCR %u has %u bytes, expected %zu",
                                                         alg->name, pcr, (unsigned) digests->digests[d].size,
                                                         alg->size);
                                        r = -EBADMSG;
                                        break;
                                }
                                memcpy(out[pcr], digests->digests[d].buffer, alg->size);
                                d++;
                        }
                }
                Esys_Free(sel_out);
                Esys_Free(digests);
                if (r < 0)
                        return r;
                if (!returned)
                        break; /* an inactive bank, or PCRs this TPM does not have */
                got |= returned;
                pending &= ~returned;
        }

        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++)
                if (got & (UINT32_C(1) << pcr))
                        memcpy(values[pcr], out[pcr], alg->size);
        *ret_read_mask = got;
        return 0;
}
