/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "quote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "digest.h"
#include "eventlog.h"

#define PCRS_ALL ((UINT32_C(1) << MEASURE_PCR_COUNT) - 1)

static uint32_t selection_mask(const TPMS_PCR_SELECTION *s) {
        uint32_t mask = 0;
        for (size_t i = 0; i < s->sizeofSelect && i < 3; i++)
                mask |= (uint32_t) s->pcrSelect[i] << (8 * i);
        return mask;
}

static int pcrs_digest(const measure_alg *alg, const attest_pcrs *pcrs, uint32_t mask, uint8_t *ret) {
        measure_hasher *h = NULL;
        int r = measure_hasher_new(alg, &h);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < MEASURE_PCR_COUNT && r >= 0; i++)
                if (mask & (UINT32_C(1) << i))
                        r = measure_hasher_update(h, pcrs->value[i], 32);
        if (r >= 0)
                r = measure_hasher_final(h, ret);
        measure_hasher_free(h);
        return r;
}

int attest_quote_create(attest_tpm *tpm, const attest_key *ak, const uint8_t *nonce, size_t nonce_size,
                        uint32_t mask, attest_quote *ret, char *errbuf, size_t errlen) {
        ESYS_CONTEXT *ctx = attest_tpm_esys(tpm);
        const measure_alg *sha256 = measure_alg_by_id(MEASURE_ALG_SHA256);
        uint8_t values[MEASURE_PCR_COUNT][MEASURE_DIGEST_MAX];
        TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL };
        TPM2B_DATA qualifying = {};
        TPML_PCR_SELECTION sel = {
                .count = 1,
                .pcrSelections[0] = {
                        .hash = TPM2_ALG_SHA256,
                        .sizeofSelect = 3,
                        .pcrSelect = { mask & 0xff, (mask >> 8) & 0xff, (mask >> 16) & 0xff },
                },
        };
        attest_quote q = {};
        int r;

        if (!ctx || !ak || !ret || (!nonce && nonce_size) || mask == 0 || (mask & ~PCRS_ALL))
                return -EINVAL;
        if (nonce_size > ATTEST_NONCE_MAX || nonce_size > sizeof(qualifying.buffer)) {
                attest_set_error(errbuf, errlen, "nonce of %zu bytes, at most %d", nonce_size, ATTEST_NONCE_MAX);
                return -EINVAL;
        }
        if (nonce_size)
                memcpy(qualifying.buffer, nonce, nonce_size);
        qualifying.size = (UINT16) nonce_size;

        /* The PCRs may change between the quote and the read: quote again when the values read do not hash
         * to the quoted digest. */
        for (int attempt = 0; attempt < 3; attempt++) {
                TPM2B_ATTEST *attest = NULL;
                TPMT_SIGNATURE *sig = NULL;
                uint32_t got = 0;
                size_t off = 0;
                TSS2_RC rc;

                rc = Esys_Quote(ctx, ak->handle, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying, &scheme,
                                &sel, &attest, &sig);
                if (rc != TSS2_RC_SUCCESS)
                        return attest_tss_error(errbuf, errlen, "Esys_Quote", rc, -EIO);
                memcpy(q.message, attest->attestationData, attest->size);
                q.message_size = attest->size;
                rc = Tss2_MU_TPMT_SIGNATURE_Marshal(sig, q.signature, sizeof(q.signature), &off);
                Esys_Free(attest);
                Esys_Free(sig);
                if (rc != TSS2_RC_SUCCESS) {
                        attest_set_error(errbuf, errlen, "cannot marshal the quote's signature (0x%x)", (unsigned) rc);
                        return -EBADMSG;
                }
                q.signature_size = off;

                r = attest_tpm_pcr_read(tpm, sha256, mask, values, &got, errbuf, errlen);
                if (r < 0)
                        return r;
                if (got != mask) {
                        attest_set_error(errbuf, errlen, "the TPM did not return every sha256 PCR asked for (is the "
                                         "sha256 bank active?)");
                        return -ENXIO;
                }
                q.pcrs.mask = mask;
                for (unsigned i = 0; i < MEASURE_PCR_COUNT; i++)
                        if (mask & (UINT32_C(1) << i))
                                memcpy(q.pcrs.value[i], values[i], 32);

                r = attest_quote_verify(&ak->public, q.message, q.message_size, q.signature, q.signature_size,
                                        nonce, nonce_size, &q.pcrs, NULL, errbuf, errlen);
                if (r == 0) {
                        *ret = q;
                        return 0;
                }
                if (r != -EPERM)
                        return r;
        }
        return -EAGAIN;
}

