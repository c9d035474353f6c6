#!/usr/bin/env python3
"""Writes a synthetic TCG PC Client crypto-agile event log (TCG PC Client PFP, section 10).

    gen-eventlog.py [--events N] [--seed S] OUT

The log starts with the SHA-1 format Spec ID Event03 header (EV_NO_ACTION, PCR 0) announcing sha1,
sha256, sha384 and sha512, followed by N - 1 TCG_PCR_EVENT2 records spread over PCRs 0-15 and 23. Every
record carries one digest per bank, each the hash of what the event says was measured (for EV_IPL in
PCR 8 the GRUB convention), so tpm2_eventlog verifies every digest it can and warns about nothing.
"""
import argparse
import hashlib
import random
import struct

EV_POST_CODE = 0x00000001
EV_NO_ACTION = 0x00000003
EV_SEPARATOR = 0x00000004
EV_IPL = 0x0000000D
EV_EFI_ACTION = 0x80000007

# TPM_ALG_ID, hashlib name, digest size.
BANKS = [(0x0004, "sha1", 20), (0x000B, "sha256", 32), (0x000C, "sha384", 48), (0x000D, "sha512", 64)]
PCRS = list(range(16)) + [23]


def spec_id_event():
    body = b"Spec ID Event03\0"
    body += struct.pack("<IBBBBI", 0, 0, 2, 0, 2, len(BANKS))  # platformClass, 2.0 errata 0, UINTN 8 bytes
    for alg, _, size in BANKS:
        body += struct.pack("<HH", alg, size)
    body += struct.pack("<B", 0)  # vendorInfoSize
    return struct.pack("<II", 0, EV_NO_ACTION) + bytes(20) + struct.pack("<I", len(body)) + body


def event2(pcr, event_type, data, measured=None):
    """One TCG_PCR_EVENT2; the digests are of `measured` (default: the event data itself)."""
    measured = data if measured is None else measured
    out = struct.pack("<III", pcr, event_type, len(BANKS))
    for alg, name, _ in BANKS:
        out += struct.pack("<H", alg) + hashlib.new(name, measured).digest()
    return out + struct.pack("<I", len(data)) + data


def random_event(rng, i):
    pcr = rng.choice(PCRS)
    kind = rng.randrange(4)
    if kind == 0:
        return event2(pcr, EV_SEPARATOR, bytes(4))
    if kind == 1:
        return event2(pcr, EV_EFI_ACTION, b"Synthetic action %d" % i)
    if kind == 2:
        cmdline = b"/vmlinuz root=/dev/vda%d quiet" % i
        pcr = rng.choice([8, 9, 12])
        if pcr == 8:  # like GRUB: "kernel_cmdline: <cmdline>\0", measured from after the space, without NUL
            return event2(8, EV_IPL, b"kernel_cmdline: " + cmdline + b"\0", cmdline)
        return event2(pcr, EV_IPL, cmdline)  # like systemd-boot/stub: the data itself
    return event2(pcr, EV_POST_CODE, bytes(rng.randrange(256) for _ in range(rng.randrange(8, 64))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000, help="number of events including the header")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("out")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "wb") as f:
        f.write(spec_id_event())
        for i in range(1, args.events):
            f.write(random_event(rng, i))


if __name__ == "__main__":
    main()
