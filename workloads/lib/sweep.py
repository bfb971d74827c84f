"""The parameter sweeps behind the paper's figures (workloads/sweep).

Each sweep varies one txbench flag over a range of points; at each point it
runs every mode once per round, the modes interleaved (order rotated each
round), and appends one CSV row per run to RESULTS/sweep-NAME/points.csv.
Rows already there are skipped, so an interrupted sweep resumes where it
stopped (--fresh starts over). meta.json records machine, commits and
configuration.

usage: sweep.py NAME [options]   (see workloads/sweep --help)"""
import csv
import json
import os
import subprocess
import sys
import time

NPROC = os.cpu_count() or 1

# name: (flag, points, quick points, modes that can run it, doc)
ALL_MODES = ["toc", "cms", "stw", "boehm", "arena", "go"]
GOROUTINE_MODES = ["toc", "cms", "stw", "go"]
SWEEPS = {
    "live": ("--live-mb", [64, 128, 256, 512, 1024, 2048], [16, 32, 64], ALL_MODES,
             "live heap (the store), MiB: the heap-size sweep"),
    "publish": ("--publish-pct", [0, 5, 10, 25, 50, 75, 100], [0, 50, 100], ALL_MODES,
                "share of requests that publish a record, %"),
    "gogc": ("--gogc", [25, 50, 100, 200, 400], [50, 200], ALL_MODES, "GOGC, %"),
    "inflight": ("--inflight", [10, 100, 1000, 10000, 100000], [10, 1000], GOROUTINE_MODES,
                 "requests in flight, a goroutine each (--driver=spawn)"),
    "workers": ("--procs", list(range(1, NPROC + 1)), [1, NPROC], ALL_MODES,
                "worker threads (request loops)"),
    "alloc": ("--items", [4, 8, 16, 32, 64, 128], [4, 64], ALL_MODES,
              "items per request body: the allocation per request"),
    "churn": ("--churn-kb", [0, 1, 4, 16, 64], [0, 16], ALL_MODES,
              "KiB each request publishes into the churn ring (32 MiB): published garbage; "
              "timed after a warm-up of 2 cycles (at most 30 s)"),
}
COLUMNS = ["sweep", "flag", "value", "mode", "round", "txn_per_sec", "gc_cpu_us_per_txn", "gc_cpu_seconds",
           "gc_cpu_fraction", "gc_cycles", "stw_max_us", "stw_p99_us", "txn_p50_us", "txn_p99_us",
           "peak_rss_mb", "allocated_mb", "kb_per_txn", "transactions", "seconds", "toc_reclaimed_fraction",
           "published_fraction", "forfeit_fraction", "toc_owned_bytes_max", "checksum", "commit",
           "gogc", "churn_kb", "marking_fraction", "marking_bytes_fraction", "pacer_cycles", "toc_windows",
           "toc_mark_windows", "toc_local_bytes", "toc_reclaimed_bytes", "toc_forfeited_bytes", "toc_marking_bytes",
           "warmup_ended", "warmup_seconds", "warmup_cycles"]
# The columns read from the JSON's "toc" object (toc mode).
TOC_COLUMNS = [c for c in COLUMNS if c.startswith("toc_") and c != "toc_reclaimed_fraction"]

USAGE = """usage: workloads/sweep NAME [options]

Sweeps (NAME), each over the default txbench configuration but one flag:
{sweeps}
  all        every sweep above, in turn

Options:
  --modes=a,b,...   modes to run (default: every mode the sweep can run:
                    toc cms stw boehm arena go; inflight: the goroutine modes)
  --rounds=N        runs of each mode at each point (default 3; medians in the paper)
  --duration=S      seconds of timed requests per run (default 5)
  --points=a,b,...  the points instead of the sweep's own
  --gogc=N|off      pass --gogc to every run (not with the gogc sweep); the
                    results go to DIR/sweep-NAME-gogcN/
  --quick           few points, 1 round, 1 s runs, small stores (a smoke run)
  --results=DIR     results folder (default results/)
  --fresh           discard the points already collected for this sweep
  --dry-run         check the arguments and print the runs, run nothing
  --help            this text

Output: DIR/sweep-NAME/points.csv (one row per run; columns: {cols})
and meta.json (with the --gogc given, if any). An interrupted sweep resumes
from its CSV."""


def usage():
    sweeps = "\n".join(f"  {n:<10} {s[0]} over {' '.join(map(str, s[1]))}: {s[4]}" for n, s in SWEEPS.items())
    return USAGE.format(sweeps=sweeps, cols=", ".join(COLUMNS))


def fail(msg, status=2):
    print(f"workloads/sweep: {msg}", file=sys.stderr)
    sys.exit(status)


