"""The barrier tax where transactions cannot help: gcbench's benchmarks
(long-lived goroutines, no transaction ends) in toc mode (the layer on, its
publishing barrier in every store) against cms, timed in one interleaved
run.

usage: barriertax.py BINDIR OUT [--rounds=N] [--seed=N] [--benches=a,b]
                     [--args-BENCH='flags']
  BINDIR: the Release build's workloads/ (gcbench)
  OUT:    a folder; runs.jsonl (every run) and table.txt are written there

Each round runs every (bench, mode) pair once, in an order drawn from
--seed (stats.schedule). toc/cms is cms's median seconds over toc's (a
throughput ratio: above 1, toc is faster), with the bootstrap 95% interval
of stats.ratio_ci."""
import json
import os
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

BENCHES = {   # sizes that make a run last about a second here
    "gcbench": "--bench=gcbench --max-depth=18 --long-lived-depth=16",
    "binarytrees": "--bench=binarytrees --max-depth=16",
    "mutate": "--bench=mutate --long-lived-depth=16 --mutations=4000000",
}
MODES = ("toc", "cms")


def fail(msg):
    print(f"barriertax.py: {msg}", file=sys.stderr)
    sys.exit(2)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2)
    bindir, out = argv[1], argv[2]
    rounds, seed, benches = 20, int(time.time()), list(BENCHES)
    args = dict(BENCHES)
    for a in argv[3:]:
        k, _, v = a.partition("=")
        if k == "--rounds" and v.isdigit() and int(v) > 0:
            rounds = int(v)
        elif k == "--seed" and v.isdigit():
            seed = int(v)
        elif k == "--benches":
            benches = [b for b in v.split(",") if b]
            bad = [b for b in benches if b not in BENCHES]
            if bad or not benches:
                fail(f"--benches={v}: unknown bench (benches: {', '.join(BENCHES)})")
        elif k.startswith("--args-") and k[7:] in BENCHES:
            args[k[7:]] = v
        else:
            fail(f"unknown or malformed option '{a}'")
    os.makedirs(out, exist_ok=True)
    pairs = [f"{b} {m}" for b in benches for m in MODES]
    secs = {p: [] for p in pairs}
    cycles = {p: [] for p in pairs}
    for r, order in enumerate(stats.schedule(seed, rounds, pairs), 1):
        for p in order:
            b, m = p.split()
            cmd = [os.path.join(bindir, "gcbench"), f"--mode={m}", "--json"] + shlex.split(args[b])
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                fail(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr[-1000:]}")
            d = json.loads([x for x in res.stdout.splitlines() if x.startswith("{")][-1])
            secs[p].append(d["seconds"])
            cycles[p].append(d["gc_cycles"])
            with open(os.path.join(out, "runs.jsonl"), "a") as f:
                f.write(json.dumps({"round": r, "bench": b, "mode": m, "seed": seed, "command": cmd,
                                    "result": d}) + "\n")
        print(f"barriertax.py: round {r}/{rounds} done", file=sys.stderr, flush=True)
    lines = [f"barrier tax: gcbench toc against cms, {rounds} interleaved rounds, order seed {seed}",
             f"{'bench':<12} {'toc s':>8} {'cms s':>8} {'toc/cms throughput [95% CI]':>30} {'cycles toc/cms':>15}"]
    summary = {"rounds": rounds, "seed": seed, "args": {b: args[b] for b in benches}, "benches": {}}
    for b in benches:
        t, c = secs[f"{b} toc"], secs[f"{b} cms"]
        ratio = stats.ratio_ci(c, t)
        summary["benches"][b] = {"toc_seconds": stats.median_ci(t), "cms_seconds": stats.median_ci(c),
                                 "toc_over_cms_throughput": ratio}
        ci = "" if ratio["ci95_low"] is None else f" [{ratio['ci95_low']:.3f}, {ratio['ci95_high']:.3f}]"
        lines.append(f"{b:<12} {stats.median(t):>8.3f} {stats.median(c):>8.3f} {ratio['median']:>12.3f}{ci:<18} "
                     f"{stats.median(cycles[b + ' toc']):>7g}/{stats.median(cycles[b + ' cms']):g}")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(text, end="")


if __name__ == "__main__":
    main(sys.argv)
