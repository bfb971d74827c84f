"""The parameter sweeps behind the paper's figures (workloads/sweep).

Each sweep varies one txbench flag over a range of points; each round runs
every mode once at every point, the (point, mode) pairs in an order drawn at
random per round from --seed (stats.py), so that a drift of the machine
lands on points and modes at random, every Go build of go-txbench among them
(goinfo.py: go1.26, go1.26-nogreenteagc, go1.19).

A sweep is a list of jobs, one run each (point, mode, round). A job is one
command line, sweep_job.py around the txbench or go-txbench command, which
writes RESULTS/sweep-NAME/jobs/<point>-<mode>-<round>.json (one JSON line:
the run's fields, its machine and its figures) with its stderr beside it.
The sweep runs its jobs one after another with exactly that command, and
--emit-jobs writes the same commands to a file, one per line, for GNU
parallel, a Slurm job array or bash on other machines. points.csv (one row
per run) and meta.json are always rebuilt from the job files (--merge does
only that), so a job's result exists once and an interrupted sweep resumes
at the first job without one (--fresh starts over).

usage: sweep.py BINDIR COMMIT NAME [options]   (see workloads/sweep --help)
       sweep.py --check NAME [options]   (checks the arguments only)"""
import csv
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goinfo  # noqa: E402
import stats  # noqa: E402

NPROC = os.cpu_count() or 1

# The parked sweep's backend delay per request in flight, µs: requests are
# in flight together only while they wait (txbench_downstream.c), and a
# runtime starts them at well under 1e6 / this rate a second on 2 cores.
PARKED_US_PER_INFLIGHT = 20
PARKED_SECONDS = 2.0   # its runs' --duration, unless given (or the delay asks for more)

# name: (flag, points, quick points, modes that can run it, doc). "go"
# stands for every Go build of go-txbench (goinfo.py names their modes).
ALL_MODES = ["toc", "cms", "stw", "boehm", "arena", "go"]
GOROUTINE_MODES = ["toc", "cms", "stw", "go"]
SWEEPS = {
    "live": ("--live-mb", [64, 128, 256, 512, 1024, 2048], [16, 32, 64], ALL_MODES,
             "live heap (the store), MiB"),
    "publish": ("--publish-pct", [0, 5, 10, 25, 50, 75, 100], [0, 50, 100], ALL_MODES,
                "share of requests that publish a record, %"),
    "gogc": ("--gogc", [25, 50, 100, 200, 400], [50, 200], ALL_MODES,
             "GOGC, %: the heap-size sweep at a fixed live size (lib/heapcurve.py: throughput "
             "against peak RSS)"),
    "inflight": ("--inflight", [10, 100, 1000, 10000, 100000], [10, 1000], GOROUTINE_MODES,
                 "requests in flight, a goroutine each (--driver=spawn)"),
    "workers": ("--procs", list(range(1, NPROC + 1)), [1, NPROC], ALL_MODES,
                "worker threads (request loops)"),
    "alloc": ("--items", [4, 8, 16, 32, 64, 128], [4, 64], ALL_MODES,
              "items per request body: the allocation per request"),
    "parked": ("--inflight", [1000, 10000, 100000, 1000000], [1000, 10000], ["toc", "cms", "go"],
               "requests in flight, each parked mid-request on a backend (--driver=spawn --downstream=chan, "
               f"--downstream-us={PARKED_US_PER_INFLIGHT} x inflight, so that all can wait at once: "
               "parked_max says how many did); 2-s runs unless --duration, and at least 1.5 x the delay"),
    "churn": ("--churn-kb", [0, 1, 4, 16, 64], [0, 16], ALL_MODES,
              "KiB each request publishes into the churn ring (32 MiB): published garbage"),
    "pubshare": ("--publish-bytes-pct", [0, 10, 25, 50, 75, 90], [0, 50], ALL_MODES,
                 "share of what a request allocates that it publishes into the churn ring (32 MiB), %: "
                 "where toc stops paying (workloads/lib/breakeven.py)"),
}
# Sweeps timed in steady state: each run after a warm-up of 2 cycles of its
# own (at most 30 s), once every mode collects (toc's first cycle waits for
# the published bytes to reach its goal). All but parked, whose runs are as
# short as its delay allows and whose figures are the open windows'.
WARM_SWEEPS = tuple(n for n in SWEEPS if n != "parked")
COLUMNS = ["sweep", "flag", "value", "mode", "round", "txn_per_sec", "gc_cpu_us_per_txn", "gc_cpu_seconds",
           "gc_cpu_fraction", "gc_cycles", "stw_max_us", "stw_p99_us", "txn_p50_us", "txn_p99_us",
           "peak_rss_mb", "allocated_mb", "kb_per_txn", "transactions", "seconds", "toc_reclaimed_fraction",
           "published_fraction", "forfeit_fraction", "toc_owned_bytes_max", "checksum", "commit", "go_version",
           "host", "gogc", "churn_kb", "publish_bytes_pct", "marking_fraction", "marking_bytes_fraction", "pacer_cycles", "toc_windows",
           "toc_mark_windows", "toc_local_bytes", "toc_reclaimed_bytes", "toc_forfeited_bytes", "toc_marking_bytes",
           "warmup_ended", "warmup_seconds", "warmup_cycles", "downstream_us", "parked_max", "rss_per_inflight_kb",
           "owned_per_inflight_kb", "toc_forfeits", "toc_regions_claimed"]
