"""workloads/attribute's runs: where toc's saving per transaction over cms
comes from (docs/measurement.md, "Attribution").

  1. faultbench: µs per minor fault on this machine;
  2. timed txbench runs of every configuration, interleaved, each round's
     order drawn from --order-seed: CPU per txn and its split from the JSON;
  3. cachegrind runs at two request counts per configuration (--procs=1,
     a fixed seed): the mutator's instructions and misses per request;
  4. the model fitted on the ablations, the attribution for toc vs cms.

usage: attribute.py BINDIR COMMIT MACHINE_JSON [options]   (see workloads/attribute --help)"""
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ beside the sources
import attribute_counts as counts  # noqa: E402
import attribute_model as model  # noqa: E402
import attribute_table  # noqa: E402
import stats  # noqa: E402

# name: (txbench mode, extra flags, environment, doc)
CONFIGS = {
    "cms": ("cms", [], {}, "the baseline: concurrent mark-sweep"),
    "toc": ("toc", [], {}, "toc, its default region (512K)"),
    "cms-gogc-off": ("cms", ["--gogc=off"], {}, "the allocator alone, no collection (a fixed request count)"),
    "toc-rewind-off": ("toc", [], {"TOC_REWIND": "0"}, "windows without reclaim: closed windows left to the collector"),
    "toc-region-64K": ("toc", [], {"TOC_REGION": "64K"}, "toc with 64K regions"),
    "toc-region-128K": ("toc", [], {"TOC_REGION": "128K"}, "toc with 128K regions"),
    "toc-region-256K": ("toc", [], {"TOC_REGION": "256K"}, "toc with 256K regions"),
    "arena": ("arena", [], {}, "a bump arena per request, no collector"),
}
# Not fitted by default: toc and cms, whose mutator CPU the model predicts,
# and toc-rewind-off, whose windows each take a fresh region (TOC_REWIND=0
# retires every closed window's region): its CPU goes to mapping, faulting
# and collecting a region per transaction, kernel and contention time the
# model has no term for (at 256 MiB it ran at 1/30 of toc's rate, 24
# faults and 350 us of assist wait per transaction). Fitted on, its
# residual of hundreds of us set the miss costs to 250 ns and more.
HELD_OUT = ("cms", "toc", "toc-rewind-off")
TXBENCH_LIVE_MB = 256   # txbench's default --live-mb (a --live-mb in --txbench-args wins over the table's figure)

USAGE = """usage: workloads/attribute [options]

Where toc's saving per transaction over cms goes: the collector's CPU
(timed by its accounts), the allocation path, page faults and cache misses
(counted by faultbench and cachegrind, turned into microseconds by a model
fitted on the ablations), and what is left. Configurations:
{configs}

Options:
  --runs=N            timed rounds; every configuration once per round (default 5)
  --duration=S        seconds of requests per timed run (default 5)
  --warmup-cycles=N   a timed run starts after N cycles of its own collector
                      (default 2; 0: no warm-up), or --warmup seconds, whichever
                      first; cms-gogc-off (a fixed request count, no cycles)
                      has none, the arena (no collector) 3 s
  --warmup=S          the warm-up's cap in seconds (default 15)
  --gogc-off-requests=N  cms-gogc-off's fixed request count, as its heap only
                      grows (default 150000: about 2.4 GB at 16 KB per request)
  --configs=a,b,...   configurations to time (default: all; none: cachegrind only)
  --cg-configs=a,b    configurations to count with cachegrind (default: all;
                      none: skip cachegrind, the model's components are null)
  --cg-requests=A,B   the two request counts of the cachegrind runs (default 5000,25000)
  --cg-live-mb=M      the cachegrind runs' store (default: the timed runs')
  --calibration=a,b   the configurations the model is fitted on (default: every
                      one measured both ways but cms, toc and toc-rewind-off,
                      whose region per window costs kernel time the model has
                      no term for)
  --refit=DIR         no runs: fit the model again on an earlier run's folder
                      (its attribution.json and runs.jsonl), with this run's
                      --calibration, and rewrite its attribution.json and
                      table.txt (the former kept as *.before-refit)
  --seed=N            the cachegrind runs' request stream (default 1)
  --order-seed=N      the seed of each timed round's random order of the
                      configurations (default: from the clock; kept in
                      attribution.json)
  --cg-from=DIR       take the cachegrind counts from an earlier run's folder
                      (its attribution.json and cachegrind.json) instead of
                      counting again: its cachegrind settings must equal this
                      run's, and the sources txbench is built from must not
                      have changed between its commit and this one
  --txbench-args=...  more txbench flags for every run, timed and counted
                      (one string, split as a shell would)
  --cg-txbench-args=...  the cachegrind runs' instead (default: --txbench-args;
                      a timed warm-up there would break the difference of counts)
  --quick             a smoke run: 1 round of 1 s, a 32 MiB store, cachegrind
                      at 300 and 900 requests over a 4 MiB store
  --results=DIR       results folder (default results/)
  --help              this text

Output: DIR/attribute-<date>-<commit>/ with runs.jsonl (every timed run),
cachegrind.json (per-request counts by class), faultbench.json,
attribution.json (medians, the fit, the components) and table.txt."""