int attest_quote_selection(const uint8_t *message, size_t message_size, uint32_t *ret_mask, char *errbuf,
                           size_t errlen) {
        TPMS_ATTEST attest;
        size_t off = 0;
        TSS2_RC rc;

        if (!message || !ret_mask)
                return -EINVAL;
        rc = Tss2_MU_TPMS_ATTEST_Unmarshal(message, message_size, &off, &attest);
        if (rc != TSS2_RC_SUCCESS) {
                attest_set_error(errbuf, errlen, "quote message: not a TPMS_ATTEST (%zu bytes): %s", message_size,
                                 Tss2_RC_Decode(rc));
                return -EBADMSG;
        }
        if (off != message_size) {
                attest_set_error(errbuf, errlen, "quote message: %zu trailing bytes at offset %zu", message_size - off,
                                 off);
                return -EBADMSG;
        }
        if (attest.magic != TPM2_GENERATED_VALUE || attest.type != TPM2_ST_ATTEST_QUOTE) {
                attest_set_error(errbuf, errlen, "quote message: magic 0x%08x type 0x%04x, not a TPM-generated quote",
                                 (unsigned) attest.magic, (unsigned) attest.type);
                return -EBADMSG;
        }
        const TPML_PCR_SELECTION *sel = &attest.attested.quote.pcrSelect;
        uint32_t mask = 0;
        for (size_t i = 0; i < sel->count && i < TPM2_NUM_PCR_BANKS; i++) {
                if (sel->pcrSelections[i].hash != TPM2_ALG_SHA256) {
                        attest_set_error(errbuf, errlen, "quote message: selects bank 0x%04x; only sha256 is handled",
                                         sel->pcrSelections[i].hash);
                        return -EOPNOTSUPP;
                }
                mask |= selection_mask(&sel->pcrSelections[i]);
        }
        if (mask == 0) {
                attest_set_error(errbuf, errlen, "quote message: selects no PCR");
                return -EBADMSG;
        }
        *ret_mask = mask;
        return 0;
}

/* The hash of the signature scheme, and the signature as the DER or raw bytes OpenSSL verifies. */
static int signature_for_evp(const TPMT_SIGNATURE *sig, uint16_t key_type, const measure_alg **ret_alg,
                             uint8_t *buf, size_t max, size_t *ret_size, int *ret_pss, char *errbuf, size_t errlen) {
        uint16_t hash;

        *ret_pss = 0;
        switch (sig->sigAlg) {
        case TPM2_ALG_ECDSA: {
                ECDSA_SIG *es;
                BIGNUM *r, *s;
                unsigned char *p = buf;
                int n;
                if (key_type != TPM2_ALG_ECC)
                        goto mismatch;
                hash = sig->signature.ecdsa.hash;
                if (sig->signature.ecdsa.signatureR.size > sizeof(sig->signature.ecdsa.signatureR.buffer) ||
                    sig->signature.ecdsa.signatureS.size > sizeof(sig->signature.ecdsa.signatureS.buffer))
                        goto bad;
                es = ECDSA_SIG_new();
                r = BN_bin2bn(sig->signature.ecdsa.signatureR.buffer, sig->signature.ecdsa.signatureR.size, NULL);
                s = BN_bin2bn(sig->signature.ecdsa.signatureS.buffer, sig->signature.ecdsa.signatureS.size, NULL);
                if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
                        BN_free(r);
                        BN_free(s);
                        ECDSA_SIG_free(es);
                        return -ENOMEM;
                }
                n = i2d_ECDSA_SIG(es, NULL);
                if (n <= 0 || (size_t) n > max) {
                        ECDSA_SIG_free(es);
                        goto bad;
                }
                n = i2d_ECDSA_SIG(es, &p);
                ECDSA_SIG_free(es);
                *ret_size = (size_t) n;
                break;
        }
        case TPM2_ALG_RSASSA:
        case TPM2_ALG_RSAPSS: {
                const TPMS_SIGNATURE_RSA *rs = &sig->signature.rsassa;
                if (key_type != TPM2_ALG_RSA)
                        goto mismatch;
                hash = rs->hash;
                if (rs->sig.size == 0 || rs->sig.size > sizeof(rs->sig.buffer) || rs->sig.size > max)
                        goto bad;
                memcpy(buf, rs->sig.buffer, rs->sig.size);
                *ret_size = rs->sig.size;
                *ret_pss = sig->sigAlg == TPM2_ALG_RSAPSS;
                break;
        }
        default:
                attest_set_error(errbuf, errlen, "signature scheme 0x%04x is not handled (ECDSA, RSASSA, RSAPSS are)",
                                 sig->sigAlg);
                return -EOPNOTSUPP;
        }
        *ret_alg = measure_alg_by_id(hash);
        if (!*ret_alg || !measure_alg_available(*ret_alg)) {
                attest_set_error(errbuf, errlen, "signature hash 0x%04x is not handled", hash);
                return -EOPNOTSUPP;
        }
        return 0;