# The columns read from the JSON's "toc" object (toc mode).
TOC_COLUMNS = [c for c in COLUMNS if c.startswith("toc_") and c != "toc_reclaimed_fraction"]
JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sweep_job.py")

USAGE = """usage: workloads/sweep NAME [options]

Sweeps (NAME), each over the default txbench configuration but one flag:
{sweeps}
  all        every sweep above, in turn
Every sweep but parked times each run after a warm-up of 2 cycles of the
run's own collector, at most 30 s (--quick: 1 cycle, at most 1 s).

Options:
  --modes=a,b,...   modes to run (default: every mode the sweep can run:
                    toc cms stw boehm arena and every Go build of go-txbench,
                    named go1.26, go1.26-nogreenteagc, go1.19 from their
                    toolchains; "go" stands for all three; inflight: the
                    goroutine modes and Go)
  --rounds=N        runs of each mode at each point (default 3; medians in the paper)
  --duration=S      seconds of timed requests per run (default 5)
  --points=a,b,...  the points instead of the sweep's own
  --gogc=N|off      pass --gogc to every run (not with the gogc sweep); the
                    results go to DIR/sweep-NAME-gogcN/
  --seed=N          the seed of each round's random order of points and
                    modes (default: from the clock; kept in meta.json)
  --txbench-args=S  more flags for every run, txbench's and go-txbench's
                    (one string, split as a shell would; kept in meta.json),
                    e.g. --txbench-args=--churn-kb=4: a sweep where toc
                    collects too; not the swept flag
  --quick           few points, 1 round, 1 s runs, small stores (a smoke run)
  --results=DIR     results folder (default results/)
  --fresh           discard the runs already collected for this sweep
  --dry-run         check the arguments and print the jobs, run nothing
  --emit-jobs FILE  write the jobs still to run to FILE, one shell command a
                    line, and run nothing (GNU parallel, a Slurm array, bash)
  --merge DIR       rebuild DIR/sweep-NAME/points.csv and meta.json from the
                    job files in DIR/sweep-NAME/jobs/ (no build, no runs)
  --help            this text

Output: DIR/sweep-NAME/jobs/<point>-<mode>-<round>.json (one per run, its
stderr beside it), points.csv (one row per run, rebuilt from the jobs;
columns: {cols}) and meta.json. An interrupted sweep resumes at the first
run without a job file."""


def usage():
    sweeps = "\n".join(f"  {n:<10} {s[0]} over {' '.join(map(str, s[1]))}: {s[4]}" for n, s in SWEEPS.items())
    return USAGE.format(sweeps=sweeps, cols=", ".join(COLUMNS))


def fail(msg, status=2):
    print(f"workloads/sweep: {msg}", file=sys.stderr)
    sys.exit(status)


