/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TPM2_MakeCredential in software (TPM 2.0 Part 1, 24 "Credential Protection"), for an RSA EK with the
 * default EK template (nameAlg SHA-256, AES-128-CFB): a random seed encrypted to the EK with RSA-OAEP
 * (label "IDENTITY"), the credential encrypted with KDFa(seed, "STORAGE", AK name) and protected by an HMAC
 * keyed with KDFa(seed, "INTEGRITY"). Only the TPM holding the EK, with the AK of that name loaded, recovers
 * the credential with TPM2_ActivateCredential. */

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

/* KDFa of TPM 2.0 Part 1, 11.4.10.2, with HMAC-SHA256: bits/8 bytes into ret. */
int verifier_kdfa_sha256(const uint8_t *key, size_t key_size, const char *label, const uint8_t *context_u,
                         size_t u_size, const uint8_t *context_v, size_t v_size, uint32_t bits, uint8_t *ret);

/* ek: the EK's public key (RSA, from its certificate). Writes the marshalled TPM2B_ID_OBJECT and
 * TPM2B_ENCRYPTED_SECRET. */
int verifier_make_credential(EVP_PKEY *ek, const TPM2B_NAME *ak_name, const uint8_t *credential,
                             size_t credential_size, TPM2B_ID_OBJECT *ret_blob, TPM2B_ENCRYPTED_SECRET *ret_secret,
                             char *errbuf, size_t errlen);
