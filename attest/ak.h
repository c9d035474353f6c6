/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The endorsement key (EK) and the attestation key (AK).
 *
 * EK: the RSA 2048 EK of the TCG EK Credential Profile (template L-1), used at its persistent handle
 * 0x81010001 when the TPM has one there, else created from the template in the endorsement hierarchy. Its
 * certificate is read from NV index 0x01c00002. The machine's identity is the SHA-256 of the certificate's
 * SubjectPublicKeyInfo (DER), as lowercase hex.
 *
 * AK: a restricted ECDSA P-256 signing key (SHA-256), a primary key of the owner hierarchy: the same template
 * gives the same key on the same TPM, so the AK needs no storage and is recreated on each run. An AK is bound
 * to a genuine TPM by credential activation: the verifier encrypts a credential to the EK's public key and
 * the AK's name (TPM2_MakeCredential, done in software), and only the TPM holding both can recover it
 * (TPM2_ActivateCredential).
 *
 * Errors are a negative errno with a message in errbuf; nothing is printed. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "tpm.h"

#define ATTEST_EK_CERT_RSA_NV 0x01c00002u
#define ATTEST_EK_RSA_HANDLE 0x81010001u
#define ATTEST_EK_CERT_MAX 8192
#define ATTEST_MACHINE_ID_LEN 64 /* hex characters */

/* Reads the RSA EK certificate (DER) from NV. *ret is malloc'd. */
int attest_ek_cert_read(attest_tpm *tpm, uint8_t **ret, size_t *ret_size, char *errbuf, size_t errlen);

/* The machine identity of an EK certificate: hex SHA-256 of its SubjectPublicKeyInfo. */
int attest_machine_id(const uint8_t *cert_der, size_t size, char ret[ATTEST_MACHINE_ID_LEN + 1], char *errbuf,
                      size_t errlen);

/* An ESYS handle of the RSA EK (persistent, or created from the template; flush with attest_key_release). */
typedef struct attest_key {
        uint32_t handle; /* ESYS_TR */
        int transient;   /* created here: flushed on release */
        TPM2B_PUBLIC public;
        TPM2B_NAME name;
} attest_key;

int attest_ek_load(attest_tpm *tpm, attest_key *ret, char *errbuf, size_t errlen);
int attest_ak_create(attest_tpm *tpm, attest_key *ret, char *errbuf, size_t errlen);
void attest_key_release(attest_tpm *tpm, attest_key *key);

/* TPM2_ActivateCredential with the EK (policy session: PolicySecret(TPM_RH_ENDORSEMENT)) and the AK.
 * blob is a marshalled TPM2B_ID_OBJECT, secret a marshalled TPM2B_ENCRYPTED_SECRET. Writes the credential
 * (at most 64 bytes) to ret and its length to *ret_size. */
int attest_ak_activate(attest_tpm *tpm, const attest_key *ak, const attest_key *ek, const uint8_t *blob,
                       size_t blob_size, const uint8_t *secret, size_t secret_size, uint8_t ret[64],
                       size_t *ret_size, char *errbuf, size_t errlen);

/* A marshalled TPM2B_PUBLIC, all bytes consumed. */
int attest_public_parse(const uint8_t *data, size_t size, TPM2B_PUBLIC *ret, char *errbuf, size_t errlen);
int attest_public_marshal(const TPM2B_PUBLIC *pub, uint8_t *buf, size_t max, size_t *ret_size);
/* The object's name: nameAlg (big endian) || H_nameAlg(marshalled TPMT_PUBLIC). */
int attest_public_name(const TPM2B_PUBLIC *pub, TPM2B_NAME *ret, char *errbuf, size_t errlen);
/* Refuses a key that is not a restricted signing key created and kept inside a TPM (fixedTPM, fixedParent,
 * sensitiveDataOrigin, restricted, sign, not decrypt) with a SHA-256 name and an RSA or ECC public part. */
int attest_ak_check(const TPM2B_PUBLIC *pub, char *errbuf, size_t errlen);
/* The public key as an OpenSSL key (RSA n/e, or ECC NIST P-256/P-384 point). */
int attest_public_to_pkey(const TPM2B_PUBLIC *pub, EVP_PKEY **ret, char *errbuf, size_t errlen);