def log(msg):
    print(f"workloads/sweep: {msg}", file=sys.stderr, flush=True)


def parse(argv):
    o = {"modes": None, "rounds": 3, "duration": 5.0, "points": None, "quick": False, "results": "results",
         "fresh": False, "dry": False, "names": [], "seed": int(time.time()), "emit": None, "merge": False,
         "gogc": None, "duration_set": False, "txbench_args": []}
    # --emit-jobs and --merge take their value after = or as the next word.
    joined, i = [], 0
    while i < len(argv):
        if argv[i] in ("--emit-jobs", "--merge") and i + 1 < len(argv):
            joined.append(f"{argv[i]}={argv[i + 1]}")
            i += 1
        else:
            joined.append(argv[i])
        i += 1
    for a in joined:
        k, _, v = a.partition("=")
        if a in ("--help", "-h"):
            print(usage())
            sys.exit(0)
        elif k == "--modes":
            o["modes"] = [m for m in v.split(",") if m]
            bad = [m for m in o["modes"] if m not in ALL_MODES and not goinfo.is_mode(m)]
            if bad or not o["modes"]:
                fail(f"--modes={v}: unknown mode {bad[0] if bad else '(none)'} "
                     f"(modes: {' '.join(m for m in ALL_MODES if m != 'go')} go go1.N go1.N-EXPERIMENT)")
        elif k in ("--rounds", "--duration", "--seed"):
            try:
                x = float(v) if k == "--duration" else int(v)
            except ValueError:
                fail(f"{k}={v}: not a number")
            if x < 0 or x == 0 and k != "--seed":
                fail(f"{k}={v}: must be more than 0" if k != "--seed" else f"{k}={v}: must not be negative")
            o[k[2:]] = x
            o["duration_set"] = o["duration_set"] or k == "--duration"
        elif k == "--points":
            try:
                o["points"] = [int(p) for p in v.split(",") if p]
            except ValueError:
                fail(f"--points={v}: expected integers separated by commas")
            if not o["points"]:
                fail("--points: empty")
        elif k == "--txbench-args":
            o["txbench_args"] = shlex.split(v)
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
        elif k in ("--results", "--emit-jobs", "--merge"):
            if not v:
                fail(f"{k}: empty (a {'file' if k == '--emit-jobs' else 'folder'})")
            if k == "--emit-jobs":
                o["emit"] = v
            else:
                o["results"], o["merge"] = v, o["merge"] or k == "--merge"
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
    for n in o["names"]:
        swept = SWEEPS[n][0]
        if any(a == swept or a.startswith(swept + "=") for a in o["txbench_args"]):
            fail(f"--txbench-args: {swept} is what the {n} sweep varies")
    if o["merge"] and (o["emit"] or o["dry"] or o["fresh"]):
        fail("--merge only reads job files: not with --emit-jobs, --dry-run or --fresh")
    if o["quick"]:   # its sizes, where not given
        o["rounds"] = 1 if not any(a.startswith("--rounds=") for a in joined) else o["rounds"]
        o["duration"] = 1.0 if not any(a.startswith("--duration=") for a in joined) else o["duration"]
    return o


def command(bindir, mode, flag, value, o, name):
    go = o["go"].get(mode)
    prog = go["path"] if go else os.path.join(bindir, "txbench")
    duration = o["duration"]
    if name == "parked":
        if not o["duration_set"]:
            duration = min(duration, PARKED_SECONDS)
        delay_us = PARKED_US_PER_INFLIGHT * value
        duration = max(duration, 1.5 * delay_us / 1e6)
    args = [prog, "--json", f"--duration={duration:g}"]
    if not go:
        args.append(f"--mode={mode}")
    if o["quick"] and flag != "--live-mb":
        args.append("--live-mb=32")
    if name == "inflight":
        args.append("--driver=spawn")
    if name == "parked":
        args += ["--driver=spawn", "--downstream=chan", f"--downstream-us={delay_us}"]
    if o["gogc"] is not None:
        args.append(f"--gogc={o['gogc']}")
    if name in WARM_SWEEPS:
        args += ["--warmup-cycles=1", "--warmup=1"] if o["quick"] else ["--warmup-cycles=2", "--warmup=30"]
    args += o["txbench_args"]
    args.append(f"{flag}={value}")
    return args