mismatch:
        attest_set_error(errbuf, errlen, "signature scheme 0x%04x does not fit the AK's key type 0x%04x", sig->sigAlg,
                         key_type);
        return -EPERM;
bad:
        attest_set_error(errbuf, errlen, "signature: malformed");
        return -EBADMSG;
}

static int verify_signature(const TPM2B_PUBLIC *ak, const TPMT_SIGNATURE *sig, const uint8_t *message,
                            size_t message_size, const measure_alg **ret_alg, char *errbuf, size_t errlen) {
        uint8_t raw[sizeof(TPMT_SIGNATURE) + 16];
        size_t raw_size;
        EVP_PKEY *pkey = NULL;
        EVP_MD_CTX *md = NULL;
        EVP_PKEY_CTX *pctx = NULL;
        int pss, r;

        r = signature_for_evp(sig, ak->publicArea.type, ret_alg, raw, sizeof(raw), &raw_size, &pss, errbuf, errlen);
        if (r < 0)
                return r;
        r = attest_public_to_pkey(ak, &pkey, errbuf, errlen);
        if (r < 0)
                return r;
        md = EVP_MD_CTX_new();
        if (!md) {
                r = -ENOMEM;
                goto finish;
        }
        if (EVP_DigestVerifyInit_ex(md, &pctx, (*ret_alg)->name, NULL, NULL, pkey, NULL) <= 0 ||
            (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) <= 0))) {
                attest_set_error(errbuf, errlen, "cannot set up the signature check");
                r = -EIO;
                goto finish;
        }
        if (EVP_DigestVerify(md, raw, raw_size, message, message_size) != 1) {
                attest_set_error(errbuf, errlen, "the quote's signature does not verify with the AK");
                r = -EPERM;
                goto finish;
        }
        r = 0;
finish:
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(pkey);
        return r;
}

int attest_quote_verify(const TPM2B_PUBLIC *ak, const uint8_t *message, size_t message_size,
                        const uint8_t *signature, size_t signature_size, const uint8_t *nonce, size_t nonce_size,
                        const attest_pcrs *pcrs, uint32_t *ret_selected, char *errbuf, size_t errlen) {
        const measure_alg *alg;
        TPMS_ATTEST attest;
        TPMT_SIGNATURE sig;
        uint8_t digest[MEASURE_DIGEST_MAX];
        uint32_t mask;
        size_t off = 0;
        int r;

        if (!ak || !message || !signature)
                return -EINVAL;
        r = attest_quote_selection(message, message_size, &mask, errbuf, errlen);
        if (r < 0)
                return r;
        if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(signature, signature_size, &off, &sig) != TSS2_RC_SUCCESS ||
            off != signature_size) {
                attest_set_error(errbuf, errlen, "signature: not a TPMT_SIGNATURE (%zu bytes)", signature_size);
                return -EBADMSG;
        }
        off = 0;
        if (Tss2_MU_TPMS_ATTEST_Unmarshal(message, message_size, &off, &attest) != TSS2_RC_SUCCESS)
                return -EBADMSG; /* checked by attest_quote_selection */

        /* The signature first: nothing in an unsigned message is worth comparing. */
        r = verify_signature(ak, &sig, message, message_size, &alg, errbuf, errlen);
        if (r < 0)
                return r;

        if (nonce) {
                const TPM2B_DATA *extra = &attest.extraData;
                if (extra->size != nonce_size || CRYPTO_memcmp(extra->buffer, nonce, nonce_size) != 0) {
                        attest_set_error(errbuf, errlen,
                                         "the quote's nonce (extraData, %u bytes) is not the one expected",
                                         (unsigned) extra->size);
                        return -EPERM;
                }
        }

        if (pcrs) {
                const TPM2B_DIGEST *quoted = &attest.attested.quote.pcrDigest;
                if ((pcrs->mask & mask) != mask) {
                        attest_set_error(errbuf, errlen,
                                         "the quote selects PCRs (mask 0x%06x) whose values were not given "
                                         "(mask 0x%06x)", (unsigned) mask, (unsigned) pcrs->mask);
                        return -EBADMSG;
                }
                r = pcrs_digest(alg, pcrs, mask, digest);
                if (r < 0)
                        return r;
                if (quoted->size != alg->size || CRYPTO_memcmp(quoted->buffer, digest, alg->size) != 0) {
                        attest_set_error(errbuf, errlen, "the PCR values do not hash to the quote's PCR digest");
                        return -EPERM;
                }
        }
        if (ret_selected)
                *ret_selected = mask;
        return 0;
}

