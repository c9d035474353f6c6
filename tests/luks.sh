#!/bin/bash
# LUKS2 file images for the luks tests; sourced after tests/lib.sh, uses the test's $W and $PW.

# image NAME: a fresh LUKS2 file image $W/NAME with passphrase $PW (fast PBKDF: only the test's time matters).
image() {
        rm -f "$W/$1"
        truncate -s 20M "$W/$1" &&
        printf '%s' "$PW" | cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 \
                --pbkdf-force-iterations 1000 "$W/$1" - >/dev/null
}
# export_token IMG TOKEN: the token's JSON as cryptsetup stores it.
export_token() { cryptsetup token export --token-id "$2" "$W/$1"; }
