"""Drives the HTTP servers with wrk (workloads/httpbench).

usage: httpbench.py BINDIR RESULTS_DIR COMMIT MACHINE_JSON [options]   (see workloads/httpbench --help)"""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goinfo  # noqa: E402
import stats  # noqa: E402

USAGE = """usage: workloads/httpbench [options]

Starts each server in turn on loopback (toc: httpd --mode=toc, cms: httpd
--mode=cms, and each Go build of go-httpd, the same handler on Go's
net/http: go1.26 (the go on PATH), go1.26-nogreenteagc, go1.19; see
lib/goinfo.py), drives it with wrk replaying txbench's request stream
(lib/wrk_txbench.lua), stops it with SIGINT and keeps its statistics; prints
requests/s and latency percentiles per server and the ratios. Servers are
interleaved run by run, each run's order drawn at random from --seed.

  --duration=S      seconds of wrk per run (default 10)
  --warmup=S        seconds of wrk before each run, on the same server and
                    path, not counted (default 3; --quick: 0); the servers'
                    GC figures (cycles, GC CPU, pauses) cover both
  --connections=N   wrk connections (default 64)
  --threads=N       wrk threads (default 2)
  --live-mb=N       the servers' store (default 256, txbench's default)
  --runs=N          runs of each server (default 1; medians over runs, with
                    bootstrap 95% intervals from 5 runs)
  --seed=N          the seed of the run order (default: from the clock)
  --servers=a,b     a subset of toc, cms and the Go builds (go1.26,
                    go1.26-nogreenteagc, go1.19; go: all of them)
  --quick           2 s runs, a 32 MiB store (a smoke run)
  --json            one JSON object on stdout: per server S, S_rps,
                    S_p50_ms, S_p99_ms, S_gc_cycles (S_go_version for a Go
                    build), and the ratios toc_over_S_rps for each Go build,
                    toc_over_cms_rps, toc_over_cms_p99
  --suite=S         txbench (default): the above; tfb: TechEmpower's test
                    types instead (httpd and go-httpd --suite=tfb), each
                    type in turn under plain GETs, a fresh server per type,
                    server and run: /json, /db, /queries?queries=Q,
                    /fortunes, /updates?queries=Q. Prints requests/s, p99
                    and the GC figures (cycles, GC CPU share, longest
                    pause, KiB allocated per request) per type and server;
                    --json: <type>_<server>_rps, _p99_ms, _gc_cycles, ...
  --types=a,b       tfb: a subset of json,db,queries,fortunes,updates
  --queries=Q       tfb: the N of /queries and /updates (default 20)
  --help            this text

Raw wrk output, each server's stderr and statistics (runs.jsonl: one line
per run with its server, Go version and figures):
RESULTS/httpbench-<date>-<commit>/ (tfb: <type>-<server>-<run>.*)."""

SERVERS = ["toc", "cms", "go"]   # go: every Go build of go-httpd
TFB_TYPES = ["json", "db", "queries", "fortunes", "updates"]


def fail(msg, status=2):
    print(f"workloads/httpbench: {msg}", file=sys.stderr)
    sys.exit(status)


def log(msg):
    print(f"workloads/httpbench: {msg}", file=sys.stderr, flush=True)


def subset(flag, value, names, noun):
    """The comma-separated names of value, each one of names."""
    chosen = [x for x in value.split(",") if x]
    bad = [x for x in chosen if x not in names]
    if bad or not chosen:
        fail(f"{flag}={value}: unknown {noun} {bad[0] if bad else '(none)'} ({noun}s: {' '.join(names)})")
    return chosen


def parse(argv):
    o = {"duration": 10, "warmup": None, "connections": 64, "threads": 2, "live_mb": 256, "runs": 1, "servers": SERVERS,
         "json": False, "quick": False, "seed": int(time.time()), "suite": "txbench", "types": TFB_TYPES,
         "queries": 20}
    for a in argv:
        k, _, v = a.partition("=")
        if a in ("--help", "-h"):
            print(USAGE)
            sys.exit(0)
        elif a == "--json":
            o["json"] = True
        elif a == "--quick":
            o["quick"] = True
        elif k == "--servers":
            o["servers"] = [s for s in v.split(",") if s]
            bad = [s for s in o["servers"] if s not in SERVERS and not goinfo.is_mode(s)]
            if bad or not o["servers"]:
                fail(f"--servers={v}: unknown server {bad[0] if bad else '(none)'} "
                     f"(servers: toc cms go go1.N go1.N-EXPERIMENT)")
        elif k == "--suite":
            if v not in ("txbench", "tfb"):
                fail(f"--suite={v}: not txbench or tfb")
            o["suite"] = v
        elif k == "--types":
            o["types"] = subset(k, v, TFB_TYPES, "type")
        elif k in ("--duration", "--warmup", "--connections", "--threads", "--live-mb", "--runs", "--seed", "--queries"):
            try:
                x = int(v)
            except ValueError:
                fail(f"{k}={v}: not an integer")
            least = 0 if k in ("--seed", "--warmup") else 1
            if x < least:
                fail(f"{k}={v}: must be at least {least}")
            o[k[2:].replace("-", "_")] = x
        else:
            fail(f"unknown option '{a}' (see --help)")
    if o["quick"]:
        o["duration"], o["live_mb"] = 2, 32
    if o["warmup"] is None:
        o["warmup"] = 0 if o["quick"] else 3
    if o["connections"] < o["threads"]:
        fail("--connections must be at least --threads (wrk's rule)")
    return o