def go_builds(bindir, o):
    """Resolves the Go modes asked for (--modes, or "go": every build) to
    go-txbench's builds in BINDIR: o["go"] maps each mode to its build.
    A build asked for and not built is an error naming what it needs."""
    try:
        o["go"] = goinfo.resolve(bindir, "go-txbench", o["modes"] or ["go"])
    except ValueError as e:
        fail(str(e), 1)


def modes_of(name, o):
    """The modes sweep NAME runs: those asked for that it can run, Go's
    expanded to its builds."""
    can = SWEEPS[name][3]
    modes = []
    for m in o["modes"] or can:
        if goinfo.is_mode(m) and "go" in can:
            modes += [g for g in o["go"] if (m == "go" or g == m) and g not in modes]
        elif m in can and m not in modes:
            modes.append(m)
    if not modes:
        fail(f"sweep {name}: none of --modes can run it (it runs {' '.join(can)})")
    return modes


def folder_name(name, o):
    """sweep-NAME, or sweep-NAME-gogcN for a sweep run with --gogc=N."""
    return f"sweep-{name}" + (f"-gogc{o['gogc']}" if o["gogc"] is not None else "")


def plan(name, o, bindir, commit):
    """The sweep's jobs in run order: (id, argv), each round's (point, mode) pairs shuffled."""
    flag, points, quick_points, can, doc = SWEEPS[name]
    points = o["points"] or (quick_points if o["quick"] else points)
    modes = modes_of(name, o)
    folder = os.path.abspath(os.path.join(o["results"], folder_name(name, o)))
    pairs = [(v, m) for v in points for m in modes]
    jobs = []
    for r, order in enumerate(stats.schedule(o["seed"], o["rounds"], pairs), 1):
        for v, m in order:
            jid = f"{v}-{m}-{r}"
            fields = [f"sweep={name}", f"flag={flag}", f"value={v}", f"mode={m}", f"round={r}",
                      f"commit={commit}"]
            if m in o["go"]:
                fields.append(f"go_version={o['go'][m]['version']}")
            argv = ["python3", JOB, os.path.join(folder, "jobs", jid + ".json"), *fields, "--",
                    *command(bindir, m, flag, v, o, name)]
            jobs.append((jid, argv))
    meta = {"sweep": name, "flag": flag, "doc": doc, "points": points, "modes": modes, "rounds": o["rounds"],
            "duration": o["duration"], "quick": o["quick"], "seed": o["seed"], "gogc": o["gogc"],
            "txbench_args": " ".join(o["txbench_args"]),
            "go_versions": {m: o["go"][m]["version"] for m in modes if m in o["go"]},
            "jobs": [j for j, _ in jobs]}
    return folder, jobs, meta


