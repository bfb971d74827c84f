#!/usr/bin/env bash
# attribute_smoke.sh DIR — a smoke run (not a measurement) of
# workloads/lib/attribute.py over the txbench and faultbench built in DIR:
# four configurations timed for half a second, three counted by cachegrind
# at 200 and 400 requests; the table and the JSON must hold every figure.
set -euo pipefail
dir=$1
lib=$(dirname "$0")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python3 "$lib/attribute.py" "$dir" smoke '{"machine":"smoke"}' --quick --duration=0.5 \
	--configs=cms,toc,cms-gogc-off,arena --cg-configs=cms,toc,arena --gogc-off-requests=5000 \
	--cg-requests=200,400 --results="$out" >"$out/stdout" 2>"$out/stderr" ||
	{ echo "FAIL: attribute.py exited $?"; tail -20 "$out/stderr"; exit 1; }
res=$(ls -d "$out"/attribute-*-smoke)
grep -q "^toc saves [-0-9.]* us/txn of CPU over cms: [-0-9.]* from GC CPU" "$res/table.txt" ||
	{ echo "FAIL: no attribution line"; cat "$res/table.txt"; exit 1; }
python3 - "$res/attribution.json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
att, cg, timed = d["attribution"], d["cachegrind"], d["timed"]
bad = [k for k in ("X", "a_gc_cpu", "b_sweep", "c_allocation", "d", "e_other_ir", "r") if att.get(k) is None]
bad += [f"cachegrind {n}" for n in ("cms", "toc", "arena") if not cg[n]["mutator"]["ir"] > 0]
bad += [f"timed {n}" for n in ("cms", "toc", "cms-gogc-off", "arena") if not timed[n]["cpu_us"] > 0]
bad += ["fault factor"] if not d["fault_us"] > 0 else []
bad += ["toc's allocation path (counted nothing)"] if cg["toc"]["classes"]["allocation"]["ir"] <= 0 else []
if bad:
    sys.exit("FAIL: missing or empty: " + ", ".join(bad))
PY
# --refit: the model again over the same runs, fitted on what --calibration names.
python3 "$lib/attribute.py" "$dir" smoke '{}' --refit="$res" --calibration=cms-gogc-off,arena >"$out/refit" 2>&1 ||
	{ echo "FAIL: --refit exited $?"; cat "$out/refit"; exit 1; }
[ -f "$res/attribution.json.before-refit" ] || { echo "FAIL: --refit kept no copy of the former fit"; exit 1; }
python3 - "$res/attribution.json" <<'PY' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
# Fitted on what was asked for and measured both ways (cms-gogc-off has no counts here).
held = set(d["fit"]["held_out"])
if d["configuration"]["refit_calibration"] != ["cms-gogc-off", "arena"] or d["fit"]["calibration"] != ["arena"] \
        or held & {"cms-gogc-off", "arena"} or not {"cms", "toc", "toc-rewind-off"} <= held:
    sys.exit(f"FAIL: --refit fitted on {d['fit']['calibration']}, held out {sorted(held)}")
PY
echo "attribute smoke passed"
