"""Turns a results folder into the paper's generated inputs (paper/gen/):
macros.tex (every number the text quotes), the tables, and the data files
the gnuplot scripts in paper/fig/ plot. Nothing here is typed by hand: a
figure or number whose results are missing says so in the PDF.

usage: gen.py RESULTS_DIR OUT_DIR

RESULTS_DIR (written by paper/build):
  machine.json, commit.txt, config.txt     what the results were measured on
  bench/*/tx_runs.jsonl                    workloads/bench: txbench, every mode
  sweep-NAME/points.csv                    workloads/sweep NAME
  httpbench/*/runs.jsonl                   workloads/httpbench
  chat/pauses.jsonl, chat/throughput.jsonl chat runs
  barrier.jsonl                            barrierbench --json runs
"""
import csv
import functools
import glob
import json
import math
import os
import re
import statistics
import sys

MODES = ["toc", "cms", "stw", "boehm", "arena", "go"]
SWEEPS = ["live", "publish", "gogc", "inflight", "workers", "alloc"]
# The sweeps whose toc runs show where window bytes go (fig/fate.gp).
FATE_SWEEPS = ["publish", "gogc", "live"]

# Every file gen.py writes: paper/check compares this with what toc.tex uses.
OUTPUTS = ["macros.tex", "tab-headline.tex", "tab-servers.tex", "tab-barrier.tex", "tab-pauses.tex",
           "tab-machine.tex", "tab-memory.tex", "pauses.dat", "pauses-series.gp"] + \
    [f"{s}.dat" for s in SWEEPS] + [f"fate-{s}.dat" for s in FATE_SWEEPS]


def paper_go(rows, key):
    """Renames, in ROWS, the mode under KEY of the Go build the paper's "go"
    stands for: the default build of the newest toolchain (go1.26, not
    go1.26-nogreenteagc or go1.19; workloads/lib/goinfo.py names them).
    Results from before the Go builds were named say "go" already. The
    other Go builds keep their names, which MODES leaves out. Returns ROWS."""
    builds = {r[key] for r in rows if re.fullmatch(r"go\d+\.\d+", r[key])}
    if builds:
        newest = max(builds, key=lambda m: tuple(int(x) for x in m[2:].split(".")))
        for r in rows:
            if r[key] == newest:
                r[key] = "go"
    return rows


