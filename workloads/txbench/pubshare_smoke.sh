#!/usr/bin/env bash
# pubshare_smoke.sh DIR — a smoke run (not a benchmark) of txbench's
# --publish-bytes-pct built in DIR: at 0 and at 50, toc and cms (and the Go
# twin's builds, when built) run the same fixed requests, and each share's
# checksum must be the same in every one; the entries change the responses,
# so 50's differs from 0's. Then toc's own count of what it published must
# follow the knob: at 50 its published_fraction (published over window
# bytes) is at least 0.3 above the one at 0 and under 0.7.
set -euo pipefail
dir=$1
base=(--live-mb=4 --requests=3000 --items=8 --publish-pct=0 --seed=7 --churn-mb=1 --json)
declare -A sum pf
for pct in 0 50; do
	runs=("toc:$dir/txbench --mode=toc" "cms:$dir/txbench --mode=cms")
	for bin in "$dir"/go-txbench "$dir"/go-txbench-*; do
		[ -x "$bin" ] && runs+=("$(basename "$bin"):$bin")
	done
	for run in "${runs[@]}"; do
		name=${run%%:*}
		# shellcheck disable=SC2086  # the command is a program and its flags
		out=$(${run#*:} "${base[@]}" --publish-bytes-pct=$pct 2>/dev/null) ||
			{ echo "FAIL: $name --publish-bytes-pct=$pct exited with $?"; exit 1; }
		s=$(sed -n 's/.*"checksum":"\([0-9a-f]*\)".*/\1/p' <<<"$out")
		grep -q '"transactions":3000' <<<"$out" || { echo "FAIL: $name did not run 3000 requests: $out"; exit 1; }
		[ -n "${sum[$pct]:-}" ] || sum[$pct]=$s
		[ "$s" = "${sum[$pct]}" ] ||
			{ echo "FAIL: $name --publish-bytes-pct=$pct checksum $s differs from ${sum[$pct]}"; exit 1; }
		[ "$name" = toc ] && pf[$pct]=$(sed -n 's/.*"published_fraction":\([0-9.]*\).*/\1/p' <<<"$out")
		echo "$name --publish-bytes-pct=$pct: checksum $s"
	done
done
[ "${sum[0]}" != "${sum[50]}" ] || { echo "FAIL: --publish-bytes-pct=50 left the responses as they were"; exit 1; }
awk -v a="${pf[0]}" -v b="${pf[50]}" 'BEGIN { exit !(b >= a + 0.3 && b < 0.7) }' ||
	{ echo "FAIL: toc's published_fraction is ${pf[0]} at 0 and ${pf[50]} at 50"; exit 1; }
echo "toc's published_fraction: ${pf[0]} at 0, ${pf[50]} at 50"
echo "pubshare smoke passed"