def usage():
    return USAGE.format(configs="\n".join(f"  {n:<16} {c[3]}" for n, c in CONFIGS.items()))


def fail(msg, status=2):
    print(f"workloads/attribute: {msg}", file=sys.stderr)
    sys.exit(status)


def log(msg):
    print(f"workloads/attribute: {msg}", file=sys.stderr, flush=True)


def config_list(flag, v):
    if v == "none":
        return []
    names = [x for x in v.split(",") if x]
    bad = [x for x in names if x not in CONFIGS]
    if bad:
        fail(f"{flag}: unknown configuration(s) {', '.join(bad)} (known: {', '.join(CONFIGS)})")
    return names


def positive(flag, v, kind=int):
    try:
        x = kind(v)
    except ValueError:
        x = 0
    if x <= 0:
        fail(f"{flag}={v}: expected a positive number")
    return x


SWITCHES = {"--quick": "quick", "--check-only": "check_only"}   # options without a value


def parse(argv):
    o = {"runs": 5, "duration": 5.0, "off_requests": 150000, "configs": list(CONFIGS),
         "cg_configs": list(CONFIGS), "cg_requests": (5000, 25000), "cg_live_mb": None, "calibration": None,
         "seed": 1, "txbench_args": [], "cg_txbench_args": None, "live_mb": None, "results": "results",
         "quick": False, "check_only": False, "order_seed": None, "cg_from": None, "refit": None, "warmup_cycles": 2,
         "warmup": 15.0}
    explicit = set()
    for a in argv:
        if a in ("--help", "-h"):
            print(usage())
            sys.exit(0)
        if a in SWITCHES:
            o[SWITCHES[a]] = True
            continue
        k, eq, v = a.partition("=")
        if not eq:
            fail(f"unknown option '{a}' (see --help)")
        explicit.add(k)
        if k == "--runs":
            o["runs"] = positive(k, v)
        elif k == "--duration":
            o["duration"] = positive(k, v, float)
        elif k == "--gogc-off-requests":
            o["off_requests"] = positive(k, v)
        elif k == "--configs":
            o["configs"] = config_list(k, v)
        elif k == "--cg-configs":
            o["cg_configs"] = config_list(k, v)
        elif k == "--cg-requests":
            try:
                lo, hi = (int(x) for x in v.split(","))
            except ValueError:
                fail(f"{k}={v}: expected two request counts, A,B")
            if not 0 < lo < hi:
                fail(f"{k}={v}: expected 0 < A < B")
            o["cg_requests"] = (lo, hi)
        elif k == "--calibration":
            o["calibration"] = config_list(k, v)
        elif k == "--cg-live-mb":
            o["cg_live_mb"] = positive(k, v)
        elif k == "--seed":
            o["seed"] = int(v) if v.isdigit() else fail(f"{k}={v}: expected a non-negative integer")
        elif k == "--warmup-cycles":
            o["warmup_cycles"] = int(v) if v.isdigit() else fail(f"{k}={v}: expected a non-negative integer")
        elif k == "--warmup":
            o["warmup"] = positive(k, v, float)
        elif k == "--order-seed":
            o["order_seed"] = int(v) if v.isdigit() else fail(f"{k}={v}: expected a non-negative integer")
        elif k == "--refit":
            if not os.path.isfile(os.path.join(v, "attribution.json")):
                fail(f"{k}={v}: no attribution.json there (a folder written by workloads/attribute)")
            o["refit"] = v
        elif k == "--cg-from":
            if not os.path.isfile(os.path.join(v, "attribution.json")):
                fail(f"{k}={v}: no attribution.json there (a folder written by workloads/attribute)")
            o["cg_from"] = v
        elif k == "--txbench-args":
            o["txbench_args"] = shlex.split(v)
        elif k == "--cg-txbench-args":
            o["cg_txbench_args"] = shlex.split(v)
        elif k == "--results":
            o["results"] = v
        else:
            fail(f"unknown option '{a}' (see --help)")
    if o["quick"]:
        quick = {"--runs": ("runs", 1), "--duration": ("duration", 1.0), "--warmup-cycles": ("warmup_cycles", 0), "--gogc-off-requests": ("off_requests", 20000),
                 "--cg-requests": ("cg_requests", (300, 900)), "--cg-live-mb": ("cg_live_mb", 4)}
        for flag, (key, val) in quick.items():
            if flag not in explicit:
                o[key] = val
        o["live_mb"] = 32
    if not o["configs"] and not o["cg_configs"]:
        fail("--configs=none and --cg-configs=none: nothing to run")
    if o["order_seed"] is None:
        o["order_seed"] = int(time.time() * 1000) % 1000000007
    return o


