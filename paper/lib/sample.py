"""Trims a results folder (what paper/build writes) into the small sample
paper/check runs the generators on: every file gen.py reads, with two
points of each sweep (its smallest and largest) in all their rounds, the
first four chat pause runs, and everything else whole. The workloads'
stderr logs are left out.

usage: sample.py RESULTS_DIR OUT_DIR
"""
import csv
import glob
import os
import shutil
import sys


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
    for name in ("machine.json", "commit.txt", "config.txt", "barrier.jsonl", "chat/throughput.jsonl"):
        if os.path.exists(os.path.join(res, name)):
            copy(os.path.join(res, name), os.path.join(out, name))
    # One folder per kind of run, whatever its time-stamped name was.
    for kind, files in (("bench", ("tx_runs.jsonl", "sched_runs.jsonl")), ("httpbench", ("runs.jsonl",))):
        for f in files:
            found = sorted(glob.glob(os.path.join(res, kind, "*", f)))
            if found:
                copy(found[-1], os.path.join(out, kind, "run", f))
    pauses = os.path.join(res, "chat", "pauses.jsonl")
    if os.path.exists(pauses):
        lines = [l for l in open(pauses) if l.strip()][:4]
        os.makedirs(os.path.join(out, "chat"), exist_ok=True)
        with open(os.path.join(out, "chat", "pauses.jsonl"), "w") as f:
            f.writelines(lines)
    for folder in sorted(glob.glob(os.path.join(res, "sweep-*"))):
        path = os.path.join(folder, "points.csv")
        if not os.path.exists(path):
            continue
        rows = list(csv.DictReader(open(path)))
        values = sorted({float(r["value"]) for r in rows})
        keep = {values[0], values[-1]} if values else set()
        dst = os.path.join(out, os.path.basename(folder))
        os.makedirs(dst, exist_ok=True)
        with open(os.path.join(dst, "points.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["value"])
            w.writeheader()
            w.writerows(r for r in rows if float(r["value"]) in keep)
        if os.path.exists(os.path.join(folder, "meta.json")):
            copy(os.path.join(folder, "meta.json"), os.path.join(dst, "meta.json"))


if __name__ == "__main__":
    main()