def med(v):
    v = [x for x in v if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(v) if v else None


def spread_pct(v):
    """The runs' spread: (max - min) / median, in percent (None under 2 runs)."""
    v = [x for x in v if x is not None]
    if len(v) < 2 or not med(v):
        return None
    return (max(v) - min(v)) / med(v) * 100


def fmt(v, digits=0, scale=1.0):
    if v is None:
        return "n/a"
    return f"{v * scale:,.{digits}f}".replace(",", "{,}")


class Macros:
    def __init__(self):
        self.lines = []

    def put(self, name, value):
        assert name.isalpha(), name
        self.lines.append(f"\\newcommand{{\\{name}}}{{{value}}}")


def read_jsonl(paths):
    out = []
    for p in paths:
        with open(p) as f:
            out += [json.loads(line) for line in f if line.strip()]
    return out


def headline(res, out, mac):
    runs = paper_go(read_jsonl(sorted(glob.glob(os.path.join(res, "bench", "*", "tx_runs.jsonl")))), "mode")
    by = {m: [r["result"] for r in runs if r["mode"] == m] for m in MODES}
    med_of = {m: {k: med([r.get(k) for r in by[m]]) for k in
                  ("txn_per_sec", "gc_cpu_us_per_txn", "gc_cycles", "txn_p99_us", "stw_max_us", "peak_rss_mb",
                   "toc_reclaimed_fraction", "published_fraction", "forfeit_fraction", "allocated_mb",
                   "gc_cpu_seconds")} for m in MODES}
    cms = med_of["cms"]["txn_per_sec"]
    # The lower-bound overhead view: each mode's time per transaction over
    # the best observed (the fastest mode's), 1.00 for the best.
    best = max((med_of[m]["txn_per_sec"] or 0) for m in MODES) or None
    rows = []
    for m in MODES:
        f = med_of[m]
        if not by[m]:
            continue
        gcmib = (f["gc_cpu_seconds"] * 1e3 / f["allocated_mb"]) if f["gc_cpu_seconds"] is not None and f["allocated_mb"] else None
        ratio = f["txn_per_sec"] / cms if cms and f["txn_per_sec"] else None
        lbo = best / f["txn_per_sec"] if best and f["txn_per_sec"] else None
        sp = spread_pct([r.get("txn_per_sec") for r in by[m]])
        rows.append(f"{m} & {len(by[m])} & {fmt(f['txn_per_sec'])} & {fmt(sp)} & {fmt(ratio, 2)} & {fmt(lbo, 2)} & {fmt(f['gc_cpu_us_per_txn'], 1)} & "
                    f"{fmt(gcmib, 2)} & {fmt(f['gc_cycles'])} & {fmt(f['txn_p99_us'])} & {fmt(f['stw_max_us'])} & "
                    f"{fmt(f['peak_rss_mb'])} \\\\")
    with open(os.path.join(out, "tab-headline.tex"), "w") as f:
        f.write("\\begin{tabular}{lrrrrrrrrrrr}\n\\toprule\n"
                "mode & runs & txn/s & spread \\% & vs cms & time vs best & GC \\textmu s/txn & GC ms/MiB & cycles & p99 \\textmu s & "
                "STW max \\textmu s & RSS MiB \\\\\n\\midrule\n")
        f.write("\n".join(rows) if rows else "\\multicolumn{12}{c}{no workloads/bench results in this folder} \\\\")
        f.write("\n\\bottomrule\n\\end{tabular}\n")
    t, a, c = med_of["toc"]["txn_per_sec"], med_of["arena"]["txn_per_sec"], cms
    mac.put("hlRuns", str(max((len(v) for v in by.values()), default=0)))
    mac.put("hlTocTps", fmt(t))
    mac.put("hlCmsTps", fmt(c))
    mac.put("hlArenaTps", fmt(a))
    mac.put("hlGoTps", fmt(med_of["go"]["txn_per_sec"]))
    mac.put("hlTocOverCms", fmt(t / c if t and c else None, 2))
    mac.put("hlTocOverArena", fmt(t / a if t and a else None, 2))
    b = med_of["boehm"]["txn_per_sec"]
    mac.put("hlCmsOverBoehm", fmt(c / b if c and b else None, 2))
    mac.put("hlCmsGcUs", fmt(med_of["cms"]["gc_cpu_us_per_txn"], 1))
    mac.put("hlCmsCycles", fmt(med_of["cms"]["gc_cycles"]))
    mac.put("hlTocCycles", fmt(med_of["toc"]["gc_cycles"]))
    mac.put("hlTocReclaimed", fmt(med_of["toc"]["toc_reclaimed_fraction"], 3))
    mac.put("hlTocPublished", fmt(med_of["toc"]["published_fraction"], 3))
    mac.put("hlTocForfeit", fmt(med_of["toc"]["forfeit_fraction"], 3))
    owned = med([(r.get("toc") or {}).get("toc_owned_bytes_max") for r in by["toc"]])
    mac.put("hlTocOwnedKiB", fmt(owned / 1024 if owned is not None else None))


@functools.lru_cache(maxsize=None)
def sweep_rows(res, name):
    """The rows of one sweep's points.csv, read once (callers do not modify them)."""
    path = os.path.join(res, f"sweep-{name}", "points.csv")
    return paper_go(list(csv.DictReader(open(path))), "mode") if os.path.exists(path) else []


def num(x):
    return float(x) if x not in ("", None) else None


def sweep(res, out, name, mac):
    rows = sweep_rows(res, name)
    values = sorted({float(r["value"]) for r in rows})
    with open(os.path.join(out, f"{name}.dat"), "w") as f:
        f.write("# value, then per mode (" + " ".join(MODES) + "): txn/s median, min, max, GC us/txn median\n")
        if not rows:
            f.write("# no results for this sweep\n")
        for v in values:
            cells = [f"{v:g}"]
            for m in MODES:
                pts = [r for r in rows if float(r["value"]) == v and r["mode"] == m]
                tps = [num(r["txn_per_sec"]) for r in pts]
                gcu = [num(r["gc_cpu_us_per_txn"]) for r in pts]
                tps = [x for x in tps if x is not None]
                if tps:
                    cells += [f"{med(tps):.1f}", f"{min(tps):.1f}", f"{max(tps):.1f}", f"{med(gcu) or 0:.3f}"]
                else:
                    cells += ["NaN"] * 4
            f.write(" ".join(cells) + "\n")
    mac.put(f"sw{name.capitalize()}Points", str(len(values)))
    # The break-even of the publish sweep: the first published % where toc falls under cms.
    if name == "publish" and rows:
        be = None
        for v in values:
            t = med([num(r["txn_per_sec"]) for r in rows if float(r["value"]) == v and r["mode"] == "toc"])
            c = med([num(r["txn_per_sec"]) for r in rows if float(r["value"]) == v and r["mode"] == "cms"])
            if t is not None and c is not None and t < c and be is None:
                be = v
        mac.put("swPublishBreakEven", "none up to 100\\,\\%" if be is None else f"{be:g}\\,\\%")
        t100 = med([num(r["txn_per_sec"]) for r in rows if float(r["value"]) == max(values) and r["mode"] == "toc"])
        c100 = med([num(r["txn_per_sec"]) for r in rows if float(r["value"]) == max(values) and r["mode"] == "cms"])
        mac.put("swPublishMaxRatio", fmt(t100 / c100 if t100 and c100 else None, 2))
    elif name == "publish":
        mac.put("swPublishBreakEven", "n/a")
        mac.put("swPublishMaxRatio", "n/a")
    if name == "inflight":
        own = [num(r.get("toc_owned_bytes_max")) for r in rows if r["mode"] == "toc"]
        own = [x for x in own if x is not None]
        # Runs in which the windows never owned more than one region at once
        # (the default 512 KiB): one worker ran every request goroutine.
        mac.put("swInflightOneRegionRuns", fmt(sum(1 for x in own if x <= 512 * 1024)))
        mac.put("swInflightTocRuns", fmt(len(own)))
        mac.put("swInflightOwnedKiB", fmt(max(own) / 1024 if own else None))
        mac.put("swInflightMax", fmt(max(values) if values else None))
    if name in ("live", "gogc") and rows:
        # Both ends of the sweep: toc/cms, and cms's GC CPU and cycles.
        pre = "sw" + name.capitalize()
        for end, v in (("Lo", values[0]), ("Hi", values[-1])):
            at = lambda m, k: med([num(r[k]) for r in rows if float(r["value"]) == v and r["mode"] == m])
            t, c = at("toc", "txn_per_sec"), at("cms", "txn_per_sec")
            mac.put(pre + end, fmt(v))
            mac.put(pre + end + "Ratio", fmt(t / c if t and c else None, 2))
            mac.put(pre + end + "CmsGc", fmt(at("cms", "gc_cpu_us_per_txn"), 1))
            mac.put(pre + end + "CmsCycles", fmt(at("cms", "gc_cycles")))
    elif name in ("live", "gogc"):
        for end in ("Lo", "Hi"):
            for k in ("", "Ratio", "CmsGc", "CmsCycles"):
                mac.put("sw" + name.capitalize() + end + k, "n/a")


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


def sweep_spreads(res, mac):
    """The spread of the runs at one point of one sweep, for each point and
    mode with two runs or more: its median and the largest, over all sweeps."""
    sp = []
    for name in SWEEPS:
        rows = sweep_rows(res, name)
        for key in {(r["value"], r["mode"]) for r in rows}:
            v = spread_pct([num(r["txn_per_sec"]) for r in rows if (r["value"], r["mode"]) == key])
            if v is not None:
                sp.append(v)
    mac.put("swSpreadMed", fmt(med(sp)))
    mac.put("swSpreadMax", fmt(max(sp) if sp else None))
    mac.put("swSpreadN", fmt(len(sp)))
    mac.put("swRounds", fmt(max((int(r["round"]) for n in SWEEPS for r in sweep_rows(res, n)), default=None)))


def fate(res, out, mac):
    """Where toc's window bytes went (published, forfeited; the rest was
    reclaimed by rewind) and its cycles against cms's, over the sweeps of
    FATE_SWEEPS: gen/fate-NAME.dat for fig/fate.gp."""
    worst_forfeit = None   # the largest forfeited fraction at any point
    for name in FATE_SWEEPS:
        rows = sweep_rows(res, name)
        values = sorted({float(r["value"]) for r in rows})
        with open(os.path.join(out, f"fate-{name}.dat"), "w") as f:
            f.write("# value, toc: published %, forfeited %, reclaimed %, cycles; cms cycles (medians)\n")
            if not rows:
                f.write("# no results for this sweep\nNaN NaN NaN NaN NaN NaN\n")
            for v in values:
                pts = lambda m: [r for r in rows if float(r["value"]) == v and r["mode"] == m]
                t = pts("toc")
                if not t:
                    continue
                pub = med([num(r["published_fraction"]) for r in t])
                ff = med([num(r["forfeit_fraction"]) for r in t])
                rec = med([num(r["toc_reclaimed_fraction"]) for r in t])
                cyc = med([num(r["gc_cycles"]) for r in t])
                ccyc = med([num(r["gc_cycles"]) for r in pts("cms")])
                cell = lambda x, k=1.0: "NaN" if x is None else f"{x * k:.3f}"
                f.write(f"{v:g} {cell(pub, 100)} {cell(ff, 100)} {cell(rec, 100)} {cell(cyc)} {cell(ccyc)}\n")
                if ff is not None and (worst_forfeit is None or ff > worst_forfeit):
                    worst_forfeit = ff
    mac.put("fateForfeitMax", fmt(worst_forfeit * 100 if worst_forfeit is not None else None, 1))
    # The most cycles one toc run and one cms run ran at any point of these sweeps.
    for m in ("toc", "cms"):
        c = [num(r["gc_cycles"]) for n in FATE_SWEEPS for r in sweep_rows(res, n) if r["mode"] == m]
        c = [x for x in c if x is not None]
        mac.put(f"fate{m.capitalize()}CyclesMax", fmt(max(c) if c else None))


def memory(res, out, mac):
    """The memory of owned spans against requests in flight (the inflight
    sweep: a goroutine per request): the most bytes toc's windows owned at
    once, and every goroutine mode's peak RSS beside it."""
    rows = sweep_rows(res, "inflight")
    values = sorted({float(r["value"]) for r in rows})
    modes = [m for m in MODES if any(r["mode"] == m for r in rows)]
    lines = []
    for v in values:
        pts = lambda m: [r for r in rows if float(r["value"]) == v and r["mode"] == m]
        own = med([num(r.get("toc_owned_bytes_max")) for r in pts("toc")])
        cells = [fmt(v), fmt(own / 1024 if own is not None else None)]
        cells += [fmt(med([num(r["peak_rss_mb"]) for r in pts(m)])) for m in modes]
        lines.append(" & ".join(cells) + " \\\\")
    with open(os.path.join(out, "tab-memory.tex"), "w") as f:
        f.write("\\begin{tabular}{rr" + "r" * len(modes) + "}\n\\toprule\n")
        f.write(" & toc owned & \\multicolumn{%d}{c}{peak RSS, MiB} \\\\\n" % max(len(modes), 1))
        f.write("in flight & KiB max & " + " & ".join(modes) + " \\\\\n\\midrule\n")
        f.write("\n".join(lines) if lines else "\\multicolumn{2}{c}{no inflight sweep results in this folder} \\\\")
        f.write("\n\\bottomrule\n\\end{tabular}\n")
    t = [med([num(r["peak_rss_mb"]) for r in rows if float(r["value"]) == v and r["mode"] == "toc"]) for v in values]
    c = [med([num(r["peak_rss_mb"]) for r in rows if float(r["value"]) == v and r["mode"] == "cms"]) for v in values]
    ratios = [a / b for a, b in zip(t, c) if a and b]
    lo, hi = (fmt(min(ratios), 2), fmt(max(ratios), 2)) if ratios else ("n/a", "n/a")
    mac.put("memTocOverCmsRss", lo if lo == hi else f"{lo}--{hi}")
    # The chat server at its most connections: what toc's windows owned at
    # once, against the resident memory per connection of each mode.
    chat = read_jsonl(glob.glob(os.path.join(res, "chat", "pauses.jsonl")))
    hi = max((r["connections"] for r in chat), default=None)
    at = lambda m: [r for r in chat if r["connections"] == hi and r["mode"] == m]
    owned = [((r.get("toc") or {}).get("toc_owned_bytes_max")) for r in at("toc")]
    owned = [x for x in owned if x is not None]
    mac.put("memChatConns", fmt(hi))
    mac.put("memChatOwnedKiB", fmt(max(owned) / 1024 if owned else None))
    mac.put("memChatRssToc", fmt(med([r.get("rss_per_conn_kib") for r in at("toc")]), 1))
    mac.put("memChatRssCms", fmt(med([r.get("rss_per_conn_kib") for r in at("cms")]), 1))


def servers(res, out, mac):
    runs = paper_go(read_jsonl(sorted(glob.glob(os.path.join(res, "httpbench", "*", "runs.jsonl")))), "server")
    chat = read_jsonl(glob.glob(os.path.join(res, "chat", "throughput.jsonl")))
    rows = []
    h = {}
    for s in ("toc", "cms", "go"):
        v = [r["figures"] for r in runs if r["server"] == s]
        h[s] = {"rps": med([x["rps"] for x in v]), "p50": med([x["p50_ms"] for x in v]),
                "p99": med([x["p99_ms"] for x in v]), "n": len(v)}
        if v:
            rows.append(f"httpd, {s} & {len(v)} & {fmt(h[s]['rps'])} & {fmt(spread_pct([x['rps'] for x in v]))} & "
                        f"{fmt(h[s]['p50'], 2)} & {fmt(h[s]['p99'], 2)} \\\\")
    for m in ("toc", "cms"):
        v = [r for r in chat if r["mode"] == m]
        if v:
            rows.append(f"chat, {m} & {len(v)} & {fmt(med([r['msgs_per_sec'] for r in v]))} & "
                        f"{fmt(spread_pct([r['msgs_per_sec'] for r in v]))} & "
                        f"{fmt(med([r['delivery_p50_us'] for r in v]), 2, 1e-3)} & "
                        f"{fmt(med([r['delivery_p99_us'] for r in v]), 2, 1e-3)} \\\\")
    with open(os.path.join(out, "tab-servers.tex"), "w") as f:
        f.write("\\begin{tabular}{lrrrrr}\n\\toprule\nserver & runs & per s & spread \\% & p50 ms & p99 ms \\\\\n\\midrule\n")
        f.write("\n".join(rows) if rows else "\\multicolumn{6}{c}{no server results in this folder} \\\\")
        f.write("\n\\bottomrule\n\\end{tabular}\n")
    r = lambda a, b: fmt(a / b if a and b else None, 2)
    mac.put("srvTocOverGo", r(h["toc"]["rps"], h["go"]["rps"]))
    mac.put("srvTocOverCms", r(h["toc"]["rps"], h["cms"]["rps"]))
    mac.put("srvTocRps", fmt(h["toc"]["rps"]))
    mac.put("srvGoRps", fmt(h["go"]["rps"]))
    ct = med([x["msgs_per_sec"] for x in chat if x["mode"] == "toc"])
    cc = med([x["msgs_per_sec"] for x in chat if x["mode"] == "cms"])
    mac.put("chatTocOverCms", r(ct, cc))


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
                        f"{fmt(med([r['rss_per_conn_kib'] for r in v]), 1)} \\\\")
    with open(os.path.join(out, "tab-pauses.tex"), "w") as f:
        f.write("\\begin{tabular}{rlrrrrrrr}\n\\toprule\nconnections & mode & runs & cycles & p99 \\textmu s & "
                "max \\textmu s (median) & max \\textmu s (all) & TTSP max \\textmu s & RSS KiB/conn \\\\\n\\midrule\n")
        f.write("\n".join(rows) if rows else "\\multicolumn{9}{c}{no chat pause results in this folder} \\\\")
        f.write("\n\\bottomrule\n\\end{tabular}\n")
    # The pause distributions: one gnuplot data block per (connections, mode),
    # every run's pauses pooled, sorted, with the cumulative fraction.
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
    if len(conns) >= 2:
        lo, hi = conns[0], conns[-1]
        for m in ("toc", "cms"):
            a = med([r["stw_max_us"] for r in runs if r["connections"] == lo and r["mode"] == m])
            b = med([r["stw_max_us"] for r in runs if r["connections"] == hi and r["mode"] == m])
            mac.put(f"pause{m.capitalize()}Ratio", fmt(b / a if a and b else None, 2))
        mac.put("pauseLoConns", fmt(lo))
        mac.put("pauseHiConns", fmt(hi))
        worst = max((r["stw_ttsp_max_us"] for r in runs if r["connections"] == hi and r.get("stw_ttsp_max_us") is not None),
                    default=None)
        mac.put("pauseTtspWorstMs", fmt(worst / 1e3 if worst is not None else None, 1))
    else:
        for k in ("pauseTocRatio", "pauseCmsRatio", "pauseLoConns", "pauseHiConns", "pauseTtspWorstMs"):
            mac.put(k, "n/a")


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
            rows.append(f"{label} & {len(v)} & {fmt(med(v), 2)} & {fmt(min(v), 2)} & {fmt(max(v), 2)} \\\\")
    with open(os.path.join(out, "tab-barrier.tex"), "w") as f:
        f.write("\\begin{tabular}{lrrrr}\n\\toprule\nstore & runs & median ns & min & max \\\\\n\\midrule\n")
        f.write("\n".join(rows) if rows else "\\multicolumn{5}{c}{no barrierbench results in this folder} \\\\")
        f.write("\n\\bottomrule\n\\end{tabular}\n")
    c = med([r.get("cms_store_ns") for r in runs])
    lo = med([r.get("toc_fast_local_ns") for r in runs])
    pu = med([r.get("toc_fast_public_ns") for r in runs])
    mac.put("barCmsNs", fmt(c, 2))
    mac.put("barLocalNs", fmt(lo, 2))
    mac.put("barPublicNs", fmt(pu, 2))
    mac.put("barPublishNs", fmt(med([r.get("toc_publish_per_object_ns") for r in runs]), 1))
    mac.put("barLocalOverCms", fmt(lo / c if lo and c else None, 2))