def txbench_cmd(bindir, name, o, extra):
    mode, flags, env, _ = CONFIGS[name]
    cmd = [os.path.join(bindir, "txbench"), f"--mode={mode}", "--json"] + flags + extra
    if o["live_mb"]:
        cmd.append(f"--live-mb={o['live_mb']}")   # before the extra args: theirs win
    return cmd + o["txbench_args"], dict(os.environ, **env)


def run_json(cmd, env, errpath):
    with open(errpath, "w") as err:
        p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    if p.returncode != 0:
        with open(errpath) as f:
            tail = f.read()[-2000:]
        fail(f"{' '.join(cmd)} failed ({p.returncode}):\n{tail}", 1)
    line = [x for x in p.stdout.splitlines() if x.startswith("{")]
    if not line:
        fail(f"{' '.join(cmd)} printed no JSON", 1)
    return json.loads(line[-1])


def per_txn_figures(res):
    """A timed run's figures per transaction (µs, faults)."""
    n = res["transactions"]

    def us(key):
        v = res.get(key)
        return None if v is None else v * 1e6 / n
    f = {"txn_per_sec": res["txn_per_sec"], "cpu_us": us("proc_cpu_seconds"), "mark_us": us("gc_mark_cpu_seconds"),
         "assist_us": us("gc_assist_cpu_seconds"), "idle_us": 0.0, "pause_us": us("gc_pause_cpu_seconds"),
         "sweep_us": us("gc_sweep_cpu_seconds"), "assist_wait_us": us("gc_assist_wait_seconds"),
         "faults_per_txn": res["minor_faults"] / n, "wall_core_us": res["seconds"] * res["procs"] * 1e6 / n,
         "gc_cycles": res["gc_cycles"], "kb_per_txn": res["kb_per_txn"]}
    for k in ("mark_us", "assist_us", "pause_us", "sweep_us", "assist_wait_us"):
        f[k] = f[k] or 0.0   # the arena: no collector
    f["gc_us"] = f["mark_us"] + f["assist_us"] + f["pause_us"] + f["sweep_us"]
    f["mutator_us"] = f["cpu_us"] - f["gc_us"]
    return f