int attest_pcrs_from_values(uint32_t mask, const uint8_t *data, size_t size, attest_pcrs *ret, char *errbuf,
                            size_t errlen) {
        attest_pcrs p = { .mask = mask };
        size_t n = (size_t) __builtin_popcount(mask), k = 0;

        if (!ret || (mask & ~PCRS_ALL) || (!data && size))
                return -EINVAL;
        if (size != 32 * n) {
                attest_set_error(errbuf, errlen, "PCR values: %zu bytes for %zu sha256 PCRs (want %zu)", size, n,
                                 32 * n);
                return -EBADMSG;
        }
        for (unsigned i = 0; i < MEASURE_PCR_COUNT; i++)
                if (mask & (UINT32_C(1) << i))
                        memcpy(p.value[i], data + 32 * k++, 32);
        *ret = p;
        return 0;
}

size_t attest_pcrs_to_values(const attest_pcrs *pcrs, uint8_t *buf, size_t max) {
        size_t n = 0;
        for (unsigned i = 0; i < MEASURE_PCR_COUNT; i++)
                if (pcrs->mask & (UINT32_C(1) << i)) {
                        if (n + 32 > max)
                                return 0;
                        memcpy(buf + n, pcrs->value[i], 32);
                        n += 32;
                }
        return n;
}

int attest_eventlog_check(const uint8_t *data, size_t size, const attest_pcrs *pcrs, char *errbuf, size_t errlen) {
        measure_bank banks[MEASURE_EVENTLOG_MAX_ALGS];
        measure_eventlog log;
        measure_eventlog_error e = {};
        const measure_bank *bank = NULL;
        char want[65], got[65];
        size_t n = 0;
        int r;

        if (!data || !pcrs)
                return -EINVAL;
        r = measure_eventlog_open(data, size, &log, &e);
        if (r < 0) {
                attest_set_error(errbuf, errlen, "event log: event %zu at offset %zu: %s", e.index, e.offset,
                                 e.message);
                return -EBADMSG;
        }
        r = measure_eventlog_replay(&log, banks, &n, &e);
        if (r < 0) {
                attest_set_error(errbuf, errlen, "event log: event %zu at offset %zu: %s", e.index, e.offset,
                                 e.message);
                return -EBADMSG;
        }
        for (size_t i = 0; i < n; i++)
                if (banks[i].alg->id == MEASURE_ALG_SHA256)
                        bank = &banks[i];
        if (!bank) {
                attest_set_error(errbuf, errlen, "event log: no sha256 digests");
                return -EBADMSG;
        }
        for (unsigned pcr = 0; pcr < MEASURE_PCR_COUNT; pcr++) {
                if (!(pcrs->mask & (UINT32_C(1) << pcr)) || measure_bank_equal(bank, pcr, pcrs->value[pcr]))
                        continue;
                /* Name the last event of that PCR: the end of what the log claims. */
                measure_eventlog_iter it;
                measure_event ev;
                size_t count = 0, last_index = 0, last_offset = 0;
                uint32_t last_type = 0;
                measure_eventlog_iter_init(&it, &log);
                while (measure_eventlog_next(&it, &ev, &e) > 0)
                        if (!ev.header && ev.pcr == pcr && ev.type != MEASURE_EV_NO_ACTION) {
                                count++;
                                last_index = ev.index;
                                last_offset = ev.offset;
                                last_type = ev.type;
                        }
                measure_hex(bank->pcr[pcr], 32, want);
                measure_hex(pcrs->value[pcr], 32, got);
                if (count == 0)
                        attest_set_error(errbuf, errlen,
                                         "event log does not replay to the quoted PCR %u: the log has no "
                                         "event for it (replay %s), the quote has %s", pcr, want, got);
                else {
                        const char *tn = measure_event_type_name(last_type);
                        attest_set_error(errbuf, errlen,
                                         "event log does not replay to the quoted PCR %u: %zu events, the "
                                         "last one event %zu (%s) at offset %zu, replay to %s, the quote has %s", pcr,
                                         count, last_index, tn ? tn : "unknown type", last_offset, want, got);
                }
                return -EPERM;
        }
        return 0;
}
