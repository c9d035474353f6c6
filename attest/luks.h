/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* LUKS2 volumes unlocked by the TPM, through libcryptsetup, in systemd-cryptenroll 252's format:
 *
 *   keyslot  a new keyslot whose passphrase is the base64 (RFC 4648, padded) of the 32 sealed bytes, with the
 *            minimal PBKDF systemd uses for high-entropy keys (PBKDF2-SHA512, 1000 iterations, no benchmark);
 *   token    a LUKS2 token of type "systemd-tpm2" with, in this order: type, keyslots ["N"], tpm2-blob
 *            (base64), tpm2-pcrs (array), tpm2-pcr-bank, tpm2-primary-alg ("ecc"/"rsa"), tpm2-policy-hash
 *            (lowercase hex), tpm2-pin (bool), and for signed policies tpm2_pubkey_pcrs and tpm2_pubkey (base64
 *            of the PEM file).
 *
 * So systemd-cryptsetup opens what `lantern luks enroll` writes and Lantern opens what systemd-cryptenroll
 * writes. A secret sealed to several PCR value sets (generations) at once has a policy systemd cannot
 * compute (a PolicyOR tree over their PolicyPCR digests), so its token is of Lantern's own type
 * "lantern-tpm2": the same fields plus tpm2-policy-branches, the PolicyPCR digest of every value set in
 * order (lowercase hex), from which unlocking rebuilds the tree (measure_policy_tree_build()). Nothing is
 * printed: errors are negative errnos with a message in errbuf naming the file and, for token JSON, the token. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "seal.h"
#include "tpm.h"

#define ATTEST_LUKS_TOKEN_TYPE "systemd-tpm2"
#define ATTEST_LUKS_TOKEN_TYPE_OR "lantern-tpm2"
/* Value sets of a lantern-tpm2 token: 2 to 64 (8 x 8, a PolicyOR tree of two levels). */
#define ATTEST_LUKS_BRANCHES_MIN 2
#define ATTEST_LUKS_BRANCHES_MAX 64
#define ATTEST_LUKS_MAX_TOKENS 32   /* LUKS2_TOKENS_MAX */
#define ATTEST_LUKS_MAX_KEYSLOTS 32 /* LUKS2_KEYSLOTS_MAX */
#define ATTEST_LUKS_TOKEN_JSON_MAX (64u << 10)
/* Passphrases read from the user or a key file. */
#define ATTEST_LUKS_PASSPHRASE_MAX (8u << 10)

typedef struct attest_luks_token {
        int id;                         /* the token's number in the header, -1 when not stored */
        int keyslot;
        uint8_t *blob;                  /* malloc'd */
        size_t blob_size;
        uint32_t pcr_mask;
        const measure_alg *bank;        /* NULL when the token names none (systemd < 250: pick automatically) */
        uint16_t primary_alg;           /* ATTEST_PRIMARY_ECC (also when absent) or ATTEST_PRIMARY_RSA */
        uint8_t policy_hash[MEASURE_DIGEST_MAX];
        size_t policy_hash_size;
        bool pin;
        char *pubkey_pem;               /* malloc'd, NUL-terminated, or NULL */
        size_t pubkey_pem_size;
        uint32_t pubkey_pcr_mask;
        bool salted_pin;                /* tpm2_salt (systemd 253+): PIN derivation Lantern does not do */
        uint8_t (*branches)[MEASURE_DIGEST_MAX]; /* lantern-tpm2: the PolicyPCR digests (32 bytes), malloc'd */
        size_t n_branches;              /* 0 for a systemd-tpm2 token, else 2 to ATTEST_LUKS_BRANCHES_MAX */
} attest_luks_token;

/* Whether a token type is one attest_luks_token_from_json() reads. */
bool attest_luks_token_type_known(const char *type);

void attest_luks_token_done(attest_luks_token *t);