def warmup_args(name, o):
    """A timed run's warm-up: N cycles of its own, capped; none for the
    configuration without cycles, seconds alone for the one without a
    collector."""
    if not o["warmup_cycles"] or name == "cms-gogc-off":
        return []
    if CONFIGS[name][0] == "arena":
        return [f"--warmup={min(o['warmup'], 3.0):g}"]
    return [f"--warmup-cycles={o['warmup_cycles']}", f"--warmup={o['warmup']:g}"]


def timed_runs(bindir, o, out, commit, machine):
    names = o["configs"]
    per = {n: [] for n in names}
    if not names:
        return {}, {}
    log(f"timed: {o['runs']} round(s) of {', '.join(names)}, order seed {o['order_seed']}")
    for i, order in enumerate(stats.schedule(o["order_seed"], o["runs"], names)):
        for n in order:
            extra = [f"--requests={o['off_requests']}"] if n == "cms-gogc-off" else [f"--duration={o['duration']}"]
            extra += warmup_args(n, o)
            cmd, env = txbench_cmd(bindir, n, o, extra)
            log(f"round {i + 1}/{o['runs']}: {n}: {' '.join(cmd[1:])}")
            res = run_json(cmd, env, os.path.join(out, f"timed-{n}-{i + 1}.stderr"))
            per[n].append(per_txn_figures(res))
            rec = {"config": n, "round": i + 1, "commit": commit, "machine": machine, "env": CONFIGS[n][2],
                   "args": " ".join(cmd[1:]), "result": res}
            with open(os.path.join(out, "runs.jsonl"), "a") as f:
                f.write(json.dumps(rec) + "\n")
    med = {}
    for n, runs in per.items():
        med[n] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        med[n]["runs"] = len(runs)
        med[n]["cpu_us_spread"] = [min(r["cpu_us"] for r in runs), max(r["cpu_us"] for r in runs)]
        med[n]["ci95"] = {k: stats.median_ci([r[k] for r in runs]) for k in ("txn_per_sec", "cpu_us", "gc_us")}
    return med, per


# The cachegrind settings two runs must share for one's counts to stand in
# for the other's, and the folders txbench is built from.
CG_KEYS = ("cg_requests", "seed", "cg_live_mb", "cg_txbench_args")
TXBENCH_SOURCES = ("CMakeLists.txt", "gc", "toc", "sched", "workloads/CMakeLists.txt", "workloads/common",
                   "workloads/txbench")


def cachegrind_from(o, conf, repo, commit):
    """The counts of an earlier run (--cg-from), checked against this run's
    settings and sources; fails naming what differs."""
    with open(os.path.join(o["cg_from"], "attribution.json")) as f:
        old = json.load(f)
    with open(os.path.join(o["cg_from"], "cachegrind.json")) as f:
        cg = json.load(f)
    oc = old["configuration"]
    for k in CG_KEYS:
        a, b = oc.get(k), conf[k]
        if k == "cg_requests":
            a, b = list(a or []), list(b)
        if a != b:
            fail(f"--cg-from={o['cg_from']}: its {k} is {a!r}, this run's {b!r}")
    missing = [n for n in o["cg_configs"] if n not in cg]
    if missing:
        fail(f"--cg-from={o['cg_from']}: no counts for {', '.join(missing)} there")
    then = old["commit"]
    if then.endswith("-dirty") or commit.endswith("-dirty"):
        fail(f"--cg-from={o['cg_from']}: commit {then} against {commit}: a dirty tree cannot be compared")
    if then != commit:
        p = subprocess.run(["git", "-C", repo, "diff", "--quiet", then, commit, "--", *TXBENCH_SOURCES])
        if p.returncode != 0:
            fail(f"--cg-from={o['cg_from']}: txbench's sources changed between {then} and {commit} "
                 f"({' '.join(TXBENCH_SOURCES)}): count again")
    log(f"cachegrind counts from {o['cg_from']} (commit {then})")
    return {n: cg[n] for n in o["cg_configs"]}, then


