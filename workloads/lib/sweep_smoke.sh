#!/usr/bin/env bash
# sweep_smoke.sh DIR — a smoke run (not a measurement) of workloads/lib/sweep.py
# over the txbench built in DIR: two points, tiny runs.
#  1. one after another: two modes, 4 rows; the same command again must
#     find every run's file and run none (resume);
#  2. on "other machines": --emit-jobs writes the same sweep (and every Go
#     build of go-txbench, when built) as shell lines, the same commands
#     --dry-run prints; plain bash runs them; --merge builds points.csv from
#     their files, one row per line, the Go rows with their Go version.
set -euo pipefail
dir=$1
lib=$(dirname "$0")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
rows() { echo $(($(wc -l <"$1") - 1)); }

args=(publish --quick --modes=toc,cms --points=0,100 --duration=0.3 --seed=7 --results="$out/seq")
python3 "$lib/sweep.py" "$dir" smoke "${args[@]}"
csv=$out/seq/sweep-publish/points.csv
[ "$(rows "$csv")" -eq 4 ] || { cat "$csv"; fail "$(rows "$csv") rows in $csv, expected 4"; }
awk -F, 'NR > 1 && $6 + 0 <= 0 { bad = 1 } END { exit bad }' "$csv" || { cat "$csv"; fail "a row without txn_per_sec"; }
again=$(python3 "$lib/sweep.py" "$dir" smoke "${args[@]}" 2>&1)
grep -q "4 of 4 runs already" <<<"$again" || fail "the second run did not resume: $again"
[ "$(rows "$csv")" -eq 4 ] || fail "the resumed sweep added rows"

modes=toc,cms
[ -x "$dir/go-txbench" ] && modes=toc,cms,go
args=(publish --quick --modes=$modes --points=0,100 --duration=0.3 --seed=7 --results="$out/par")
python3 "$lib/sweep.py" "$dir" smoke "${args[@]}" --emit-jobs "$out/jobs.txt"
python3 "$lib/sweep.py" "$dir" smoke "${args[@]}" --dry-run >"$out/dry.txt"
cmp -s "$out/jobs.txt" "$out/dry.txt" || fail "--emit-jobs and --dry-run print different commands"
jobs=$(wc -l <"$out/jobs.txt")
gos=0
[ -x "$dir/go-txbench" ] && gos=$(python3 "$lib/goinfo.py" "$dir" go-txbench | wc -l)
[ "$jobs" -eq $((2 * (2 + gos))) ] || fail "$jobs lines in the jobs file, expected $((2 * (2 + gos)))"
[ ! -e "$out/par/sweep-publish/points.csv" ] || fail "--emit-jobs ran something"
bash "$out/jobs.txt"
python3 "$lib/sweep.py" "$dir" smoke publish --merge "$out/par"
csv=$out/par/sweep-publish/points.csv
[ "$(rows "$csv")" -eq "$jobs" ] || { cat "$csv"; fail "$(rows "$csv") rows after --merge, expected $jobs"; }
python3 - "$csv" "$out/seq/sweep-publish/points.csv" "$gos" <<'PY' || exit 1
import csv, sys
par, seq = (list(csv.DictReader(open(p))) for p in sys.argv[1:3])
key = lambda rows: sorted((r["value"], r["mode"], r["round"]) for r in rows)
go = [r for r in par if r["mode"].startswith("go")]
bad = [r for r in par if float(r["txn_per_sec"] or 0) <= 0 or r["host"] == ""]
bad += [r for r in go if not r["go_version"].startswith("go1.")]
if bad:
    sys.exit(f"FAIL: rows without figures, host or Go version: {bad}")
if key([r for r in par if not r["mode"].startswith("go")]) != key(seq):
    sys.exit("FAIL: the merged runs differ from the sequential sweep's")
if len({r["mode"] for r in go}) != int(sys.argv[3]):
    sys.exit(f"FAIL: Go modes {sorted({r['mode'] for r in go})}, expected {sys.argv[3]}")
print(f"merged {len(par)} rows; Go modes: {', '.join(sorted({r['mode'] + ' (' + r['go_version'] + ')' for r in go}))}")
PY
# --txbench-args reaches every job, after the sweep's own flags; the swept flag is refused.
extra=$(python3 "$lib/sweep.py" "$dir" smoke publish --quick --modes=toc,cms --points=0,100 --seed=7 \
	--txbench-args="--churn-kb=1 --items=8" --results="$out/extra" --dry-run)
[ "$(grep -c -- '--churn-kb=1 --items=8 --publish-pct=' <<<"$extra")" -eq 4 ] || fail "--txbench-args missing: $extra"
if python3 "$lib/sweep.py" "$dir" smoke publish --txbench-args=--publish-pct=5 --dry-run 2>"$out/err"; then
	fail "--txbench-args with the swept flag was accepted"
fi
grep -q -- "--publish-pct is what the publish sweep varies" "$out/err" || fail "refusal: $(cat "$out/err")"
echo "sweep smoke passed"