/* The token as JSON text in systemd-cryptenroll 252's field order (type lantern-tpm2 with
 * tpm2-policy-branches last when n_branches > 0). *ret is malloc'd. */
int attest_luks_token_to_json(const attest_luks_token *t, char **ret);
/* Parses a systemd-tpm2 token (the fields systemd 252 reads; unknown fields are ignored as systemd does) or a
 * lantern-tpm2 token (tpm2-pcr-bank and tpm2-policy-branches required, no signed policy). */
int attest_luks_token_from_json(const char *json, attest_luks_token *ret, char *errbuf, size_t errlen);

/* systemd's passphrase for a sealed secret: base64 of the bytes. *ret is malloc'd (wipe it). */
int attest_luks_passphrase(const uint8_t *secret, size_t size, char **ret);

typedef struct attest_luks attest_luks;

/* Loads the LUKS2 header of a device or image file; -EINVAL when it holds no LUKS2 header. */
int attest_luks_open(const char *path, attest_luks **ret, char *errbuf, size_t errlen);
attest_luks *attest_luks_free(attest_luks *l);

/* Token id's type and JSON (owned by l, valid until the next call), or -ENOENT when the slot is free. */
int attest_luks_token_get(attest_luks *l, int id, const char **ret_type, const char **ret_json);

/* Token id parsed as a systemd-tpm2 or lantern-tpm2 token. -ENOENT when free, -EMEDIUMTYPE when of another
 * type. */
int attest_luks_token_load(attest_luks *l, int id, attest_luks_token *ret, char *errbuf, size_t errlen);

/* Finds a systemd-tpm2 or lantern-tpm2 token sealed to this policy digest: its id, or -ENOENT. */
int attest_luks_find_policy(attest_luks *l, const uint8_t *policy_hash, size_t size);

/* Enrolls: unlocks the volume key with passphrase, adds a keyslot for new_passphrase and the token t (its
 * keyslot field is set to the new slot). On failure nothing stays behind (the slot is removed again).
 * Returns the token id. */
int attest_luks_enroll(attest_luks *l, const char *passphrase, size_t passphrase_size, const char *new_passphrase,
                       attest_luks_token *t, char *errbuf, size_t errlen);

/* What attest_luks_wipe_tpm2() did with one token. */
typedef struct attest_luks_wiped {
        int token;
        uint32_t keyslots;      /* bit k: keyslot k */
        bool kept;              /* not removed: it shares a keyslot with the kept token or the enroll passphrase */
} attest_luks_wiped;

/* Removes every systemd-tpm2 and lantern-tpm2 token but token keep, and their keyslots (keyslots first, then
 * the token), as systemd-cryptenroll --wipe-slot=tpm2 does; for after an enroll that added keep. A token whose
 * keyslots include keep's or the keyslot the enroll passphrase opened is left whole (kept = true). The first
 * max entries of ret describe the tokens seen (*ret_n of them). Returns how many tokens were seen, or an error
 * (a token whose keyslots field cannot be read stops it, naming the token). */
int attest_luks_wipe_tpm2(attest_luks *l, int keep, attest_luks_wiped *ret, size_t max, size_t *ret_n, char *errbuf,
                          size_t errlen);

/* Unseals the token's secret (PIN and .pcrsig JSON as the token needs them; a lantern-tpm2 token through its
 * PolicyOR tree) and returns systemd's passphrase for it. Errors as attest_unseal(); -EBADMSG when a
 * lantern-tpm2 token's policy hash is not its tree's root. */
int attest_luks_token_unseal(attest_tpm *tpm, const attest_luks_token *t, const char *pin,
                             const char *signature_json, char **ret_passphrase, char *errbuf, size_t errlen);

/* Activates the volume as name through keyslot with the passphrase; with name NULL only checks that the
 * passphrase opens the keyslot (no device mapper needed). -EPERM when it does not. */
int attest_luks_activate(attest_luks *l, const char *name, int keyslot, const char *passphrase, size_t size,
                         char *errbuf, size_t errlen);