def cachegrind_runs(bindir, o, out, repo):
    if not o["cg_configs"]:
        return {}
    build_root = os.path.dirname(os.path.abspath(bindir))
    symbols = counts.symbol_classes(build_root, repo)
    llc = cache_geometry()
    lo, hi = o["cg_requests"]
    result = {}
    for n in o["cg_configs"]:
        files = []
        for req in (lo, hi):
            cgout = os.path.join(out, f"cachegrind.out.{n}.{req}")
            cg_o = dict(o, live_mb=o["cg_live_mb"] or o["live_mb"])
            if o["cg_txbench_args"] is not None:
                cg_o["txbench_args"] = o["cg_txbench_args"]
            cmd, env = txbench_cmd(bindir, n, cg_o,
                                   [f"--requests={req}", "--procs=1", f"--seed={o['seed']}"])
            env["TOC_MAX_GOROUTINES"] = "1024"   # valgrind's memory: a smaller goroutine table
            vg = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--cachegrind-out-file={cgout}"] + llc
            log(f"cachegrind: {n}: {req} requests")
            t0 = time.monotonic()
            res = run_json(vg + cmd, env, os.path.join(out, f"cachegrind-{n}-{req}.stderr"))
            files.append((counts.read_cachegrind(cgout, symbols, repo), res, time.monotonic() - t0))
        (a, ra, _), (b, rb, secs) = files
        pt = counts.per_txn(a, b, lo, hi)
        pt["requests"] = [lo, hi]
        pt["gc_cycles"] = [ra["gc_cycles"], rb["gc_cycles"]]
        pt["desc"] = b["desc"]
        pt["ambiguous_ir"] = b["ambiguous_ir"]
        pt["seconds_longer_run"] = round(secs, 1)
        result[n] = pt
    return result