def parse(argv):
    o = {"modes": None, "rounds": 3, "duration": 5.0, "points": None, "quick": False, "results": "results",
         "fresh": False, "dry": False, "names": [], "gogc": None}
    for a in argv:
        k, _, v = a.partition("=")
        if a in ("--help", "-h"):
            print(usage())
            sys.exit(0)
        elif k == "--modes":
            o["modes"] = [m for m in v.split(",") if m]
            bad = [m for m in o["modes"] if m not in ALL_MODES]
            if bad or not o["modes"]:
                fail(f"--modes={v}: unknown mode {bad[0] if bad else '(none)'} (modes: {' '.join(ALL_MODES)})")
        elif k in ("--rounds", "--duration"):
            try:
                x = int(v) if k == "--rounds" else float(v)
            except ValueError:
                fail(f"{k}={v}: not a number")
            if x <= 0:
                fail(f"{k}={v}: must be more than 0")
            o[k[2:]] = x
        elif k == "--points":
            try:
                o["points"] = [int(p) for p in v.split(",") if p]
            except ValueError:
                fail(f"--points={v}: expected integers separated by commas")
            if not o["points"]:
                fail("--points: empty")
        elif k == "--gogc":
            if v != "off" and not (v.isdigit() and int(v) > 0):
                fail(f"--gogc={v}: expected a percentage more than 0, or off")
            o["gogc"] = v
        elif a == "--quick":
            o["quick"] = True
        elif a == "--fresh":
            o["fresh"] = True
        elif a == "--dry-run":
            o["dry"] = True
        elif k == "--results":
            if not v:
                fail("--results: empty")
            o["results"] = v
        elif a.startswith("-"):
            fail(f"unknown option '{a}' (see --help)")
        elif a == "all":
            o["names"] += list(SWEEPS)
        elif a in SWEEPS:
            o["names"].append(a)
        else:
            fail(f"unknown sweep '{a}' (sweeps: {' '.join(SWEEPS)} all)")
    if not o["names"]:
        fail("no sweep named (see --help)")
    if o["gogc"] is not None and "gogc" in o["names"]:
        fail("--gogc: the gogc sweep sets --gogc itself")
    if o["quick"]:
        o["rounds"] = 1
        o["duration"] = 1.0
    return o


def command(bindir, mode, flag, value, o, name):
    prog = os.path.join(bindir, "go-txbench" if mode == "go" else "txbench")
    args = [prog, "--json", f"--duration={o['duration']:g}"]
    if mode != "go":
        args.append(f"--mode={mode}")
    if o["quick"] and flag != "--live-mb":
        args.append("--live-mb=32")
    if name == "inflight":
        args.append("--driver=spawn")
    if o["gogc"] is not None:
        args.append(f"--gogc={o['gogc']}")
    if name == "churn":   # timed once every mode collects: toc's first cycle waits for the churn to reach its goal
        args += ["--warmup-cycles=1", "--warmup=5"] if o["quick"] else ["--warmup-cycles=2", "--warmup=30"]
    args.append(f"{flag}={value}")
    return args


def run_sweep(name, o, bindir, commit, machine):
    flag, points, quick_points, can, doc = SWEEPS[name]
    points = o["points"] or (quick_points if o["quick"] else points)
    modes = [m for m in (o["modes"] or can) if m in can]
    if not modes:
        fail(f"sweep {name}: none of --modes can run it (it runs {' '.join(can)})")
    folder = os.path.join(o["results"], f"sweep-{name}" + (f"-gogc{o['gogc']}" if o["gogc"] is not None else ""))
    if o["dry"]:
        for v in points:
            for m in modes:
                print(" ".join(command(bindir, m, flag, v, o, name)))
        return
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "points.csv")
    if o["fresh"] and os.path.exists(path):
        os.remove(path)
    done = set()
    if os.path.exists(path):
        with open(path) as f:
            for row in csv.DictReader(f):
                done.add((row["value"], row["mode"], row["round"]))
    meta_path = os.path.join(folder, "meta.json")
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {"sweep": name, "flag": flag, "doc": doc,
                                                                        "commits": [], "machine": machine}
    if commit not in meta["commits"]:
        if meta["commits"]:
            print(f"workloads/sweep: {name}: resuming points collected at {', '.join(meta['commits'])} "
                  f"with commit {commit} (each row records its commit)", file=sys.stderr)
        meta["commits"].append(commit)
    meta.update({"points": points, "modes": modes, "rounds": o["rounds"], "duration": o["duration"],
                 "quick": o["quick"], "gogc": o["gogc"]})
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    todo = [(v, r, m) for v in points for r in range(1, o["rounds"] + 1)
            for m in (modes[(r - 1) % len(modes):] + modes[:(r - 1) % len(modes)])]
    left = [t for t in todo if (str(t[0]), t[2], str(t[1])) not in done]
    print(f"workloads/sweep: {name} ({flag} over {' '.join(map(str, points))}; {' '.join(modes)}; "
          f"{o['rounds']} round(s)): {len(todo) - len(left)} of {len(todo)} runs already in {path}",
          file=sys.stderr)
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            w.writeheader()
        t0 = time.time()
        for k, (value, rnd, mode) in enumerate(left):
            args = command(bindir, mode, flag, value, o, name)
            elapsed = time.time() - t0
            eta = f", about {elapsed / k * (len(left) - k) / 60:.0f} min left" if k else ""
            print(f"workloads/sweep: {name} [{k + 1}/{len(left)}{eta}] {' '.join(args[1:])}", file=sys.stderr)
            p = subprocess.run(args, capture_output=True, text=True)
            errlog = os.path.join(folder, f"{mode}-{value}-{rnd}.stderr")
            with open(errlog, "w") as e:
                e.write(p.stderr)
            if p.returncode != 0:
                fail(f"{' '.join(args)} failed (exit {p.returncode}); its stderr: {errlog}", 1)
            res = json.loads(p.stdout)
            toc = res.get("toc") or {}
            row = dict(res)
            row.update({c: toc.get(c) for c in TOC_COLUMNS})
            row.update({"sweep": name, "flag": flag, "value": value, "mode": mode, "round": rnd, "commit": commit})
            w.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in COLUMNS})
            f.flush()
    print(f"workloads/sweep: {name}: {path} complete", file=sys.stderr)


def main():
    if len(sys.argv) < 4:
        fail("internal: sweep.py BINDIR COMMIT MACHINE_JSON NAME [options]")
    bindir, commit, machine = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    o = parse(sys.argv[4:])
    for name in o["names"]:
        run_sweep(name, o, bindir, commit, machine)


if __name__ == "__main__":
    main()
