"""Turns a results folder into the paper's generated inputs (paper/gen/):
macros.tex (every number the text quotes), the tables, and the data files
the gnuplot scripts in paper/fig/ plot. Nothing here is typed by hand: a
figure or number whose results are missing says "n/a" or "no results" in
the PDF. Medians come with bootstrap 95% intervals (workloads/lib/stats.py:
none under its MIN_RUNS runs, where the text and tables say so).

usage: gen.py RESULTS_DIR OUT_DIR

RESULTS_DIR (written by paper/build):
  machine.json, environment.json, commit.txt, config.txt
                                   what the results were measured on and with
  bench/*/tx_runs.jsonl, sched_runs.jsonl
                                   workloads/bench: txbench in every mode, the
                                   three Go builds, schedbench
  attribute/*/attribution.json     workloads/attribute
  heap-churn/sweep-gogc/points.csv the heap-size sweep with published garbage
  sweep-NAME/points.csv, meta.json workloads/sweep NAME (the first edition's
                                   sweeps, churn, pubshare, parked)
  httpbench/*/runs.jsonl           workloads/httpbench (txbench's stream)
  tfb/*/runs.jsonl                 workloads/httpbench --suite=tfb
  barriertax/runs.jsonl            lib/barriertax.py
  chat/pauses.jsonl, chat/throughput.jsonl
  barrier.jsonl                    barrierbench --json runs
"""
import contextlib
import csv
import functools
import glob
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "workloads", "lib"))
import stats  # noqa: E402
import breakeven  # noqa: E402
import heapcurve  # noqa: E402

# The C modes, then Go: "go" is the newest toolchain's default build
# (paper_go); the older builds keep their names.
MODES = ["toc", "cms", "stw", "boehm", "arena", "go"]
# The first edition's sweeps (fig/sweep-common.gp draws each).
SWEEPS = ["live", "publish", "gogc", "inflight", "workers", "alloc"]
# The C goroutine modes that share the allocator and the handler's code:
# the lower-bound overhead compares these only.
LBO_MODES = ["toc", "cms", "stw", "arena"]
TFB_TYPES = ["json", "db", "queries", "fortunes", "updates"]

# Every file gen.py writes: paper/check compares this with what toc.tex uses.
OUTPUTS = ["macros.tex", "tab-headline.tex", "tab-servers.tex", "tab-barrier.tex", "tab-pauses.tex",
           "tab-machine.tex", "tab-memory.tex", "tab-attribution.tex", "tab-heap.tex", "tab-tfb.tex",
           "tab-parked.tex", "tab-tax.tex", "tab-pubshare.tex", "pauses.dat", "pauses-series.gp",
           "mark.dat", "pubshare.dat", "heap-labels.gp"] + \
    [f"{s}.dat" for s in SWEEPS] + [f"heap-{m}.dat" for m in ("toc", "cms", "go")]


def paper_go(rows, key):
    """Renames, in ROWS, the mode under KEY of the Go build the paper's "go"
    stands for: the default build of the newest toolchain (go1.26, not
    go1.26-nogreenteagc or go1.19; workloads/lib/goinfo.py names them).
    Results from before the Go builds were named say "go" already. The
    other Go builds keep their names. Returns ROWS."""
    builds = {r[key] for r in rows if re.fullmatch(r"go\d+\.\d+", r[key])}
    if builds:
        newest = max(builds, key=lambda m: tuple(int(x) for x in m[2:].split(".")))
        for r in rows:
            if r[key] == newest:
                r[key] = "go"
    return rows


def num(x):
    if x in ("", None):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def med(v):
    return stats.median([num(x) for x in v])


def fmt(v, digits=0, scale=1.0):
    if v is None:
        return "n/a"
    return f"{v * scale:,.{digits}f}".replace(",", "{,}")


def kfmt(v, digits=1):
    """Thousands, as 68.7k."""
    return "n/a" if v is None else fmt(v / 1000, digits) + "k"


def ci_text(c, digits=2, scale=1.0, k=False):
    """A cell's interval as '[low, high]' (empty without one)."""
    if c is None or c.get("ci95_low") is None:
        return ""
    f = (lambda x: kfmt(x * scale, digits)) if k else (lambda x: fmt(x, digits, scale))
    return f"[{f(c['ci95_low'])},\\,{f(c['ci95_high'])}]"


def cell_tex(c, digits=2, scale=1.0, k=False):
    """'median [low, high]' for a table."""
    if c is None or c.get("median") is None:
        return "n/a"
    m = kfmt(c["median"] * scale, digits) if k else fmt(c["median"], digits, scale)
    ci = ci_text(c, digits, scale, k)
    return f"{m} {{\\scriptsize {ci}}}" if ci else m


class Macros:
    def __init__(self):
        self.lines = []
        self.names = set()

    def put(self, name, value):
        assert name.isalpha(), name
        assert name not in self.names, name
        self.names.add(name)
        self.lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")

    def cell(self, name, c, digits=2, scale=1.0):
        """NAME: the median; NAME + 'CI': its interval ('' without one)."""
        self.put(name, fmt(c["median"] if c else None, digits, scale))
        self.put(name + "CI", ci_text(c, digits, scale) or "(no interval)")
        # For a ratio: where its interval lies against one, in words, so
        # that the text's verdicts come from the data too.
        lo, hi = (c or {}).get("ci95_low"), (c or {}).get("ci95_high")
        self.put(name + "Side", "n/a" if (c or {}).get("median") is None else
                 "without an interval (too few runs)" if lo is None else "above one" if lo > 1 else "below one" if hi < 1
                 else "not distinguishable from one")


