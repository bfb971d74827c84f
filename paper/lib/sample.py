"""Copies, from a results folder (what paper/build writes), every file
gen.py reads and nothing else: the inputs of the paper without the
workloads' stderr logs, wrk outputs and per-run job files. paper/sample is
such a copy of the results the paper was built from: paper/check runs the
generators on it, and paper/build --from=paper/sample typesets the same
paper again.

usage: sample.py RESULTS_DIR OUT_DIR
"""
import glob
import os
import shutil
import sys

# Files at fixed places, and files under one time-stamped folder per kind
# of run (the newest is taken; it is renamed "run").
FIXED = ["machine.json", "environment.json", "commit.txt", "config.txt", "barrier.jsonl",
         "chat/throughput.jsonl", "chat/pauses.jsonl", "barriertax/summary.json"]
STAMPED = [("bench", ("tx_runs.jsonl", "sched_runs.jsonl")), ("httpbench", ("runs.jsonl",)),
           ("tfb", ("runs.jsonl",)), ("attribute", ("attribution.json",))]
SWEEP_FILES = ("points.csv", "meta.json", "breakeven.json")


def copy(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    res, out = sys.argv[1], sys.argv[2]
    if not os.path.isdir(res):
        sys.exit(f"sample.py: {res}: not a results folder")
    if os.path.exists(out):
        sys.exit(f"sample.py: {out} exists; remove it first")
    for name in FIXED:
        if os.path.exists(os.path.join(res, name)):
            copy(os.path.join(res, name), os.path.join(out, name))
    for kind, files in STAMPED:
        for f in files:
            found = sorted(glob.glob(os.path.join(res, kind, "*", f)))
            if found:
                copy(found[-1], os.path.join(out, kind, "run", f))
    for folder in sorted(glob.glob(os.path.join(res, "sweep-*")) + glob.glob(os.path.join(res, "heap-churn", "sweep-*"))):
        for f in SWEEP_FILES:
            if os.path.exists(os.path.join(folder, f)):
                copy(os.path.join(folder, f), os.path.join(out, os.path.relpath(folder, res), f))


if __name__ == "__main__":
    main()