def merge(name, o, quiet=False):
    """Rebuilds points.csv and meta.json of sweep NAME from its job files.
    Returns the number of rows."""
    folder = os.path.join(o["results"], folder_name(name, o))
    files = sorted(glob.glob(os.path.join(folder, "jobs", "*.json")))
    meta_path = os.path.join(folder, "meta.json")
    meta = {"sweep": name, "flag": SWEEPS[name][0], "doc": SWEEPS[name][4]}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    recs = []
    for path in files:
        with open(path) as f:
            recs.append(json.loads(f.read()))
    modes = meta.get("modes", [])
    rank = lambda m: modes.index(m) if m in modes else len(modes)
    recs.sort(key=lambda r: (float(r["value"]), int(r["round"]), rank(r["mode"]), r["mode"]))
    with open(os.path.join(folder, "points.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in recs:
            row = dict(r["result"])
            row.update({k: r.get(k) for k in ("sweep", "flag", "value", "mode", "round", "commit", "go_version")})
            row["host"] = r["machine"].get("host")
            toc = r["result"].get("toc") or {}
            row.update({c: toc.get(c) for c in TOC_COLUMNS})
            w.writerow({c: ("" if row.get(c) is None else row.get(c)) for c in COLUMNS})
    machines = []
    for r in recs:
        if r["machine"] not in machines:
            machines.append(r["machine"])
    done = {os.path.splitext(os.path.basename(p))[0] for p in files}
    missing = [j for j in meta.get("jobs", []) if j not in done]
    meta.update({"commits": sorted({r["commit"] for r in recs}), "machines": machines, "rows": len(recs),
                 "missing_jobs": missing})
    if machines:
        meta.setdefault("machine", machines[0])
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    if not quiet:
        log(f"{name}: {os.path.join(folder, 'points.csv')}: {len(recs)} rows from {folder}/jobs"
            + (f"; {len(missing)} planned run(s) have no result yet" if missing else ""))
    return len(recs)


def prepare(name, o, folder, meta, commit):
    """Makes the sweep's folder ready for its jobs and writes the plan into meta.json."""
    if o["fresh"]:
        for p in ("jobs", "points.csv", "meta.json"):
            path = os.path.join(folder, p)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    if os.path.exists(os.path.join(folder, "points.csv")) and not os.path.isdir(os.path.join(folder, "jobs")):
        fail(f"{folder}/points.csv was written before sweeps kept a file per run (jobs/): "
             f"move it away or pass --fresh", 1)
    os.makedirs(os.path.join(folder, "jobs"), exist_ok=True)
    meta_path = os.path.join(folder, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            old = json.load(f)
        if old.get("commits") and commit not in old["commits"]:
            log(f"{name}: resuming runs collected at {', '.join(old['commits'])} with commit {commit} "
                f"(each row records its commit)")
        old.update(meta)
        meta = old
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)


def run_sweep(name, o, bindir, commit, emit):
    folder, jobs, meta = plan(name, o, bindir, commit)
    if o["dry"]:
        for _, argv in jobs:
            print(shlex.join(argv))
        return
    prepare(name, o, folder, meta, commit)
    left = [(j, argv) for j, argv in jobs if not os.path.exists(os.path.join(folder, "jobs", j + ".json"))]
    log(f"{name} ({meta['flag']} over {' '.join(map(str, meta['points']))}; {' '.join(meta['modes'])}; "
        f"{o['rounds']} round(s), order seed {o['seed']}): {len(jobs) - len(left)} of {len(jobs)} runs "
        f"already in {folder}/jobs")
    if emit:
        for _, argv in left:
            emit.write(shlex.join(argv) + "\n")
        log(f"{name}: {len(left)} job(s) written to {o['emit']}; then: workloads/sweep {name} --merge {o['results']}")
        return
    t0 = time.time()
    for k, (jid, argv) in enumerate(left):
        elapsed = time.time() - t0
        eta = f", about {elapsed / k * (len(left) - k) / 60:.0f} min left" if k else ""
        prog = argv[argv.index("--") + 1:]
        log(f"{name} [{k + 1}/{len(left)}{eta}] {jid}: {os.path.basename(prog[0])} {' '.join(prog[1:])}")
        p = subprocess.run(argv)
        if p.returncode != 0:
            merge(name, o, quiet=True)
            fail(f"run {jid} failed (exit {p.returncode}); its stderr: {folder}/jobs/{jid}.stderr", 1)
        merge(name, o, quiet=True)
    merge(name, o)
    log(f"{name}: complete")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "--check":
        parse(sys.argv[2:])
        return
    if len(sys.argv) < 3:
        fail("internal: sweep.py BINDIR COMMIT NAME [options]")
    bindir, commit = os.path.abspath(sys.argv[1]), sys.argv[2]
    o = parse(sys.argv[3:])
    if o["merge"]:
        for name in o["names"]:
            if not os.path.isdir(os.path.join(o["results"], folder_name(name, o), "jobs")):
                fail(f"--merge {o['results']}: no {folder_name(name, o)}/jobs/ there", 1)
            merge(name, o)
        return
    go_builds(bindir, o)
    emit = open(o["emit"], "w") if o["emit"] and not o["dry"] else None
    for name in o["names"]:
        run_sweep(name, o, bindir, commit, emit)
    if emit:
        emit.close()


if __name__ == "__main__":
    main()