def read_jsonl(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += [json.loads(line) for line in f if line.strip()]
    return out


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def table(path, spec, header, rows, empty):
    ncol = len(spec.replace("@{}", "").replace("|", ""))
    with open(path, "w") as f:
        f.write(f"\\begin{{tabular}}{{{spec}}}\n\\toprule\n{header} \\\\\n\\midrule\n")
        f.write("\n".join(r + " \\\\" for r in rows) if rows else f"\\multicolumn{{{ncol}}}{{c}}{{{empty}}} \\\\")
        f.write("\n\\bottomrule\n\\end{tabular}\n")


def esc(s):
    return (str(s).replace("\\", "/").replace("_", "\\_").replace("%", "\\%").replace("&", "\\&")
            .replace("#", "\\#").replace("--", "-{}-"))


def go_short(v):
    """go1.26.8 -> 1.26."""
    m = re.match(r"go(\d+\.\d+)", v or "")
    return m.group(1) if m else "n/a"


# --- the machine and the configuration ---------------------------------

def machine(res, out, mac):
    m = read_json(os.path.join(res, "machine.json")) or {}
    e = read_json(os.path.join(res, "environment.json")) or {}
    commit = open(os.path.join(res, "commit.txt")).read().strip() if os.path.exists(os.path.join(res, "commit.txt")) else "unknown"
    caches = ", ".join(f"{k.upper()} {e[k]}" for k in ("l1d", "l2", "l3") if e.get(k))
    cpu = e.get("cpu_model") or m.get("cpu")
    if e.get("cpu_family"):
        cpu = f"{cpu} (family {e['cpu_family']}, model {e.get('cpu_model_number')})"
    virt = f"{e['hypervisor']} guest ({e.get('virtualization')} virtualization), shared with other tenants" if e.get("hypervisor") else "unknown"
    rows = [("processor", cpu), ("cores", f"{m.get('cores')} ({e.get('threads_per_core', '?')} thread per core, {e.get('numa_nodes', '?')} NUMA node)"),
            ("caches", caches or "unknown"), ("memory", f"{m.get('mem_gib')} GiB"), ("machine", virt),
            ("kernel", e.get("kernel") or m.get("kernel")), ("compiler", e.get("cc")),
            ("C flags", e.get("c_flags")), ("Boehm GC", e.get("boehm")),
            ("Go", f"{e.get('go')} (Green Tea on by default) and {e.get('go119')}" if e.get("go") else None),
            ("commit", commit)]
    with open(os.path.join(out, "tab-machine.tex"), "w") as f:
        f.write("\\begin{tabular}{@{}lp{0.74\\columnwidth}@{}}\n\\toprule\n")
        for k, v in rows:
            f.write(f"{k} & {esc(v if v is not None else 'unknown')} \\\\\n")
        f.write("\\bottomrule\n\\end{tabular}\n")
    mac.put("machCores", esc(m.get("cores", "n/a")))
    mac.put("machCommit", esc(commit))
    mac.put("machGoNew", go_short(e.get("go")))
    mac.put("machGoOld", go_short(e.get("go119")))
    mac.put("machMemGiB", fmt(m.get("mem_gib"), 0))


def sweep_meta(res, name, sub=""):
    return read_json(os.path.join(res, sub, f"sweep-{name}", "meta.json")) or {}


def method(res, mac):
    """The measurement's shape: rounds, run lengths, warm-up, the bootstrap."""
    meta = sweep_meta(res, "live") or sweep_meta(res, "publish")
    mac.put("methSweepRounds", fmt(meta.get("rounds")))
    mac.put("methSweepSeconds", fmt(meta.get("duration"), 0))
    heap = sweep_meta(res, "gogc", "heap-churn")
    mac.put("methHeapRounds", fmt(heap.get("rounds")))
    mac.put("methHeapSeconds", fmt(heap.get("duration"), 0))
    churn = re.search(r"--churn-kb=(\d+)", heap.get("txbench_args") or meta.get("txbench_args") or "")
    mac.put("methChurnKiB", churn.group(1) if churn else "n/a")
    mac.put("methChurnSeconds", fmt(sweep_meta(res, "churn").get("duration"), 0))
    mac.put("methChurnRounds", fmt(sweep_meta(res, "churn").get("rounds")))
    mac.put("methResamples", fmt(stats.RESAMPLES))
    mac.put("methMinRuns", fmt(stats.MIN_RUNS))
    runs = bench_runs(res)
    args = runs[0]["args"] if runs else ""
    dur = re.search(r"--duration=(\d+(?:\.\d+)?)", args)
    wc = re.search(r"--warmup-cycles=(\d+)", args)
    mac.put("methBenchSeconds", dur.group(1) if dur else "n/a")
    mac.put("methWarmCycles", wc.group(1) if wc else "n/a")
    mac.put("methBenchRuns", fmt(max((r["run"] for r in runs), default=None)))
    r0 = runs[0]["result"] if runs else {}
    mac.put("methGogc", fmt(r0.get("gogc")))
    mac.put("methPublishPct", fmt(r0.get("publish_pct")))
    mac.put("methLiveMiB", fmt(r0.get("live_mb")))
    mac.put("methWorkers", fmt(r0.get("workers")))
    mac.put("methItems", fmt(r0.get("items")))


# --- the headline: txbench in every mode -------------------------------

@functools.lru_cache(maxsize=None)
def _bench_runs(res):
    return tuple(paper_go(read_jsonl(sorted(glob.glob(os.path.join(res, "bench", "*", "tx_runs.jsonl")))), "mode"))


def bench_runs(res):
    return list(_bench_runs(res))


def headline(res, out, mac):
    runs = bench_runs(res)
    modes = MODES + sorted({r["mode"] for r in runs} - set(MODES))
    by = {m: [r["result"] for r in runs if r["mode"] == m] for m in modes}
    col = lambda m, k: [r.get(k) for r in by[m]]

    def gc_ms_mib(m):
        return [r["gc_cpu_seconds"] * 1e3 / r["allocated_mb"] if r.get("gc_cpu_seconds") is not None and r.get("allocated_mb") else None
                for r in by[m]]
    tps = {m: stats.median_ci(col(m, "txn_per_sec")) for m in modes}
    lbo_best = max((tps[m]["median"] or 0) for m in LBO_MODES) or None
    rows = []
    for m in modes:
        if not by[m]:
            continue
        ratio = stats.ratio_ci(col(m, "txn_per_sec"), col("cms", "txn_per_sec"))
        lbo = lbo_best / tps[m]["median"] if m in LBO_MODES and lbo_best and tps[m]["median"] else None
        name = {"go": f"Go {go_short(go_version(runs, 'go'))}"}.get(m, m)
        rows.append(" & ".join([esc(name), str(len(by[m])), cell_tex(tps[m], 1, k=True), cell_tex(ratio, 2),
                                fmt(lbo, 2) if lbo else "--", fmt(med(col(m, "gc_cpu_us_per_txn")), 1),
                                fmt(med(col(m, "gc_cycles"))), fmt(med(col(m, "txn_p99_us"))),
                                fmt(med(col(m, "stw_max_us"))), fmt(med(col(m, "peak_rss_mb")))]))
    table(os.path.join(out, "tab-headline.tex"), "@{}lrrrrrrrrr@{}",
          "mode & runs & txn/s & vs cms & over best & GC \\textmu s/txn & cycles & p99 \\textmu s & "
          "STW max \\textmu s & RSS MiB", rows, "no workloads/bench results in this folder")
    mac.put("hlRuns", fmt(max((len(v) for v in by.values()), default=None)))
    for m in ("toc", "cms", "arena", "go", "stw", "boehm"):
        mac.put(f"hl{m.capitalize()}Tps", kfmt(tps[m]["median"]) if m in tps else "n/a")
    mac.cell("hlTocOverCms", stats.ratio_ci(col("toc", "txn_per_sec"), col("cms", "txn_per_sec")))
    mac.cell("hlTocOverArena", stats.ratio_ci(col("toc", "txn_per_sec"), col("arena", "txn_per_sec")))
    mac.cell("hlTocOverGo", stats.ratio_ci(col("toc", "txn_per_sec"), col("go", "txn_per_sec")))
    mac.cell("hlCmsOverBoehm", stats.ratio_ci(col("cms", "txn_per_sec"), col("boehm", "txn_per_sec")))
    mac.put("hlCmsGcUs", fmt(med(col("cms", "gc_cpu_us_per_txn")), 1))
    mac.put("hlTocGcUs", fmt(med(col("toc", "gc_cpu_us_per_txn")), 2))
    mac.put("hlCmsCycles", fmt(med(col("cms", "gc_cycles"))))
    mac.put("hlTocCycles", fmt(med(col("toc", "gc_cycles"))))
    mac.put("hlTocCyclesMin", fmt(min((x for x in col("toc", "gc_cycles") if x is not None), default=None)))
    mac.put("hlTocWarmSeconds", fmt(med(col("toc", "warmup_seconds")), 0))
    mac.put("hlCmsWarmSeconds", fmt(med(col("cms", "warmup_seconds")), 1))
    mac.put("hlTocReclaimed", fmt(med(col("toc", "toc_reclaimed_fraction")), 3))
    mac.put("hlTocPublished", fmt(med(col("toc", "published_fraction")), 3))
    mac.put("hlTocForfeit", fmt(med(col("toc", "forfeit_fraction")), 3))
    mac.put("hlTocRss", fmt(med(col("toc", "peak_rss_mb"))))
    mac.put("hlCmsRss", fmt(med(col("cms", "peak_rss_mb"))))
    mac.put("hlBoehmRss", fmt(med(col("boehm", "peak_rss_mb"))))
    mac.put("hlStwRss", fmt(med(col("stw", "peak_rss_mb"))))
    # cms's share of CPU in collection: the bound on any speedup that only
    # removes collection (Amdahl): 1 / (1 - share).
    share = med(col("cms", "gc_cpu_fraction"))
    mac.put("hlCmsGcShare", fmt(share * 100 if share is not None else None, 0))
    bound = 1 / (1 - share) if share is not None and share < 1 else None
    mac.put("hlBound", fmt(bound, 2))
    mac.put("hlBoundWhere", where(bound, stats.ratio_ci(col("toc", "txn_per_sec"), col("cms", "txn_per_sec"))))
    # Go: today's collector against the 2022 one, and Green Tea alone.
    g = lambda m, k="txn_per_sec": col(m, k) if m in by else []
    mac.cell("govTps", stats.ratio_ci(g("go"), g("go1.19")))
    mac.cell("govGc", stats.ratio_ci(g("go", "gc_cpu_us_per_txn"), g("go1.19", "gc_cpu_us_per_txn")))
    mac.cell("govGreenTea", stats.ratio_ci(g("go", "gc_cpu_us_per_txn"), g("go1.26-nogreenteagc", "gc_cpu_us_per_txn")))
    mac.cell("govCmsPerMiB", stats.ratio_ci(gc_ms_mib("cms"), gc_ms_mib("go") if "go" in by else []))
    mac.cell("govCmsPerMiBOld", stats.ratio_ci(gc_ms_mib("cms"), gc_ms_mib("go1.19") if "go1.19" in by else []))
    mac.cell("govTocOverOld", stats.ratio_ci(col("toc", "txn_per_sec"), g("go1.19")))
    mac.put("govGcUs", fmt(med(g("go", "gc_cpu_us_per_txn")), 1))
    mac.put("govGcUsOld", fmt(med(g("go1.19", "gc_cpu_us_per_txn")), 1))
    mac.put("govCycles", fmt(med(g("go", "gc_cycles"))))
    mac.put("govCyclesOld", fmt(med(g("go1.19", "gc_cycles"))))


def go_version(runs, mode):
    for r in runs:
        if r["mode"] == mode and r.get("go_version"):
            return r["go_version"]
    return None


def scheduler(res, mac):
    """The scheduler against Go's (workloads/bench's schedbench runs): medians."""
    runs = read_jsonl(sorted(glob.glob(os.path.join(res, "bench", "*", "sched_runs.jsonl"))))
    keys = (("switch_ns", "Switch", 1), ("chan_pingpong_ns", "Pingpong", 0), ("spawn_exit_ns", "Spawn", 0),
            ("rss_per_parked_kib", "Parked", 2))
    for k, name, digits in keys:
        t = med([r["result"].get(k) for r in runs if r["program"] == "schedbench"])
        g = med([r["result"].get(k) for r in runs if r["program"] == "go-schedbench"])
        mac.put(f"sch{name}", fmt(t, digits))
        mac.put(f"sch{name}Go", fmt(g, digits))
    mac.put("schParkedCount", fmt(med([r["result"].get("parked_goroutines") for r in runs
                                       if r["program"] == "schedbench"])))


# --- the attribution ----------------------------------------------------

def attribution(res, out, mac):
    found = sorted(glob.glob(os.path.join(res, "attribute", "*", "attribution.json")))
    a = read_json(found[-1]) if found else None
    at = (a or {}).get("attribution") or {}
    ci = at.get("ci95") or {}
    t = (a or {}).get("timed") or {}
    cms, toc = t.get("cms") or {}, t.get("toc") or {}
    x = at.get("X")
    share = lambda v: fmt(v / x * 100 if v is not None and x else None, 0)
    dp = at.get("d_parts") or {}
    ap = at.get("a_parts") or {}
    rows = []
    if a:
        rows = [f"a: GC CPU (mark {fmt(ap.get('mark'), 2)}, assist {fmt(ap.get('assist'), 2)}) & {fmt(at.get('a_gc_cpu'), 2)} & & {share(at.get('a_gc_cpu'))}",
                f"b: sweep & {fmt(at.get('b_sweep'), 2)} & {ci_text(ci.get('sweep'))} & {share(at.get('b_sweep'))}",
                f"\\quad a + b, measured & {fmt((ci.get('gc') or {}).get('median'), 2)} & {ci_text(ci.get('gc'))} & {share((ci.get('gc') or {}).get('median'))}",
                f"c: allocation path & {fmt(at.get('c_allocation'), 2)} & & {share(at.get('c_allocation'))}",
                f"d: faults {fmt(dp.get('faults'), 2)}, D1 {fmt(dp.get('d1'), 2)}, LL {fmt(dp.get('ll'), 2)} & {fmt(at.get('d'), 2)} & & {share(at.get('d'))}",
                f"e: other instructions & {fmt(at.get('e_other_ir'), 2)} & & {share(at.get('e_other_ir'))}",
                f"r: residual & {fmt(at.get('r'), 2)} & & {share(at.get('r'))}",
                "\\midrule",
                f"X: saving, toc over cms & {fmt(x, 2)} & {ci_text(ci.get('X'))} & 100"]
    # "\midrule" is a row of its own: write the table by hand around it.
    with open(os.path.join(out, "tab-attribution.tex"), "w") as f:
        f.write("\\begin{tabular}{@{}lrlr@{}}\n\\toprule\npart & \\textmu s/txn & 95\\,\\% interval & \\% \\\\\n\\midrule\n")
        if rows:
            for r in rows:
                f.write(r + ("\n" if r == "\\midrule" else " \\\\\n"))
        else:
            f.write("\\multicolumn{4}{c}{no workloads/attribute results in this folder} \\\\\n")
        f.write("\\bottomrule\n\\end{tabular}\n")
    mac.cell("attX", ci.get("X"))
    mac.cell("attRatio", ci.get("txn_ratio"))
    mac.cell("attGcSweep", ci.get("gc"))
    mac.cell("attMutator", ci.get("mutator"))
    for k, name in (("a_gc_cpu", "Gc"), ("b_sweep", "Sweep"), ("c_allocation", "Alloc"), ("d", "Miss"),
                    ("e_other_ir", "Other"), ("r", "Resid")):
        mac.put(f"att{name}", fmt(at.get(k), 2))
    mac.put("attResidPct", share(at.get("r")))
    gs = (ci.get("gc") or {}).get("median")
    mac.put("attGcPct", share(gs))
    mac.put("attLl", fmt(dp.get("ll"), 2))
    mac.put("attDone", fmt(dp.get("d1"), 2))
    cpu = cms.get("cpu_us")
    mac.put("attCmsCpu", fmt(cpu, 2))
    mac.put("attCmsGc", fmt(cms.get("gc_us"), 2))
    gshare = cms.get("gc_us") / cpu if cpu and cms.get("gc_us") is not None else None
    mac.put("attCmsGcPct", fmt(gshare * 100 if gshare is not None else None, 0))
    bound = 1 / (1 - gshare) if gshare is not None and gshare < 1 else None
    mac.put("attBound", fmt(bound, 2))
    # Where the bound lies against the measured throughput ratio's interval,
    # and whether the mutator's difference is distinguishable from zero:
    # the text says what the data say.
    mac.put("attBoundWhere", where(bound, ci.get("txn_ratio")))
    mu = ci.get("mutator") or {}
    mac.put("attMutatorZero", "n/a" if mu.get("ci95_low") is None else
            "includes" if mu["ci95_low"] <= 0 <= mu["ci95_high"] else "excludes")
    mac.put("attTocCycles", fmt(toc.get("gc_cycles")))
    mac.put("attCmsCycles", fmt(cms.get("gc_cycles")))
    conf = (a or {}).get("configuration") or {}
    mac.put("attSeconds", fmt(conf.get("duration"), 0))
    mac.put("attRuns", fmt(conf.get("runs")))
    mac.put("attLiveMiB", fmt(conf.get("live_mb")))
    fit = (a or {}).get("fit") or {}
    co = fit.get("coefficients") or {}
    mac.put("attAlpha", fmt(co.get("alpha_ns_per_ir"), 3))
    mac.put("attGamma", fmt(co.get("gamma_ns_per_d1_miss"), 2))
    mac.put("attBeta", fmt(co.get("beta_ns_per_ll_miss"), 1))
    mac.put("attRsq", fmt(fit.get("r2"), 2))
    cg = (a or {}).get("cachegrind") or {}
    ll = lambda c: ((cg.get(c) or {}).get("mutator") or {}).get("ll_misses")
    alloc = lambda c: (((cg.get(c) or {}).get("classes") or {}).get("allocation") or {}).get("ir")
    a_toc, a_cms = alloc("toc"), alloc("cms")
    mac.put("attAllocIrMore", fmt(a_toc - a_cms if a_toc is not None and a_cms is not None else None, 0))
    mac.put("attLlToc", fmt(ll("toc")))
    mac.put("attLlCms", fmt(ll("cms")))
    parts = lambda c: (t.get(c) or {}).get("model_parts_us") or {}
    pred = lambda c: sum(v for v in parts(c).values() if v is not None) if parts(c) else None
    mac.put("attPredCms", fmt(pred("cms"), 2))
    mac.put("attMeasCms", fmt(cms.get("mutator_us"), 2))
    mac.put("attPredToc", fmt(pred("toc"), 2))
    mac.put("attMeasToc", fmt(toc.get("mutator_us"), 2))
    ro = t.get("toc-rewind-off") or {}
    mac.put("attRewindOffTps", fmt(ro.get("txn_per_sec")))
    mac.put("attRewindOffFaults", fmt(ro.get("faults_per_txn"), 0))


# --- the first edition's sweeps -----------------------------------------

@functools.lru_cache(maxsize=None)
def _sweep_rows(res, name, sub):
    path = os.path.join(res, sub, f"sweep-{name}", "points.csv")
    return tuple(paper_go(list(csv.DictReader(open(path))), "mode")) if os.path.exists(path) else ()


def sweep_rows(res, name, sub=""):
    """The rows of one sweep's points.csv, read once (callers do not modify them)."""
    return list(_sweep_rows(res, name, sub))


def at_point(rows, v, m, k):
    return [num(r[k]) for r in rows if float(r["value"]) == v and r["mode"] == m]


def point_ratio(rows, v, other="cms", k="txn_per_sec"):
    """toc over OTHER at point V of a sweep, for figure K: the ratio of the
    medians with its bootstrap interval; None without a point."""
    return None if v is None else stats.ratio_ci(at_point(rows, v, "toc", k), at_point(rows, v, other, k))


def bounds(c):
    """A cell's interval for a plot's error bars: the median at both ends
    when it has none."""
    return tuple(c["median"] if c[k] is None else c[k] for k in ("ci95_low", "ci95_high"))


def where(x, c):
    """Where X lies against cell C's interval, in words."""
    if x is None or c is None or c.get("ci95_low") is None:
        return "n/a"
    return "inside" if c["ci95_low"] <= x <= c["ci95_high"] else "below" if x < c["ci95_low"] else "above"


def sweep(res, out, name, mac):
    rows = sweep_rows(res, name)
    values = sorted({float(r["value"]) for r in rows})
    with open(os.path.join(out, f"{name}.dat"), "w") as f:
        f.write("# value, then per mode (" + " ".join(MODES) + "): txn/s median, 95% interval low, high "
                "(the median without an interval), GC us/txn median\n")
        if not rows:
            f.write("# no results for this sweep\n")
        for v in values:
            cells = [f"{v:g}"]
            for m in MODES:
                c = stats.median_ci(at_point(rows, v, m, "txn_per_sec"))
                if c["median"] is None:
                    cells += ["NaN"] * 4
                    continue
                lo, hi = bounds(c)
                cells += [f"{c['median']:.1f}", f"{lo:.1f}", f"{hi:.1f}", f"{med(at_point(rows, v, m, 'gc_cpu_us_per_txn')) or 0:.3f}"]
            f.write(" ".join(cells) + "\n")
    pre = "sw" + name.capitalize()
    mac.put(pre + "Points", str(len(values)))
    if name in ("live", "publish", "alloc", "inflight", "workers"):
        for end, v in (("Lo", values[0] if values else None), ("Hi", values[-1] if values else None)):
            mac.put(pre + end, fmt(v))
            mac.cell(pre + end + "Ratio", point_ratio(rows, v))
            mac.cell(pre + end + "GoRatio", point_ratio(rows, v, "go"))
    if name == "publish":
        be = None
        for v in values:
            c = point_ratio(rows, v)["median"]
            if c is not None and c < 1 and be is None:
                be = v
        mac.put("swPublishBreakEven", "none up to the largest share" if be is None else f"{be:g}\\,\\%")
    if name == "inflight":
        own = [num(r.get("toc_owned_bytes_max")) for r in rows if r["mode"] == "toc"]
        own = [x for x in own if x is not None]
        mac.put("swInflightOwnedKiB", fmt(max(own) / 1024 if own else None))
        # Each mode's throughput change from the fewest requests in flight to the most, in percent.
        for m in ("cms", "toc", "go"):
            a, b = (med(at_point(rows, v, m, "txn_per_sec")) for v in (values[0], values[-1])) if values else (None, None)
            mac.put(f"swInflight{m.capitalize()}Change", fmt((b / a - 1) * 100 if a and b else None, 0))


def sweep_spreads(res, mac):
    """How wide the intervals at one point of one sweep are: the median and
    the largest half-width, in percent of the median, over every point and
    mode with an interval."""
    w = []
    for name in SWEEPS:
        rows = sweep_rows(res, name)
        for key in {(r["value"], r["mode"]) for r in rows}:
            c = stats.median_ci([num(r["txn_per_sec"]) for r in rows if (r["value"], r["mode"]) == key])
            if c["ci95_low"] is not None and c["median"]:
                w.append(max(c["median"] - c["ci95_low"], c["ci95_high"] - c["median"]) / c["median"] * 100)
    mac.put("swWidthMed", fmt(med(w)))
    mac.put("swWidthMax", fmt(max(w) if w else None))
    mac.put("swWidthN", fmt(len(w)))
    # The points where a mode's median run held no cycle: a transient, not
    # steady state, and said so in the text.
    zero = []
    for name in SWEEPS:
        rows = sweep_rows(res, name)
        for v in sorted({float(r["value"]) for r in rows}):
            modes = [m for m in MODES if med(at_point(rows, v, m, "gc_cycles")) == 0]
            if modes:
                zero.append(f"{name} {fmt(v)} ({', '.join(modes)})")
    mac.put("swZeroCycles", "; ".join(zero) if zero else "none")
    mac.put("swZeroCyclesN", fmt(len(zero)))


def memory(res, out, mac):
    """The memory of owned spans against requests in flight (the inflight
    sweep: a goroutine per request): the most bytes toc's windows owned at
    once, and every goroutine mode's peak RSS beside it."""
    rows = sweep_rows(res, "inflight")
    values = sorted({float(r["value"]) for r in rows})
    modes = [m for m in MODES if any(r["mode"] == m for r in rows)] or ["toc", "cms"]
    lines = []
    for v in values:
        own = med(at_point(rows, v, "toc", "toc_owned_bytes_max"))
        cells = [fmt(v), fmt(own / 1024 if own is not None else None)]
        cells += [fmt(med(at_point(rows, v, m, "peak_rss_mb"))) for m in modes]
        lines.append(" & ".join(cells))
    hdr = " & toc owned & \\multicolumn{%d}{c}{peak RSS, MiB} \\\\\nin flight & KiB max & " % max(len(modes), 1) + " & ".join(modes)
    table(os.path.join(out, "tab-memory.tex"), "rr" + "r" * len(modes), hdr, lines,
          "no inflight sweep results in this folder")
    ratios = [a / b for v in values for a, b in [(med(at_point(rows, v, "toc", "peak_rss_mb")), med(at_point(rows, v, "cms", "peak_rss_mb")))] if a and b]
    lo, hi = (fmt(min(ratios), 2), fmt(max(ratios), 2)) if ratios else ("n/a", "n/a")
    mac.put("memTocOverCmsRss", lo if lo == hi else f"{lo}--{hi}")
    chat = read_jsonl(glob.glob(os.path.join(res, "chat", "pauses.jsonl")))
    hi = max((r["connections"] for r in chat), default=None)
    at = lambda m: [r for r in chat if r["connections"] == hi and r["mode"] == m]
    owned = [((r.get("toc") or {}).get("toc_owned_bytes_max")) for r in at("toc")]
    owned = [x for x in owned if x is not None]
    mac.put("memChatConns", fmt(hi))
    mac.put("memChatOwnedKiB", fmt(max(owned) / 1024 if owned else None))
    mac.put("memChatRssToc", fmt(med([r.get("rss_per_conn_kib") for r in at("toc")]), 1))
    mac.put("memChatRssCms", fmt(med([r.get("rss_per_conn_kib") for r in at("cms")]), 1))


# --- TOC through the mark phase -------------------------------------------

def through_mark(res, out, mac):
    """Where toc's window bytes go against the share of time a mark phase is
    on, over every toc run of the churn sweep and the heap-size sweep: one
    line of mark.dat per run."""
    sets = [("churn", sweep_rows(res, "churn")), ("gogc", sweep_rows(res, "gogc", "heap-churn"))]
    pts = []
    with open(os.path.join(out, "mark.dat"), "w") as f:
        f.write("# one toc run a line, one block per sweep (churn, then heap-size): marking % of the run, "
                "reclaimed %, forfeited %, published % of window bytes, windows open during a mark %\n")
        for name, rows in sets:
            n = 0
            for r in rows:
                if r["mode"] != "toc":
                    continue
                mk, rec, ff, pub = (num(r.get(k)) for k in ("marking_fraction", "toc_reclaimed_fraction", "forfeit_fraction", "published_fraction"))
                w, mw = num(r.get("toc_windows")), num(r.get("toc_mark_windows"))
                if mk is None or rec is None:
                    continue
                mwp = mw / w * 100 if w and mw is not None else float("nan")
                f.write(f"{mk * 100:.2f} {rec * 100:.2f} {(ff or 0) * 100:.3f} {(pub or 0) * 100:.2f} {mwp:.2f}\n")
                pts.append((mk, rec, ff or 0, pub or 0, mwp, num(r.get("gc_cycles"))))
                n += 1
            if n == 0:
                f.write("NaN NaN NaN NaN NaN\n")
            f.write("\n\n")
    mk = [p[0] for p in pts]
    mac.put("markRuns", fmt(len(pts)))
    mac.put("markMaxPct", fmt(max(mk) * 100 if mk else None, 0))
    mac.put("markMedPct", fmt(med(mk) * 100 if mk else None, 0))
    mac.put("markForfeitMaxPct", fmt(max(p[2] for p in pts) * 100 if pts else None, 2))
    mac.put("markWindowsMedPct", fmt(med([p[4] for p in pts if not math.isnan(p[4])]), 0))
    # Reclaimed plus published is what a window did not forfeit: at the runs
    # with the most marking, how much of it was reclaimed.
    top = sorted(pts, key=lambda p: p[0])[-max(1, len(pts) // 5):] if pts else []
    mac.put("markTopReclaimPct", fmt(med([p[1] for p in top]) * 100 if top else None, 1))
    mac.put("markTopMarkPct", fmt(min(p[0] for p in top) * 100 if top else None, 0))
    mac.put("markCyclesMax", fmt(max((p[5] for p in pts if p[5] is not None), default=None)))
    churn = sweep_rows(res, "churn")
    values = sorted({float(r["value"]) for r in churn})
    mac.put("markChurnHi", fmt(values[-1] if values else None))
    hi = values[-1] if values else None
    mac.cell("markChurnHiRatio", point_ratio(churn, hi))
    lo = values[0] if values else None
    mac.put("markChurnLo", fmt(lo))
    mac.cell("markChurnLoRatio", point_ratio(churn, lo))
    mac.put("markChurnHiCycles", fmt(med(at_point(churn, hi, "toc", "gc_cycles")) if hi is not None else None))


# --- throughput against memory ----------------------------------------------

def heap(res, out, mac):
    """The heap-size sweep with published garbage: throughput against peak
    RSS per collector (one curve per mode over GOGC, lib/heapcurve.py's
    curves and best throughput within an RSS), the table of every point,
    and each mode's best throughput within toc's best point's RSS."""
    rows = sweep_rows(res, "gogc", "heap-churn")
    values = sorted({float(r["value"]) for r in rows})
    runs = [{"mode": r["mode"], "point": float(r["value"]), "cpu_us_per_txn": None,
             **{k: num(r[k]) for k in ("txn_per_sec", "gc_cpu_us_per_txn", "peak_rss_mb", "gc_cycles")}} for r in rows]
    cs = heapcurve.curves(runs) if runs else {}
    # Each mode's points that have both medians, as (GOGC, RSS, txn/s).
    curves = {m: [(p["point"], p["peak_rss_mb"]["median"], p["txn_per_sec"]["median"]) for p in cs.get(m, [])
                  if p["peak_rss_mb"]["median"] is not None and p["txn_per_sec"]["median"] is not None]
              for m in ("toc", "cms", "go")}
    for m in ("toc", "cms", "go"):
        with open(os.path.join(out, f"heap-{m}.dat"), "w") as f:
            f.write("# GOGC, peak RSS MiB median, low, high; txn/s median, low, high (95% intervals; the median without one)\n")
            for p in cs.get(m, []):
                r, t = p["peak_rss_mb"], p["txn_per_sec"]
                if r["median"] is None or t["median"] is None:
                    continue
                f.write(f"{p['point']:g} {r['median']:.1f} {bounds(r)[0]:.1f} {bounds(r)[1]:.1f} "
                        f"{t['median']:.1f} {bounds(t)[0]:.1f} {bounds(t)[1]:.1f}\n")
            if not curves[m]:
                f.write("NaN NaN NaN NaN NaN NaN NaN\n")
    with open(os.path.join(out, "heap-labels.gp"), "w") as f:
        for i, (v, rss, tps) in enumerate(curves["toc"]):
            f.write(f'set label {i + 10} "{v:g}" at {rss:.1f}, {tps:.1f} offset 0.4,0.5 font ",8" tc rgb "#d62728"\n')

    def best_within(m, rss):
        """Mode M's best median txn/s within RSS, and that point's GOGC."""
        tps, p = heapcurve.best_within(cs.get(m, []), rss)
        return (tps, p["point"]) if p else None
    lines = []
    for v in values:
        c = {m: stats.median_ci(at_point(rows, v, m, "txn_per_sec")) for m in ("toc", "cms", "go")}
        tp = [p for p in curves["toc"] if p[0] == v]
        eq = []
        for m in ("cms", "go"):
            b = best_within(m, tp[0][1]) if tp else None
            eq.append(f"{fmt(tp[0][2] / b[0], 2)} ({fmt(b[1])})" if b else "--")
        rss = "/".join(fmt(med(at_point(rows, v, m, "peak_rss_mb"))) for m in ("toc", "cms", "go"))
        lines.append(" & ".join([fmt(v), cell_tex(c["toc"], 1, k=True), kfmt(c["cms"]["median"]), kfmt(c["go"]["median"]),
                                 cell_tex(point_ratio(rows, v), 2), cell_tex(point_ratio(rows, v, "go"), 2), rss] + eq +
                                [fmt(med(at_point(rows, v, "toc", "gc_cycles")))]))
    table(os.path.join(out, "tab-heap.tex"), "@{}rrrrrrrrrr@{}",
          "GOGC & toc txn/s & cms & Go & toc/cms & toc/Go & RSS MiB toc/cms/Go & toc/cms$^{*}$ & toc/Go$^{*}$ & toc cycles",
          lines, "no heap-size sweep results in this folder")
    lo, hi = (values[0], values[-1]) if values else (None, None)
    for end, v in (("Lo", lo), ("Hi", hi)):
        mac.put("heap" + end, fmt(v))
        mac.cell("heap" + end + "Ratio", point_ratio(rows, v))
        mac.cell("heap" + end + "GoRatio", point_ratio(rows, v, "go"))
    at_hi = lambda m, k: med(at_point(rows, hi, m, k)) if hi is not None else None
    mac.put("heapHiTocCycles", fmt(at_hi("toc", "gc_cycles")))
    mac.put("heapHiTocRss", fmt(at_hi("toc", "peak_rss_mb")))
    mac.put("heapHiCmsRss", fmt(at_hi("cms", "peak_rss_mb")))
    # Equal memory: toc's best point, and each mode's best within its RSS.
    best = max(curves["toc"], key=lambda p: p[2]) if curves["toc"] else None
    mac.put("heapTocBestGogc", fmt(best[0] if best else None))
    mac.put("heapTocBestTps", kfmt(best[2] if best else None))
    mac.put("heapBudget", fmt(best[1] if best else None))
    for m in ("cms", "go"):
        b = best_within(m, best[1]) if best else None
        mac.put(f"heap{m.capitalize()}BestTps", kfmt(b[0] if b else None))
        mac.put(f"heap{m.capitalize()}BestGogc", fmt(b[1] if b else None))
        mac.put(f"heapTocOver{m.capitalize()}Best", fmt(best[2] / b[0] if b else None, 2))
    top = max(curves["go"], key=lambda p: p[2]) if curves["go"] else None
    mac.put("heapGoTopTps", kfmt(top[2] if top else None))
    mac.put("heapGoTopRss", fmt(top[1] if top else None))
    mac.put("heapGoTopGogc", fmt(top[0] if top else None))
    # Where cms's collector sat at the CPU limiter: its GC CPU share at the tightest GOGC.
    share = med(at_point(rows, lo, "cms", "gc_cpu_fraction")) if lo is not None else None
    mac.put("heapCmsGcPctLo", fmt(share * 100 if share is not None else None, 0))


# --- the published share: where toc stops paying ------------------------------

def pubshare(res, out, mac):
    folder = os.path.join(res, "sweep-pubshare")
    rows = sweep_rows(res, "pubshare")
    be = None
    if rows:
        # Computed afresh from the points (a breakeven.json from an earlier,
        # shorter state of the sweep would not describe them), in a
        # scratch folder: the results folder is only read.
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copyfile(os.path.join(folder, "points.csv"), os.path.join(tmp, "points.csv"))
            with contextlib.redirect_stdout(io.StringIO()):
                breakeven.main(["breakeven.py", tmp])
            be = read_json(os.path.join(tmp, "breakeven.json"))
    values = sorted({float(r["value"]) for r in rows})
    lines = []
    with open(os.path.join(out, "pubshare.dat"), "w") as f:
        f.write("# publish-bytes %, toc's published %, toc/cms txn/s median, low, high, toc/cms peak RSS median, low, high\n")
        for v in values:
            t = point_ratio(rows, v)
            r = point_ratio(rows, v, k="peak_rss_mb")
            pub = med(at_point(rows, v, "toc", "published_fraction"))
            if t["median"] is not None:
                nan = lambda x: float("nan") if x is None else x
                f.write(f"{v:g} {(pub or 0) * 100:.1f} {t['median']:.3f} {bounds(t)[0]:.3f} {bounds(t)[1]:.3f} "
                        f"{nan(r['median']):.3f} {nan(bounds(r)[0]):.3f} {nan(bounds(r)[1]):.3f}\n")
            lines.append(" & ".join([fmt(v), fmt(pub * 100 if pub is not None else None, 1), cell_tex(t, 2), cell_tex(r, 2),
                                     fmt(med(at_point(rows, v, "toc", "gc_cycles"))) + "/" + fmt(med(at_point(rows, v, "cms", "gc_cycles")))]))
        if not values:
            f.write("NaN NaN NaN NaN NaN NaN NaN NaN\n")
    table(os.path.join(out, "tab-pubshare.tex"), "@{}rrrrr@{}",
          "knob \\% & toc \\% & txn/s & RSS & cycles",
          lines, "no pubshare sweep results in this folder")
    b = (be or {}).get("break_even") or {}
    mo = (be or {}).get("model_fitted_to_ends") or {}
    cross = b.get("knob_pct_bounds") or [None, None]
    mac.put("pubBreakEven", fmt(b.get("knob_pct"), 0))
    mac.put("pubBreakEvenMeasured", fmt(b.get("published_pct"), 0))
    mac.put("pubBoundLo", fmt(cross[0], 0))
    mac.put("pubBoundHi", fmt(cross[1], 0) + "\\,\\%" if cross[1] is not None else "beyond the sweep")
    mac.put("pubModel", fmt(mo.get("break_even_published_pct"), 0))
    mac.put("pubGainNs", fmt(mo.get("G_ns_per_byte"), 2))
    mac.put("pubCostNs", fmt(mo.get("C_ns_per_byte"), 2))
    z = values[0] if values else None
    mac.cell("pubZeroRatio", point_ratio(rows, z))
    h = values[-1] if values else None
    mac.put("pubTop", fmt(h))
    mac.cell("pubTopRatio", point_ratio(rows, h))


# --- parked transactions --------------------------------------------------------

def parked(res, out, mac):
    rows = sweep_rows(res, "parked")
    values = sorted({float(r["value"]) for r in rows})
    meta = sweep_meta(res, "parked")
    lines = []
    for v in values:
        rc, rg = point_ratio(rows, v), point_ratio(rows, v, "go")
        rss = "/".join(fmt(med(at_point(rows, v, m, "peak_rss_mb"))) for m in ("toc", "cms", "go"))
        lines.append(" & ".join([fmt(v), fmt(med(at_point(rows, v, "toc", "parked_max"))), cell_tex(rc, 2), cell_tex(rg, 2), rss,
                                 fmt(med(at_point(rows, v, "toc", "owned_per_inflight_kb"))),
                                 fmt(med(at_point(rows, v, "toc", "gc_cycles"))), fmt(med(at_point(rows, v, "cms", "gc_cycles")))]))
    table(os.path.join(out, "tab-parked.tex"), "@{}rrrrrrrr@{}",
          "in flight & parked & toc/cms txn/s & toc/Go & RSS MiB toc/cms/Go & toc KiB owned each & toc cycles & cms cycles",
          lines, "no parked sweep results in this folder")
    lv = re.search(r"--live-mb=(\d+)", meta.get("txbench_args") or "")
    mac.put("parkLiveMiB", lv.group(1) if lv else "n/a")
    mac.put("parkSeconds", fmt(meta.get("duration"), 0))
    for end, v in (("Lo", values[0] if values else None), ("Hi", values[-1] if values else None)):
        mac.put("park" + end, fmt(v))
        mac.cell("park" + end + "Ratio", point_ratio(rows, v))
    lo, hi = (values[0], values[-1]) if values else (None, None)
    mac.put("parkOwnedKiB", fmt(med(at_point(rows, lo, "toc", "owned_per_inflight_kb")) if lo is not None else None))
    for m in ("toc", "cms"):
        mac.put(f"parkHiRss{m.capitalize()}", fmt(med(at_point(rows, hi, m, "peak_rss_mb")) if hi is not None else None))
    mac.put("parkHiParked", fmt(med(at_point(rows, hi, "toc", "parked_max")) if hi is not None else None))


# --- servers -----------------------------------------------------------------------

def servers(res, out, mac):
    runs = paper_go(read_jsonl(sorted(glob.glob(os.path.join(res, "httpbench", "*", "runs.jsonl")))), "server")
    chat = read_jsonl(glob.glob(os.path.join(res, "chat", "throughput.jsonl")))
    rows = []
    rps = lambda s: [r["figures"]["rps"] for r in runs if r["server"] == s]
    for s in ("toc", "cms", "go"):
        v = [r["figures"] for r in runs if r["server"] == s]
        if v:
            label = "go-httpd (net/http)" if s == "go" else f"httpd, {s}"
            rows.append(f"{label} & {len(v)} & {cell_tex(stats.median_ci(rps(s)), 1, k=True)} & "
                        f"{fmt(med([x['p50_ms'] for x in v]), 2)} & {fmt(med([x['p99_ms'] for x in v]), 2)}")
    for m in ("toc", "cms"):
        v = [r for r in chat if r["mode"] == m]
        if v:
            rows.append(f"chat, {m} & {len(v)} & {cell_tex(stats.median_ci([r['msgs_per_sec'] for r in v]), 1, k=True)} & "
                        f"{fmt(med([r['delivery_p50_us'] for r in v]), 2, 1e-3)} & "
                        f"{fmt(med([r['delivery_p99_us'] for r in v]), 2, 1e-3)}")
    table(os.path.join(out, "tab-servers.tex"), "@{}lrrrr@{}", "server & runs & per s & p50 ms & p99 ms", rows,
          "no server results in this folder")
    mac.cell("srvTocOverGo", stats.ratio_ci(rps("toc"), rps("go")))
    mac.cell("srvTocOverCms", stats.ratio_ci(rps("toc"), rps("cms")))
    mac.put("srvTocRps", kfmt(med(rps("toc"))))
    mac.put("srvGoRps", kfmt(med(rps("go"))))
    mac.cell("chatTocOverCms", stats.ratio_ci([x["msgs_per_sec"] for x in chat if x["mode"] == "toc"],
                                              [x["msgs_per_sec"] for x in chat if x["mode"] == "cms"]))
    mac.put("chatRuns", fmt(len([x for x in chat if x["mode"] == "toc"])))


def tfb(res, out, mac):
    """The TechEmpower test types on httpd (toc, cms) and go-httpd."""
    runs = paper_go(read_jsonl(sorted(glob.glob(os.path.join(res, "tfb", "*", "runs.jsonl")))), "server")
    fig = lambda t, s, k: [r["figures"].get(k) for r in runs if r["type"] == t and r["server"] == s]
    sfig = lambda t, s, k: [(r["figures"].get("server") or {}).get(k) for r in runs if r["type"] == t and r["server"] == s]
    lines, ratios = [], []
    for t in TFB_TYPES:
        if not fig(t, "toc", "rps"):
            continue
        rc = stats.ratio_ci(fig(t, "toc", "rps"), fig(t, "cms", "rps"))
        rg = stats.ratio_ci(fig(t, "toc", "rps"), fig(t, "go", "rps"))
        ratios.append((t, rc, rg))
        p99 = "/".join(fmt(med(fig(t, s, "p99_ms")), 1) for s in ("toc", "cms", "go"))
        cyc = "/".join(fmt(med(sfig(t, s, "gc_cycles"))) for s in ("toc", "cms", "go"))
        lines.append(" & ".join([t, cell_tex(stats.median_ci(fig(t, "toc", "rps")), 1, k=True),
                                 cell_tex(rc, 2), cell_tex(rg, 2), p99, cyc]))
    table(os.path.join(out, "tab-tfb.tex"), "@{}lrrrrr@{}",
          "type & toc req/s & toc/cms & toc/Go & p99 ms toc/cms/Go & GC cycles toc/cms/Go",
          lines, "no TechEmpower results in this folder")
    rs = [r[1]["median"] for r in ratios if r[1]["median"] is not None]
    gs = [r[2]["median"] for r in ratios if r[2]["median"] is not None]
    mac.put("tfbCmsMin", fmt(min(rs) if rs else None, 2))
    mac.put("tfbCmsMax", fmt(max(rs) if rs else None, 2))
    mac.put("tfbGoMin", fmt(min(gs) if gs else None, 2))
    mac.put("tfbGoMax", fmt(max(gs) if gs else None, 2))
    mac.put("tfbTypes", fmt(len(ratios)))
    mac.put("tfbRuns", fmt(len(fig("json", "toc", "rps"))))
    # How many types' toc/cms interval includes 1.
    mac.put("tfbCmsOverlap", fmt(sum(1 for _, c, _ in ratios if c["ci95_low"] is not None and c["ci95_low"] <= 1 <= c["ci95_high"])))
    gcf = [med(sfig(t, "cms", "gc_cpu_fraction")) for t in TFB_TYPES]
    gcf = [x for x in gcf if x is not None]
    mac.put("tfbCmsGcPctMax", fmt(max(gcf) * 100 if gcf else None, 1))
    # The type with the largest p99 of toc over cms's.
    worst = max(((med(fig(t, "toc", "p99_ms")) / med(fig(t, "cms", "p99_ms")), t) for t in TFB_TYPES
                 if med(fig(t, "toc", "p99_ms")) and med(fig(t, "cms", "p99_ms"))), default=None)
    mac.put("tfbWorstPType", worst[1] if worst else "n/a")
    mac.put("tfbWorstPToc", fmt(med(fig(worst[1], "toc", "p99_ms")), 1) if worst else "n/a")
    mac.put("tfbWorstPCms", fmt(med(fig(worst[1], "cms", "p99_ms")), 1) if worst else "n/a")


# --- barrier ----------------------------------------------------------------------

def barrier(res, out, mac):
    path = os.path.join(res, "barrier.jsonl")
    runs = read_jsonl([path]) if os.path.exists(path) else []
    keys = [("cms_store_ns", "layer off (cms)"), ("toc_fast_local_ns", "window into window"),
            ("toc_fast_public_ns", "published into published"),
            ("toc_fast_shared_ns", "outside the window"),
            ("toc_publish_per_object_ns", "publish, per object")]
    rows = []
    for k, label in keys:
        v = [r.get(k) for r in runs if r.get(k) is not None]
        if v:
            rows.append(f"{label} & {len(v)} & {fmt(med(v), 2)} & {fmt(min(v), 2)} & {fmt(max(v), 2)}")
    table(os.path.join(out, "tab-barrier.tex"), "@{}lrrrr@{}", "store & runs & median ns & min & max", rows,
          "no barrierbench results in this folder")
    c = med([r.get("cms_store_ns") for r in runs])
    lo = med([r.get("toc_fast_local_ns") for r in runs])
    mac.put("barCmsNs", fmt(c, 2))
    mac.put("barLocalNs", fmt(lo, 2))
    mac.put("barPublicNs", fmt(med([r.get("toc_fast_public_ns") for r in runs]), 2))
    mac.put("barPublishNs", fmt(med([r.get("toc_publish_per_object_ns") for r in runs]), 1))
    mac.put("barLocalOverCms", fmt(lo / c if lo and c else None, 2))
    mac.put("barRuns", fmt(len(runs)))


def barrier_tax(res, out, mac):
    """The programs with no transactions (lib/barriertax.py): toc's layer on
    (every goroutine a window, every store through its barrier) against cms."""
    s = read_json(os.path.join(res, "barriertax", "summary.json")) or {}
    rows = []
    for name, b in (s.get("benches") or {}).items():
        rows.append(" & ".join([name, fmt((b.get("toc_seconds") or {}).get("median"), 3),
                                fmt((b.get("cms_seconds") or {}).get("median"), 3),
                                cell_tex(b.get("toc_over_cms_throughput"), 2)]))
    table(os.path.join(out, "tab-tax.tex"), "@{}lrrr@{}", "program & toc s & cms s & toc/cms throughput", rows,
          "no barrier-tax results in this folder")
    mac.put("taxRounds", fmt(s.get("rounds")))
    meds = [b["toc_over_cms_throughput"]["median"] for b in (s.get("benches") or {}).values()
            if (b.get("toc_over_cms_throughput") or {}).get("median") is not None]
    mac.put("taxMin", fmt(min(meds) if meds else None, 2))
    mac.put("taxMax", fmt(max(meds) if meds else None, 2))
    mac.put("taxPrograms", fmt(len(meds)))
    mac.put("taxOverlap", fmt(sum(1 for b in (s.get("benches") or {}).values()
                                  if (b.get("toc_over_cms_throughput") or {}).get("ci95_low") is not None
                                  and b["toc_over_cms_throughput"]["ci95_low"] <= 1 <= b["toc_over_cms_throughput"]["ci95_high"])))


# --- pauses ----------------------------------------------------------------------

def pauses(res, out, mac):
    runs = read_jsonl(glob.glob(os.path.join(res, "chat", "pauses.jsonl")))
    conns = sorted({r["connections"] for r in runs})
    rows = []
    for n in conns:
        for m in ("toc", "cms"):
            v = [r for r in runs if r["connections"] == n and r["mode"] == m]
            if not v:
                continue
            rows.append(f"{fmt(n)} & {m} & {len(v)} & {fmt(med([r['gc_cycles'] for r in v]))} & "
                        f"{fmt(med([r['stw_p99_us'] for r in v]))} & {fmt(med([r['stw_max_us'] for r in v]))} & "
                        f"{fmt(max(r['stw_max_us'] for r in v))} & {fmt(med([r['stw_ttsp_max_us'] for r in v]))} & "
                        f"{fmt(med([r['rss_per_conn_kib'] for r in v]), 1)}")
    table(os.path.join(out, "tab-pauses.tex"), "@{}rlrrrrrrr@{}",
          "connections & mode & runs & cycles & p99 \\textmu s & max \\textmu s (median) & max \\textmu s (all) & "
          "TTSP max \\textmu s & RSS KiB/conn", rows, "no chat pause results in this folder")
    series = []
    with open(os.path.join(out, "pauses.dat"), "w") as f:
        f.write("# pause us, fraction of pauses at or under it; one block per series (pauses-series.gp)\n")
        for n in conns:
            for m in ("toc", "cms"):
                ps = sorted(p for r in runs if r["connections"] == n and r["mode"] == m for p in r.get("pauses_us", []))
                if not ps:
                    continue
                for i, p in enumerate(ps):
                    f.write(f"{p:.1f} {(i + 1) / len(ps):.5f}\n")
                f.write("\n\n")
                series.append(f"{m}, {n:,} connections ({len(ps)} pauses)")
        if not series:
            f.write("NaN NaN\n")
    with open(os.path.join(out, "pauses-series.gp"), "w") as f:
        f.write(f"nseries = {len(series)}\n")
        f.write('series = "' + "|".join(series) + '"\n')
    lo, hi = (conns[0], conns[-1]) if len(conns) >= 2 else (None, None)

    def pooled(n, m):
        return sorted(p for r in runs if r["connections"] == n and r["mode"] == m for p in r.get("pauses_us", []))
    # Every run's pauses pooled: its 99th percentile at the fewest and the
    # most connections (a median of a few runs' longest pauses would pick
    # one run's outlier), and the longest pause of any run.
    for m in ("toc", "cms"):
        a, b = pooled(lo, m), pooled(hi, m)
        pa = stats.percentile(a, 0.99) if a else None
        pb = stats.percentile(b, 0.99) if b else None
        mac.put(f"pause{m.capitalize()}PooledLo", fmt(pa))
        mac.put(f"pause{m.capitalize()}PooledHi", fmt(pb))
        mac.put(f"pause{m.capitalize()}Ratio", fmt(pb / pa if pa and pb else None, 2))
        mac.put(f"pause{m.capitalize()}MaxHi", fmt(max(b) if b else None))
        mac.put(f"pause{m.capitalize()}Count", fmt(len(a) + len(b)))
    mac.put("pauseLoConns", fmt(lo))
    mac.put("pauseHiConns", fmt(hi))
    worst = max((r["stw_ttsp_max_us"] for r in runs if r["connections"] == hi and r.get("stw_ttsp_max_us") is not None),
                default=None)
    mac.put("pauseTtspWorstMs", fmt(worst / 1e3 if worst is not None else None, 1))
    mac.put("pauseRate", fmt(med([r.get("rate") for r in runs])))
    mac.put("pauseGorPerConn", fmt(med([r["goroutines"] / r["connections"] for r in runs
                                        if r.get("goroutines") and r.get("connections")]), 0))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    res, out = sys.argv[1], sys.argv[2]
    if not os.path.isdir(res):
        sys.exit(f"gen.py: {res}: not a results folder")
    os.makedirs(out, exist_ok=True)
    mac = Macros()
    machine(res, out, mac)
    method(res, mac)
    headline(res, out, mac)
    scheduler(res, mac)
    attribution(res, out, mac)
    through_mark(res, out, mac)
    heap(res, out, mac)
    pubshare(res, out, mac)
    parked(res, out, mac)
    for s in SWEEPS:
        sweep(res, out, s, mac)
    sweep_spreads(res, mac)
    memory(res, out, mac)
    servers(res, out, mac)
    tfb(res, out, mac)
    pauses(res, out, mac)
    barrier(res, out, mac)
    barrier_tax(res, out, mac)
    with open(os.path.join(out, "macros.tex"), "w") as f:
        f.write("% generated by paper/lib/gen.py from " + res.replace("%", "") + "\n")
        f.write("\n".join(mac.lines) + "\n")
    missing = [o for o in OUTPUTS if not os.path.exists(os.path.join(out, o))]
    if missing:
        sys.exit(f"gen.py: did not write {', '.join(missing)}")


if __name__ == "__main__":
    main()