def start(bindir, name, o, out):
    if name in o["go"]:
        args = [o["go"][name]["path"]]
    else:
        args = [os.path.join(bindir, "httpd"), f"--mode={name}"]
    args += ["--port=0", "--json"] + (["--suite=tfb"] if o["suite"] == "tfb" else [f"--live-mb={o['live_mb']}"])
    err = open(out + ".stderr", "w")
    p = subprocess.Popen(args, stdout=open(out + ".json", "w"), stderr=err)
    deadline = time.time() + 300
    while time.time() < deadline:
        if p.poll() is not None:
            fail(f"{' '.join(args)} exited with {p.returncode} before listening; see {out}.stderr", 1)
        m = re.search(r"listening on [^\s]*:(\d+)", open(out + ".stderr").read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.1)
    p.kill()
    fail(f"{' '.join(args)} did not listen within 300 s", 1)


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def wrk_figures(text):
    f = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    f["rps"] = float(m.group(1)) if m else None
    for q in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{q}%\s+(\S+)", text, re.M)
        f[f"p{q}_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"non-2xx responses: (\d+)", text)
    f["non_2xx"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: (.*)", text)
    f["socket_errors"] = m.group(1).strip() if m else ""
    return f


def wrk_run(bindir, name, o, base, wrk_args):
    """Starts server name, runs wrk with wrk_args (after the URL's host and
    port) against it, stops it; returns wrk's figures with the server's
    statistics under "server", and wrk's command."""
    p, port = start(bindir, name, o, base)
    cmd = ["wrk", f"-t{o['threads']}", f"-c{o['connections']}", f"-d{o['duration']}s", "--latency"]
    cmd += wrk_args(f"http://127.0.0.1:{port}")
    if o["warmup"]:
        warm = cmd[:3] + [f"-d{o['warmup']}s"] + cmd[4:]
        w = subprocess.run(warm, capture_output=True, text=True)
        open(base + ".warmup.wrk", "w").write(w.stdout + w.stderr)
        if w.returncode != 0:
            p.kill()
            fail(f"wrk's warm-up failed against {name}; see {base}.warmup.wrk", 1)
    log(f"{name}: {' '.join(cmd)}")
    w = subprocess.run(cmd, capture_output=True, text=True)
    open(base + ".wrk", "w").write(w.stdout + w.stderr)
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        fail(f"{name} did not exit within 120 s of SIGINT", 1)
    if w.returncode != 0:
        fail(f"wrk failed against {name}; see {base}.wrk", 1)
    if p.returncode != 0:
        fail(f"{name} exited with {p.returncode} after SIGINT; see {base}.stderr", 1)
    fig = wrk_figures(w.stdout)
    try:
        fig["server"] = json.load(open(base + ".json"))
    except ValueError:
        fail(f"{name} printed no statistics; see {base}.json", 1)
    return fig, cmd


def report(out, o, summary, lines):
    """Keeps the summary and the table (lines) in out; prints the table, or
    with --json the summary (and the table on stderr)."""
    json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
    text = "\n".join(lines)
    open(os.path.join(out, "table.txt"), "w").write(text + "\n")
    if o["json"]:
        print(json.dumps(summary))
        print(text, file=sys.stderr)
    else:
        print(text)


# --- --suite=tfb ---------------------------------------------------------------------------------------

def tfb_path(t, o):
    return f"/{t}?queries={o['queries']}" if t in ("queries", "updates") else f"/{t}"


def tfb_figures(fig):
    """The GC figures of one run, from the server's statistics."""
    st = fig["server"]
    n = st.get("transactions") or 0
    return {"gc_cycles": st.get("gc_cycles"), "gc_cpu_fraction": st.get("gc_cpu_fraction"),
            "stw_max_us": st.get("stw_max_us"),
            "kib_per_request": st["allocated_mb"] * 1024 / n if n and st.get("allocated_mb") is not None else None}


def run_tfb(bindir, out, commit, machine, o):
    try:
        o["go"] = goinfo.resolve(bindir, "go-httpd", o["servers"])
    except ValueError as e:
        fail(str(e), 1)
    servers, types = [s for s in o["servers"] if s in ("toc", "cms")] + list(o["go"]), o["types"]
    runs = {(t, s): [] for t in types for s in servers}
    for r, order in enumerate(stats.schedule(o["seed"], o["runs"], servers), 1):
        for t in types:
            for name in order:
                log(f"run {r}/{o['runs']}: {t} on {name}")
                base = os.path.join(out, f"{t}-{name}-{r}")
                fig, cmd = wrk_run(bindir, name, o, base, lambda url: [url + tfb_path(t, o)])
                # Plain wrk prints the line only when some response was not 2xx or 3xx.
                m = re.search(r"Non-2xx or 3xx responses: (\d+)", open(base + ".wrk").read())
                fig["non_2xx"] = int(m.group(1)) if m else 0
                fig.update(tfb_figures(fig))
                runs[(t, name)].append(fig)
                with open(os.path.join(out, "runs.jsonl"), "a") as f:
                    f.write(json.dumps({"suite": "tfb", "type": t, "server": name, "run": r, "seed": o["seed"],
                                        "commit": commit, "machine": machine,
                                        "go_version": o["go"].get(name, {}).get("version"),
                                        "wrk": cmd[:-1], "path": tfb_path(t, o),
                                        "figures": fig}) + "\n")
                log(f"{t} on {name}: {fig['rps']} requests/s, p99 {fig['p99_ms']} ms, non-2xx {fig['non_2xx']}, "
                    f"{fig['gc_cycles']} GC cycles")
                if fig["non_2xx"]:
                    fail(f"{name} answered {fig['non_2xx']} requests of {t} with an error; see {base}.wrk", 1)

    metrics = ["rps", "p50_ms", "p99_ms", "gc_cycles", "gc_cpu_fraction", "stw_max_us", "kib_per_request"]
    summary = {"suite": "tfb"}
    for (t, s), figs in runs.items():
        for key in metrics:
            v = [f[key] for f in figs if f.get(key) is not None]
            summary[f"{t}_{s}_{key}"] = statistics.median(v) if v else None
    cells = {}
    for (t, s), figs in runs.items():
        for key in ("rps", "p99_ms"):
            cells[f"{t}_{s}_{key}"] = stats.median_ci([f[key] for f in figs])
    pairs = [(a, b) for a, b in [("toc", "cms")] + [("toc", g) for g in o["go"]] if a in servers and b in servers]
    for t in types:
        for a, b in pairs:
            c = stats.ratio_ci([f["rps"] for f in runs[(t, a)]], [f["rps"] for f in runs[(t, b)]])
            summary[f"{t}_{a}_over_{b}_rps"] = c["median"]
            cells[f"{t}_{a}_over_{b}_rps"] = c
    summary["ci95"] = cells
    summary.update({"runs": o["runs"], "seed": o["seed"], "duration_s": o["duration"], "warmup_s": o["warmup"],
                    "connections": o["connections"],
                    "threads": o["threads"], "queries": o["queries"], "results": out,
                    "go_versions": {g: o["go"][g]["version"] for g in o["go"]}})

    def f(v, p):
        return "-" if v is None else f"{v:.{p}f}"
    lines = [f"TechEmpower test types, wrk -t{o['threads']} -c{o['connections']} -d{o['duration']}s per type and "
             f"server after a {o['warmup']}-s warm-up, queries={o['queries']}, medians of {o['runs']} run(s), "
             f"order seed {o['seed']}",
             f"{'type':<9} {'server':<20} {'requests/s':>11} {'p99 ms':>8} {'GC cycles':>10} {'GC CPU %':>9} "
             f"{'max pause us':>13} {'KiB/req':>8}"]
    for t in types:
        for s in servers:
            g = lambda key: summary[f"{t}_{s}_{key}"]
            cpu = g("gc_cpu_fraction")
            lines.append(f"{t:<9} {s:<20} {f(g('rps'), 0):>11} {f(g('p99_ms'), 2):>8} {f(g('gc_cycles'), 0):>10} "
                         f"{f(None if cpu is None else cpu * 100, 1):>9} {f(g('stw_max_us'), 0):>13} "
                         f"{f(g('kib_per_request'), 2):>8}")
    lines.append("")
    lines.append("requests/s ratios, medians with bootstrap 95% intervals (none under 5 runs; * wider than +-5%):")
    lines.append(f"{'type':<9} " + " ".join(f"{a + '/' + b:>28}" for a, b in pairs))
    for t in types:
        lines.append(f"{t:<9} " + " ".join(f"{ci_text(cells[f'{t}_{a}_over_{b}_rps']):>28}" for a, b in pairs))
    report(out, o, summary, lines)


def ci_text(c):
    """'1.23 [1.10, 1.40]' (with a * when wide), or the median alone."""
    return stats.cell_text(c, ".2f", mark_wide=True)


def main():
    if len(sys.argv) < 5:
        fail("internal: httpbench.py BINDIR RESULTS COMMIT MACHINE [options]")
    bindir, results, commit, machine = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    o = parse(sys.argv[5:])
    out = os.path.join(results, f"httpbench-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{commit}")
    os.makedirs(out, exist_ok=True)
    if o["suite"] == "tfb":
        return run_tfb(bindir, out, commit, machine, o)
    reqfile = os.path.join(out, "requests.txt")
    with open(reqfile, "wb") as f:
        subprocess.run([os.path.join(bindir, "txbench"), "--dump-requests=20000", f"--live-mb={o['live_mb']}"],
                       stdout=f, check=True)
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk_txbench.lua")
    try:
        o["go"] = goinfo.resolve(bindir, "go-httpd", o["servers"])
    except ValueError as e:
        fail(str(e), 1)
    servers = [s for s in o["servers"] if s in ("toc", "cms")] + list(o["go"])
    runs = {s: [] for s in servers}
    for r, order in enumerate(stats.schedule(o["seed"], o["runs"], servers), 1):
        for name in order:
            base = os.path.join(out, f"{name}-{r}")
            log(f"run {r}/{o['runs']}: starting {name} (store {o['live_mb']} MiB)")
            fig, cmd = wrk_run(bindir, name, o, base, lambda url: ["-s", lua, url + "/", "--", reqfile])
            runs[name].append(fig)
            with open(os.path.join(out, "runs.jsonl"), "a") as f:
                f.write(json.dumps({"server": name, "run": r, "seed": o["seed"], "commit": commit,
                                    "machine": machine, "go_version": o["go"].get(name, {}).get("version"),
                                    "wrk": cmd[:-3], "live_mb": o["live_mb"], "figures": fig}) + "\n")
            log(f"{name}: {fig['rps']} requests/s, p99 {fig['p99_ms']} ms, non-2xx {fig['non_2xx']}")

    def med(name, key):
        v = [f[key] for f in runs.get(name, []) if f.get(key) is not None]
        return statistics.median(v) if v else None

    summary = {}
    for s in servers:
        summary[f"{s}_rps"] = med(s, "rps")
        for q in ("p50", "p99"):
            summary[f"{s}_{q}_ms"] = med(s, f"{q}_ms")
        summary[f"{s}_gc_cycles"] = statistics.median([f["server"].get("gc_cycles", 0) for f in runs[s]])
        if s in o["go"]:
            summary[f"{s}_go_version"] = o["go"][s]["version"]

    def ratio(a, b):
        x, y = summary.get(a), summary.get(b)
        return x / y if x is not None and y else None

    targets = [(f"toc_over_{g}_rps", ">= 1.5") for g in o["go"]]
    cells = {}
    for b in ["cms"] + list(o["go"]):
        if "toc" in runs and b in runs:
            cells[f"toc_over_{b}_rps"] = stats.ratio_ci([f["rps"] for f in runs["toc"]], [f["rps"] for f in runs[b]])
    summary["ci95"] = cells
    for g in o["go"]:
        summary[f"toc_over_{g}_rps"] = ratio("toc_rps", f"{g}_rps")
    summary["toc_over_cms_rps"] = ratio("toc_rps", "cms_rps")
    summary["toc_over_cms_p99"] = ratio("toc_p99_ms", "cms_p99_ms")
    targets += [("toc_over_cms_rps", ">= 1.3"), ("toc_over_cms_p99", "<= 1.0")]
    summary.update({"runs": o["runs"], "seed": o["seed"], "duration_s": o["duration"], "warmup_s": o["warmup"],
                    "connections": o["connections"], "threads": o["threads"], "live_mb": o["live_mb"],
                    "results": out})
    lines = [f"wrk -t{o['threads']} -c{o['connections']} -d{o['duration']}s, store {o['live_mb']} MiB, "
             f"medians of {o['runs']} run(s), order seed {o['seed']}",
             f"{'server':<20} {'requests/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'GC cycles':>10}  Go"]
    for s in servers:
        f = lambda v, p: "-" if v is None else f"{v:.{p}f}"
        lines.append(f"{s:<20} {f(summary[s + '_rps'], 0):>11} {f(summary[s + '_p50_ms'], 2):>8} "
                     f"{f(summary[s + '_p99_ms'], 2):>8} {f(summary[s + '_gc_cycles'], 0):>10}  "
                     f"{summary.get(s + '_go_version', '')}")
    for k, want in targets:
        v = summary.get(k)
        shown = ci_text(cells[k]) if k in cells else ("-" if v is None else f"{v:.2f}")
        lines.append(f"  {k:<34} {shown}   (target {want})")
    report(out, o, summary, lines)


if __name__ == "__main__":
    main()
