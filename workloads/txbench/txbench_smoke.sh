#!/usr/bin/env bash
# txbench_smoke.sh DIR — a smoke run (not a benchmark) of every txbench mode
# and driver built in DIR: a small store and a fixed number of requests, so
# each run's response checksum must be the same (txbench.c says why). The
# Go twin's builds (go-txbench, -nogreenteagc, -go1.19) are compared too
# when they were built. Then again with
# --churn-kb and a ring of 1 MiB, so that entries are evicted and every
# collector runs cycles while requests publish: the checksum (which then
# covers each request's churn entry) must again agree across modes.
set -euo pipefail
dir=$1
base=(--live-mb=4 --requests=3000 --items=8 --publish-pct=20 --seed=11 --json)
args=()
want=
check() {
	local name=$1 out sum
	shift
	local err
	err=$(mktemp)
	out=$("$@" "${base[@]}" "${args[@]}" 2>"$err") || { echo "FAIL: $name exited with $?:"; tail -40 "$err"; rm -f "$err"; exit 1; }
	rm -f "$err"
	sum=$(sed -n 's/.*"checksum":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
	[ -n "$sum" ] || { echo "FAIL: $name printed no checksum: $out"; exit 1; }
	grep -q '"transactions":3000' <<<"$out" || { echo "FAIL: $name did not run 3000 requests: $out"; exit 1; }
	echo "$name ${args[*]} checksum $sum"
	if [ -z "$want" ]; then want=$sum; elif [ "$sum" != "$want" ]; then
		echo "FAIL: $name ${args[*]} checksum $sum differs from $want"; exit 1
	fi
}
every_mode() {
	want=
	for mode in cms toc stw; do
		for driver in loop spawn; do
			check "$mode/$driver" "$dir/txbench" --mode=$mode --driver=$driver
		done
	done
	check arena/loop "$dir/txbench" --mode=arena
	check boehm/loop "$dir/txbench" --mode=boehm
	for bin in "$dir"/go-txbench "$dir"/go-txbench-*; do
		[ -x "$bin" ] || continue
		check "$(basename "$bin")/loop" "$bin"
		check "$(basename "$bin")/spawn" "$bin" --driver=spawn
	done
	echo "all checksums equal${args[*]:+ with ${args[*]}}"
}
# Every Go build: the go on PATH, -nogreenteagc, -go1.19 (lib/goinfo.py,
# which checks that the nogreenteagc build is one: its build information
# and its runtime's functions).
if [ -x "$dir/go-txbench" ]; then
	python3 "$(dirname "$0")/../lib/goinfo.py" --built "$dir" go-txbench || { echo "FAIL: the Go builds"; exit 1; }
fi
every_mode
plain=$want
args=(--churn-kb=8 --churn-mb=1)
every_mode
[ "$want" != "$plain" ] || { echo "FAIL: --churn-kb left the responses as they were"; exit 1; }
# The churn's garbage is published, so toc's pacer must start cycles of its
# own (3000 requests publish 24 MiB against a heap goal of a few MiB) and
# most of the 8 KiB per request must count as published.
out=$("$dir/txbench" --mode=toc "${base[@]}" "${args[@]}" 2>/dev/null)
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$out"; }
awk -v c="$(field pacer_cycles)" -v p="$(field published_fraction)" 'BEGIN { exit !(c >= 1 && p >= 0.3) }' ||
	{ echo "FAIL: toc with ${args[*]}: no cycle of its own or little published: $out"; exit 1; }
echo "toc ${args[*]}: $(field pacer_cycles) cycles of its own, published fraction $(field published_fraction)"

# A warm-up until one cycle, with the time series: the checksum is the
# churn's above (the warm-up's requests change no response), the JSON says
# the warm-up ended by its cycle, and the series has warm-up and timed
# samples whose requests add up to the timed part's.
warm=(--warmup-cycles=1 --warmup=20 --series)
for prog in "txbench --mode=toc" "txbench --mode=cms" go-txbench; do
	[ -x "$dir/${prog%% *}" ] || continue
	# shellcheck disable=SC2086  # prog is a program and its flag
	out=$("$dir"/$prog "${base[@]}" "${args[@]}" "${warm[@]}" 2>/dev/null) ||
		{ echo "FAIL: $prog ${warm[*]} exited with $?"; exit 1; }
	python3 - "$prog" "$want" "$out" <<'PY' || exit 1
import json, sys
prog, want, d = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def fail(msg):
    print(f"FAIL: {prog} --warmup-cycles=1 --series: {msg}: {sys.argv[3][:2000]}")
    sys.exit(1)
if d["checksum"] != want:
    fail(f"checksum {d['checksum']}, {want} without warm-up")
if d["warmup_ended"] != "cycles" or d["warmup_cycles"] < 1 or d["warmup_transactions"] < 1:
    fail("the warm-up did not end by its cycle")
phases = [x["phase"] for x in d["series"]]
if phases[:1] != ["warmup"] or phases[-1:] != ["timed"] or phases != sorted(phases, reverse=True):
    fail(f"series phases {phases}")
timed = sum(x["txn_per_sec"] * x["seconds"] for x in d["series"] if x["phase"] == "timed")
if abs(timed - d["transactions"]) > 0.02 * d["transactions"] + 5:
    fail(f"the timed samples hold {timed:.0f} requests, not {d['transactions']}")
print(f"{prog}: warm-up of {d['warmup_cycles']} cycles in {d['warmup_seconds']} s, {len(phases)} samples")
PY
done

# With no request replacing its record nothing becomes reachable from
# outside a request, so toc must publish nothing: a stale pointer left in
# the request loop's live frame would be published by toc_end's stack scan
# every request (it once was: 8% of the window bytes).
for driver in loop spawn; do
	out=$("$dir/txbench" --mode=toc --driver=$driver --live-mb=4 --requests=3000 --items=8 --publish-pct=0 \
		--seed=11 --json 2>/dev/null)
	grep -q '"published_fraction":0.0000' <<<"$out" && grep -q '"toc_pub_stack": 0,' <<<"$out" ||
		{ echo "FAIL: toc/$driver published at --publish-pct=0: $out"; exit 1; }
	echo "toc/$driver: nothing published at --publish-pct=0"
done