def machine(res, out, mac):
    try:
        m = json.load(open(os.path.join(res, "machine.json")))
    except (OSError, ValueError):
        m = {}
    commit = open(os.path.join(res, "commit.txt")).read().strip() if os.path.exists(os.path.join(res, "commit.txt")) else "unknown"
    config = open(os.path.join(res, "config.txt")).read().strip() if os.path.exists(os.path.join(res, "config.txt")) else "unknown"
    esc = lambda s: (str(s).replace("\\", "/").replace("_", "\\_").replace("%", "\\%").replace("&", "\\&")
                     .replace("#", "\\#").replace("--", "-{}-"))
    with open(os.path.join(out, "tab-machine.tex"), "w") as f:
        f.write("\\begin{tabular}{lp{0.68\\columnwidth}}\n\\toprule\n")
        for k, v in (("CPU", m.get("cpu")), ("cores", m.get("cores")), ("memory GiB", m.get("mem_gib")),
                     ("kernel", m.get("kernel")), ("commit", commit), ("configuration", config)):
            f.write(f"{k} & {esc(v if v is not None else 'unknown')} \\\\\n")
        f.write("\\bottomrule\n\\end{tabular}\n")
    mac.put("machCores", esc(m.get("cores", "unknown")))
    mac.put("machCommit", esc(commit))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    res, out = sys.argv[1], sys.argv[2]
    if not os.path.isdir(res):
        sys.exit(f"gen.py: {res}: not a results folder")
    os.makedirs(out, exist_ok=True)
    mac = Macros()
    machine(res, out, mac)
    headline(res, out, mac)
    for s in SWEEPS:
        sweep(res, out, s, mac)
    scheduler(res, mac)
    sweep_spreads(res, mac)
    fate(res, out, mac)
    memory(res, out, mac)
    servers(res, out, mac)
    pauses(res, out, mac)
    barrier(res, out, mac)
    with open(os.path.join(out, "macros.tex"), "w") as f:
        f.write("% generated by paper/lib/gen.py from " + res.replace("%", "") + "\n")
        f.write("\n".join(mac.lines) + "\n")
    missing = [o for o in OUTPUTS if not os.path.exists(os.path.join(out, o))]
    if missing:
        sys.exit(f"gen.py: did not write {', '.join(missing)}")


if __name__ == "__main__":
    main()
