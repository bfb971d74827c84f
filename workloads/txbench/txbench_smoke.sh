#!/usr/bin/env bash
# txbench_smoke.sh DIR — a smoke run (not a benchmark) of every txbench mode
# and driver built in DIR: a small store and a fixed number of requests, so
# each run's response checksum must be the same (txbench.c says why). The
# Go twin's builds (go-txbench, -nogreenteagc, -go1.19) are compared too
# when they were built.
set -euo pipefail
dir=$1
args=(--live-mb=4 --requests=3000 --items=8 --publish-pct=20 --seed=11 --json)
want=
check() {
	local name=$1 out sum
	shift
	local err
	err=$(mktemp)
	out=$("$@" "${args[@]}" 2>"$err") || { echo "FAIL: $name exited with $?:"; tail -40 "$err"; rm -f "$err"; exit 1; }
	rm -f "$err"
	sum=$(sed -n 's/.*"checksum":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
	[ -n "$sum" ] || { echo "FAIL: $name printed no checksum: $out"; exit 1; }
	grep -q '"transactions":3000' <<<"$out" || { echo "FAIL: $name did not run 3000 requests: $out"; exit 1; }
	echo "$name checksum $sum"
	if [ -z "$want" ]; then want=$sum; elif [ "$sum" != "$want" ]; then
		echo "FAIL: $name checksum $sum differs from $want"; exit 1
	fi
}
for mode in cms toc stw; do
	for driver in loop spawn; do
		check "$mode/$driver" "$dir/txbench" --mode=$mode --driver=$driver
	done
done
check arena/loop "$dir/txbench" --mode=arena
check boehm/loop "$dir/txbench" --mode=boehm
# Every Go build: the go on PATH, -nogreenteagc, -go1.19 (lib/goinfo.py,
# which checks that the nogreenteagc build is one: its build information
# and its runtime's functions).
if [ -x "$dir/go-txbench" ]; then
	python3 "$(dirname "$0")/../lib/goinfo.py" --built "$dir" go-txbench || { echo "FAIL: the Go builds"; exit 1; }
fi
for bin in "$dir"/go-txbench "$dir"/go-txbench-*; do
	[ -x "$bin" ] || continue
	check "$(basename "$bin")/loop" "$bin"
	check "$(basename "$bin")/spawn" "$bin" --driver=spawn
done
echo "all checksums equal"

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