def cache_geometry():
    """cachegrind's --I1/--D1/--LL from sysfs (its own detection reads this
    VM's L3 as 256 MiB direct-mapped); LL is the last level present."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    found = {}
    try:
        for idx in sorted(os.listdir(base)):
            if not idx.startswith("index"):
                continue

            def rd(k):
                with open(os.path.join(base, idx, k)) as f:
                    return f.read().strip()
            size = rd("size")
            size = int(size[:-1]) * 1024 if size.endswith("K") else int(size)
            found[(int(rd("level")), rd("type"))] = f"{size},{rd('ways_of_associativity')},{rd('coherency_line_size')}"
    except (OSError, ValueError):
        return []
    args = []
    if (1, "Instruction") in found:
        args.append(f"--I1={found[(1, 'Instruction')]}")
    if (1, "Data") in found:
        args.append(f"--D1={found[(1, 'Data')]}")
    last = max((k for k in found if k[1] == "Unified"), default=None)
    if last:
        args.append(f"--LL={found[last]}")
    return args


def saving_intervals(per_run, base="cms", new="toc"):
    """Bootstrap 95% intervals of the measured parts of the saving
    (differences of medians, both sides resampled independently) and of
    the throughput ratio new/base."""
    b, n = per_run[base], per_run[new]
    out = {"txn_ratio": stats.ratio_ci([r["txn_per_sec"] for r in n], [r["txn_per_sec"] for r in b])}
    for key, fig in (("X", "cpu_us"), ("gc", "gc_us"), ("sweep", "sweep_us"), ("mutator", "mutator_us"),
                     ("faults_per_txn", "faults_per_txn")):
        out[key] = stats.difference_ci([r[fig] for r in b], [r[fig] for r in n])
    return out


def faultbench(bindir, o, out):
    cmd = [os.path.join(bindir, "faultbench"), "--json"] + (["--mib=32", "--trials=3"] if o["quick"] else [])
    log("faultbench: " + " ".join(cmd[1:]))
    res = run_json(cmd, dict(os.environ), os.path.join(out, "faultbench.stderr"))
    with open(os.path.join(out, "faultbench.json"), "w") as f:
        json.dump(res, f)
    return res


def fit_and_write(doc, per_run, o, out):
    """Fits the model on doc's timed medians and counts, attributes the
    saving, and writes attribution.json and table.txt into out."""
    timed, cg, fault_us = doc["timed"], doc["cachegrind"], doc["fault_us"]
    held_out = [n for n in CONFIGS if n not in o["calibration"]] if o["calibration"] else list(HELD_OUT)
    fitted = model.fit(timed, cg, fault_us, held_out)
    coef = fitted["coefficients"]
    att = model.attribute(timed, cg, coef, fault_us)
    if att and per_run:
        att["ci95"] = saving_intervals(per_run)
    for n in timed:
        timed[n]["model_parts_us"] = model.parts(cg.get(n), coef)
    doc.update(fit=fitted, attribution=att)
    with open(os.path.join(out, "attribution.json"), "w") as f:
        json.dump(doc, f, indent=1)
    text = attribute_table.render(doc)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)
    print(text, end="")


def refit(o):
    """--refit=DIR: the model again over an earlier run's results."""
    d = o["refit"]
    with open(os.path.join(d, "attribution.json")) as f:
        doc = json.load(f)
    per_run = {}
    if os.path.exists(os.path.join(d, "runs.jsonl")):
        with open(os.path.join(d, "runs.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                per_run.setdefault(r["config"], []).append(per_txn_figures(r["result"]))
    for name in ("attribution.json", "table.txt"):
        if os.path.exists(os.path.join(d, name)):
            shutil.copyfile(os.path.join(d, name), os.path.join(d, name + ".before-refit"))
    doc["configuration"]["refit_calibration"] = o["calibration"]
    log(f"fitting again over {d}")
    fit_and_write(doc, per_run, o, d)


def main():
    if len(sys.argv) < 4:
        fail(usage())
    bindir, commit, machine_json = sys.argv[1:4]
    o = parse(sys.argv[4:])
    if o["check_only"]:
        return
    if o["refit"]:
        return refit(o)
    machine = json.loads(machine_json)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = os.path.join(o["results"], f"attribute-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{commit}")
    os.makedirs(out, exist_ok=True)
    log(f"results in {out}")
    fb = faultbench(bindir, o, out)
    fault_us = fb["populate_ns_per_fault"] / 1e3
    timed, per_run = timed_runs(bindir, o, out, commit, machine)
    conf = {k: o[k] for k in ("runs", "duration", "warmup_cycles", "warmup", "off_requests", "cg_requests", "seed",
                              "order_seed", "quick")}
    cg_args = o["txbench_args"] if o["cg_txbench_args"] is None else o["cg_txbench_args"]
    conf.update(txbench_args=" ".join(o["txbench_args"]), cg_txbench_args=" ".join(cg_args),
                live_mb=o["live_mb"] or TXBENCH_LIVE_MB,
                cg_live_mb=o["cg_live_mb"] or o["live_mb"] or TXBENCH_LIVE_MB,
                timed_configs=o["configs"], cg_configs=o["cg_configs"], cg_from=o["cg_from"], cg_commit=commit,
                configs={n: {"mode": CONFIGS[n][0], "flags": CONFIGS[n][1], "env": CONFIGS[n][2]} for n in CONFIGS})
    if o["cg_from"]:
        cg, conf["cg_commit"] = cachegrind_from(o, conf, repo, commit)
    else:
        cg = cachegrind_runs(bindir, o, out, repo)
    with open(os.path.join(out, "cachegrind.json"), "w") as f:
        json.dump(cg, f, indent=1)
    doc = {"commit": commit, "machine": machine, "configuration": conf, "faultbench": fb,
           "fault_us": fault_us, "timed": timed, "cachegrind": cg}
    fit_and_write(doc, per_run, o, out)
    log(f"raw runs: {out}/runs.jsonl, cachegrind outputs: {out}/cachegrind.out.*")


if __name__ == "__main__":
    main()
