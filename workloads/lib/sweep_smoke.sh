#!/usr/bin/env bash
# sweep_smoke.sh DIR — a smoke run (not a measurement) of workloads/lib/sweep.py
# over the txbench built in DIR: two points, two modes, tiny runs; then the
# same command again must find every run in the CSV and run none (resume).
set -euo pipefail
dir=$1
lib=$(dirname "$0")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(publish --quick --modes=toc,cms --points=0,100 --duration=0.3 --results="$out")
python3 "$lib/sweep.py" "$dir" smoke '{"machine":"smoke"}' "${args[@]}"
csv=$out/sweep-publish/points.csv
rows=$(($(wc -l <"$csv") - 1))
[ "$rows" -eq 4 ] || { echo "FAIL: $rows rows in $csv, expected 4"; cat "$csv"; exit 1; }
awk -F, 'NR > 1 && $6 + 0 <= 0 { bad = 1 } END { exit bad }' "$csv" ||
	{ echo "FAIL: a row without txn_per_sec"; cat "$csv"; exit 1; }
again=$(python3 "$lib/sweep.py" "$dir" smoke '{"machine":"smoke"}' "${args[@]}" 2>&1)
grep -q "4 of 4 runs already" <<<"$again" || { echo "FAIL: the second run did not resume: $again"; exit 1; }
[ $(($(wc -l <"$csv") - 1)) -eq 4 ] || { echo "FAIL: the resumed sweep added rows"; exit 1; }
echo "sweep smoke passed"
