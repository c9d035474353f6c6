# lantern eventlog on damaged copies of the captured boot logs: a cut at every byte offset, and length fields,
# digest counts and algorithm counts set to zero, one too many and huge. Every damaged log must give exit 2 and
# "lantern: FILE: event N at offset 0xOFF: ..." (or, for a cut exactly between two events, a valid shorter log
# whose replay equals tpm2_eventlog's), and never a crash or a sanitizer report.
. "$(dirname "$0")/../lib.sh"

for tool in tpm2_eventlog python3; do
  command -v "$tool" >/dev/null || { not_ok "$tool is installed"; finish; }
done

python3 - "$LANTERN" "$TEST_TMP" "$LANTERN_FIXTURES"/boot/*/eventlog.bin <<'EOF' || TEST_FAILED=1
import concurrent.futures, os, re, struct, subprocess, sys, time

lantern, tmp, logs = sys.argv[1], sys.argv[2], sys.argv[3:]
ERR = re.compile(r"^lantern: (.*): event (\d+) at offset 0x([0-9a-f]+): \S")
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error|UndefinedBehaviorSanitizer")
failed = False

def report(ok, name, detail=""):
    global failed
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        failed = True
        if detail:
            print("#   " + detail.replace("\n", "\n#   "))

def run(*args):
    for attempt in range(50):
        try:
            p = subprocess.run([lantern, *args], capture_output=True, text=True, errors="replace")
            return p.returncode, p.stdout, p.stderr
        except OSError:  # the binary is being relinked by a concurrent build; wait for it
            time.sleep(0.2)
    raise RuntimeError(f"cannot run {lantern}")

def tpm2_replay(path):
    out = subprocess.run(["tpm2_eventlog", path], capture_output=True, text=True).stdout
    lines, on, bank = [], False, None
    for line in out.splitlines():
        if line.startswith("pcrs:"):
            on = True
            continue
        if not on:
            continue
        m = re.match(r"^  ([a-z0-9_]+):$", line)
        if m:
            bank = m.group(1)
            continue
        m = re.match(r"^ +(\d+) *: *0x([0-9A-Fa-f]+)$", line)
        if m:
            lines.append(f"{bank} {m.group(1)} {m.group(2).lower()}")
    return "\n".join(lines) + ("\n" if lines else "")

def layout(data):
    """Record boundaries and field offsets of a crypto-agile log, parsed here independently of lantern."""
    size = struct.unpack_from("<I", data, 28)[0]
    spec = data[32:32 + size]
    n = struct.unpack_from("<I", spec, 24)[0]
    sizes = {}
    for i in range(n):
        alg, sz = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[alg] = sz
    events = [dict(offset=0, size_field=28, end=32 + size)]
    pos = 32 + size
    while pos < len(data):
        ev = dict(offset=pos, count_field=pos + 8)
        count = struct.unpack_from("<I", data, pos + 8)[0]
        p = pos + 12
        ev["alg_fields"] = []
        for _ in range(count):
            ev["alg_fields"].append(p)
            alg = struct.unpack_from("<H", data, p)[0]
            p += 2 + sizes[alg]
        ev["size_field"] = p
        p += 4 + struct.unpack_from("<I", data, p)[0]
        ev["end"] = p
        events.append(ev)
        pos = p
    return events, n

def check_error(rc, err, path):
    """Exit 2, the error line names the file, an event and an offset, and no sanitizer spoke."""
    if SANITIZER.search(err):
        return None, "sanitizer: " + err[:400]
    if rc != 2:
        return None, f"exit {rc}, stderr {err[:200]!r}"
    m = ERR.match(err)
    if not m or m.group(1) != path:
        return None, f"error line {err[:200]!r}"
    return (int(m.group(2)), int(m.group(3), 16)), None

# One process per cut is slow (seconds per thousand under ASan), so the CLI is run at every offset of the
# first 2 KiB of the smallest log (header, Spec ID and the first events), around every record boundary and at
# a stride elsewhere; test-eventlog cuts every fixture at every single offset in-process.
smallest = min(logs, key=os.path.getsize)
for log in logs:
    name = os.path.basename(os.path.dirname(log))
    data = open(log, "rb").read()
    events, n_algs = layout(data)
    boundaries = {ev["end"] for ev in events}
    report(len(events) > 10 and events[-1]["end"] == len(data), f"{name}: the test's own parser walks the log")

    # Every cut: lantern replay either fails cleanly or (between events) gives tpm2_eventlog's replay.
    def cut(k):
        path = os.path.join(tmp, f"{name}.cut{k}")
        with open(path, "wb") as f:
            f.write(data[:k])
        rc, out, err = run("eventlog", "replay", path)
        problem = None
        if k in boundaries:
            want = tpm2_replay(path)
            if rc != 0 or out != want or err:
                problem = f"cut at {k} (between events): exit {rc}, replay differs from tpm2_eventlog: {err[:200]!r}"
        else:
            where, why = check_error(rc, err, path)
            if why:
                problem = f"cut at {k}: {why}"
            elif not (0 <= where[1] <= k):
                problem = f"cut at {k}: offset 0x{where[1]:x} is beyond the cut"
        os.unlink(path)
        return problem

    offsets = sorted({k for b in boundaries for k in (b - 2, b - 1, b, b + 1, b + 2) if 0 <= k < len(data)}
                     | set(range(0, len(data), 7 if log == smallest else 61))
                     | set(range(0, min(2048, len(data)) if log == smallest else 0)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(cut, offsets) if p]
    report(not problems, f"{name}: replay of the log cut at {len(offsets)} of {len(data)} offsets exits 2 with the "
           f"offset, or equals tpm2_eventlog between events ({len(boundaries)} such cuts)", "\n".join(problems[:5]))

    # Damaged fields: (description, offset of the field, value, width, exact offset expected in the error or None).
    damage = [("Spec ID algorithm count 0", 32 + 24, 0, 4, 32 + 24),
              ("Spec ID algorithm count huge", 32 + 24, 0xFFFFFFFF, 4, 32 + 24),
              ("header event size huge", 28, 0xFFFFFFFF, 4, 28),
              ("header event size 0", 28, 0, 4, None)]
    for i, ev in enumerate(events[1:], start=1):
        damage += [(f"event {i} digest count 0", ev["count_field"], 0, 4, ev["count_field"]),
                   (f"event {i} digest count {n_algs + 1}", ev["count_field"], n_algs + 1, 4, ev["count_field"]),
                   (f"event {i} digest count huge", ev["count_field"], 0xFFFFFFFF, 4, ev["count_field"]),
                   (f"event {i} event size huge", ev["size_field"], 0xFFFFFFFF, 4, ev["size_field"]),
                   (f"event {i} event size one past the end", ev["size_field"],
                    len(data) - ev["size_field"] - 4 + 1, 4, ev["size_field"]),
                   (f"event {i} event size 0", ev["size_field"], 0, 4, None),
                   (f"event {i} unknown digest algorithm", ev["alg_fields"][0], 0x0099, 2, ev["alg_fields"][0]),
                   (f"event {i} PCR index 24", ev["offset"], 24, 4, ev["offset"])]
    problems = []
    for what, off, value, width, want_off in damage:
        d = bytearray(data)
        d[off:off + width] = value.to_bytes(width, "little")
        path = os.path.join(tmp, f"{name}.damaged")
        open(path, "wb").write(d)
        # Every verb on the header and the first events' damage; replay alone on the rest.
        verbs = ("replay", "show", "verify") if off < events[4]["offset"] else ("replay",)
        for verb in verbs:
            args = ["eventlog", verb, path] + (["--pcrs", os.path.join(os.path.dirname(log), "pcrs.txt")]
                                               if verb == "verify" else [])
            rc, out, err = run(*args)
            where, why = check_error(rc, err, path)
            if why:
                problems.append(f"{what} ({verb}): {why}")
            elif want_off is not None and where[1] != want_off:
                problems.append(f"{what} ({verb}): error at offset 0x{where[1]:x}, want 0x{want_off:x}: {err.strip()}")
    report(not problems, f"{name}: {len(damage)} damaged length, count and index fields give exit 2 naming the field's "
           "offset", "\n".join(problems[:8]))

sys.exit(1 if failed else 0)
EOF
finish
