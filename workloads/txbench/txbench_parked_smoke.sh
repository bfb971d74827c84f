#!/usr/bin/env bash
# txbench_parked_smoke.sh DIR — a smoke run (not a benchmark) of
# --downstream: requests that park mid-way on a backend, a goroutine per
# request with --inflight=2000, over a channel and over sockets, in toc,
# cms and stw and in every Go twin built in DIR. The backend only echoes,
# so every run's checksum must equal that of --downstream=none; more than
# one request must have waited at once (parked_max), and toc must report
# its owned window bytes per request in flight.
set -euo pipefail
dir=$1
base=(--driver=spawn --inflight=2000 --live-mb=4 --requests=3000 --items=8 --publish-pct=20 --seed=11
	--downstream-us=2000 --json)
run() {   # run NAME PROGRAM ARGS...: the JSON into $out
	local name=$1 err
	shift
	err=$(mktemp)
	out=$("$@" "${base[@]}" 2>"$err") || { echo "FAIL: $name exited with $?:"; tail -40 "$err"; rm -f "$err"; exit 1; }
	rm -f "$err"
}
want=
for ds in none chan socket; do
	for prog in "txbench --mode=toc" "txbench --mode=cms" "txbench --mode=stw" go-txbench go-txbench-go1.19 \
		go-txbench-nogreenteagc; do
		[ -x "$dir/${prog%% *}" ] || continue
		# shellcheck disable=SC2086  # prog is a program and its flag
		run "$prog --downstream=$ds" "$dir"/$prog --downstream=$ds
		python3 - "$prog" "$ds" "$want" "$out" <<'PY' || exit 1
import json, sys
prog, ds, want, d = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
def fail(msg):
    print(f"FAIL: {prog} --downstream={ds}: {msg}: {sys.argv[4][:3000]}")
    sys.exit(1)
if d["transactions"] != 3000:
    fail("did not run 3000 requests")
if want and d["checksum"] != want:
    fail(f"checksum {d['checksum']}, {want} with --downstream=none")
if d["downstream"] != ds:
    fail("downstream")
if ds != "none" and not (d["downstream_us"] == 2000 and d["parked_max"] > 1):
    fail("no two requests waited on the backend at once")
if not d["rss_per_inflight_kb"] > 0:
    fail("no rss_per_inflight_kb")
toc = prog.endswith("toc")
owned = d["owned_per_inflight_kb"]
if toc != (owned is not None) or (toc and not (owned > 0 and d["toc"]["toc_owned_bytes_max"] > 0)):
    fail(f"owned_per_inflight_kb {owned}")
print(f"{prog} --downstream={ds}: checksum {d['checksum']}, parked_max {d['parked_max']}, "
      f"rss/inflight {d['rss_per_inflight_kb']} KiB, owned/inflight {owned} KiB")
PY
		[ -n "$want" ] || want=$(sed -n 's/.*"checksum":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
	done
done
# The modes without goroutines refuse the flag, naming it.
for mode in boehm arena; do
	if msg=$("$dir/txbench" --mode=$mode --downstream=chan --requests=10 2>&1); then
		echo "FAIL: $mode accepted --downstream=chan"; exit 1
	fi
	grep -q -- '--downstream' <<<"$msg" || { echo "FAIL: $mode's refusal names no flag: $msg"; exit 1; }
done
echo "all parked checksums equal"
