"""Summarizes txbench / go-txbench runs (runs.jsonl lines with "program",
"mode" and "result"; workloads/bench writes them): per mode the median of
each figure with its bootstrap 95% confidence interval, the ratio of each
median to cms's with its interval, cms against each Go build, and the
targets of the workloads and TOC issues (stats.py says how the intervals
are made). Writes summary.json and prints the tables.

summary.json: "modes" and "ratio_to_cms" hold, per mode and figure, a cell
{"median", "ci95_low", "ci95_high", "runs"} (no interval under 5 runs: the
bounds are null); "cms_over_go" the same for cms's GC CPU per MiB and peak
RSS over each Go build's; "wide_ci" the cells whose interval reaches past
+-5% of the median; "seed" the seed of the run order; "go_versions" the
exact Go of each Go mode; "targets" and "toc" as printed.

usage: summarize_tx.py RUNS.jsonl SUMMARY.json"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

# Modes in table order; the Go builds (go1.26, go1.26-nogreenteagc, go1.19,
# or "go" in older results) follow in the order they first ran.
MODES = ["toc", "cms", "stw", "boehm", "arena"]
# key in the result, column title, format
FIGURES = [
    ("txn_per_sec", "txn/s", "{:.0f}"),
    ("gc_cpu_us_per_txn", "GC us/txn", "{:.2f}"),
    ("gc_ms_per_mib", "GC ms/MiB", "{:.3f}"),
    ("gc_cycles", "cycles", "{:.0f}"),
    ("txn_p99_us", "p99 us", "{:.0f}"),
    ("stw_max_us", "STW max us", "{:.0f}"),
    ("peak_rss_mb", "RSS MiB", "{:.0f}"),
]
TITLE = {k: t for k, t, _ in FIGURES}
W = 11  # column width
MW = 20  # mode column width (go1.26-nogreenteagc)


def derived(res):
    """Adds gc_ms_per_mib (GC CPU per allocated MiB) where both are known."""
    a, c = res.get("allocated_mb"), res.get("gc_cpu_seconds")
    res["gc_ms_per_mib"] = c * 1e3 / a if a and c is not None else None
    return res


def is_go(mode):
    return mode.startswith("go")


def go_order(mode):
    """Go modes newest toolchain first, its default build before its
    experiments: go1.26, go1.26-nogreenteagc, go1.19 (older results: go)."""
    m = re.match(r"go(\d+)\.(\d+)", mode)
    return (-int(m.group(1)), -int(m.group(2)), mode) if m else (0, 0, mode)


def fmt(fmtstr, v):
    return "-" if v is None else fmtstr.format(v)


def rel_ci(c):
    """A median's interval as -x/+y% of it ("0" for a [0, 0] at 0)."""
    m, lo, hi = c["median"], c["ci95_low"], c["ci95_high"]
    if m is None or lo is None:
        return ""
    if m == 0:
        return "0" if lo == hi == 0 else f"{lo:.3g}-{hi:.3g}"
    d, u = (m - lo) / abs(m) * 100, (hi - m) / abs(m) * 100
    digits = 1 if max(d, u) < 10 else 0
    return f"-{d:.{digits}f}/+{u:.{digits}f}%"


def num(v):
    """A ratio with three significant digits at most, two decimals at least."""
    return "-" if v is None else f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def abs_ci(c):
    return "" if c["ci95_low"] is None else f"{num(c['ci95_low'])}-{num(c['ci95_high'])}"


def table(title, modes, cells, value_fmt, ci_fmt, runs):
    """Prints one row of values per mode and under it a row of intervals;
    a value whose interval is wide carries a '*'. VALUE_FMT(v) formats a
    value, or None: the figure's own format."""
    print(title)
    few = all(runs[m] < stats.MIN_RUNS for m in modes)
    if few:
        print(f"(fewer than {stats.MIN_RUNS} runs of every mode: no confidence intervals)")
    print(f"{'mode':<{MW}} {'runs':>4} " + " ".join(f"{t:>{W}}" for _, t, _ in FIGURES))
    for m in modes:
        vals, cis = [], []
        for k, _, f in FIGURES:
            c = cells[m][k]
            v = value_fmt(c["median"]) if value_fmt else fmt(f, c["median"])
            vals.append(v + ("*" if stats.wide(c) else " "))
            cis.append(ci_fmt(c))
        print(f"{m:<{MW}} {runs[m]:>4} " + " ".join(f"{v:>{W}}" for v in vals))
        if few:
            continue
        if runs[m] < stats.MIN_RUNS:
            print(f"{'':<{MW}} {'':>4}  (fewer than {stats.MIN_RUNS} runs: no confidence interval)")
        else:
            print(f"{'':<{MW}} {'':>4} " + " ".join(f"{c:>{W - 1}} " for c in cis))


def main(runs_path, summary_path):
    runs, versions, seeds = {}, {}, set()
    with open(runs_path) as f:
        for line in f:
            rec = json.loads(line)
            runs.setdefault(rec["mode"], []).append(derived(rec["result"]))
            if rec.get("go_version"):
                versions[rec["mode"]] = rec["go_version"]
            if rec.get("seed") is not None:
                seeds.add(rec["seed"])
    if "cms" not in runs:
        sys.exit("summarize_tx: no cms runs: the ratios are to cms")
    modes = [m for m in MODES if m in runs] + sorted((m for m in runs if m not in MODES), key=go_order)
    gos = [m for m in modes if is_go(m)]
    n = {m: len(runs[m]) for m in modes}
    vals = {m: {k: [r.get(k) for r in runs[m]] for k, _, _ in FIGURES} for m in modes}
    cells = {m: {k: stats.median_ci(vals[m][k]) for k, _, _ in FIGURES} for m in modes}
    ratios = {m: {k: stats.ratio_ci(vals[m][k], vals["cms"][k]) for k, _, _ in FIGURES}
              for m in modes if m != "cms"}
    cms_go = {g: {k: stats.ratio_ci(vals["cms"][k], vals[g][k]) for k in ("gc_ms_per_mib", "peak_rss_mb")}
              for g in gos}
    extra = {m: {k: stats.median([r.get(k) for r in runs[m]])
                 for k in ("toc_reclaimed_fraction", "published_fraction", "forfeit_fraction")}
             for m in modes}

    order = f"order randomized per round, seed {', '.join(map(str, sorted(seeds)))}" if seeds else "order not recorded"
    table(f"medians ({order}); below each, its 95% bootstrap interval; * = interval past +-{stats.WIDE:.0%}",
          modes, cells, None, rel_ci, n)
    print()
    table("ratio of each median to cms's; below, its 95% interval (both sides resampled)",
          list(ratios), ratios, num, abs_ci, n)
    wide = {}
    for what, table_cells in (("", cells), ("/cms", ratios)):
        for m in table_cells:
            ks = [k for k, c in table_cells[m].items() if stats.wide(c)]
            if ks:
                wide[m + what] = ks
    if wide:
        print(f"\nintervals wider than +-{stats.WIDE:.0%} of the median (* above; "
              f"{sum(map(len, wide.values()))} cells):")
        for m, ks in wide.items():
            print(f"  {m:<{MW + 4}} {', '.join(TITLE[k] for k in ks)}")
    if versions:
        print("\nGo builds: " + ", ".join(f"{m} = {versions[m]}" for m in gos if m in versions))
    if gos:
        print("cms against each Go build (cms / Go, ratio of medians, 95% interval):")
        for g in gos:
            cg = cms_go[g]
            print(f"  {g:<{MW}} GC CPU per MiB {fmt('{:.2f}', cg['gc_ms_per_mib']['median'])} "
                  f"[{abs_ci(cg['gc_ms_per_mib']) or 'no CI'}]   peak RSS "
                  f"{fmt('{:.2f}', cg['peak_rss_mb']['median'])} [{abs_ci(cg['peak_rss_mb']) or 'no CI'}]")
    if "toc" in extra:
        e = extra["toc"]
        print(f"toc: reclaimed {fmt('{:.3f}', e['toc_reclaimed_fraction'])}, published "
              f"{fmt('{:.3f}', e['published_fraction'])}, forfeited {fmt('{:.3f}', e['forfeit_fraction'])}")

    targets = []

    def target(name, c, limit, ge):
        v = c["median"] if c else None
        met = None if v is None else (v >= limit if ge else v <= limit)
        targets.append({"target": name, "value": v, "ci95_low": c and c["ci95_low"],
                        "ci95_high": c and c["ci95_high"], "limit": limit, "met": met})

    def ratio(a, ka, b, kb=None):
        return stats.ratio_ci(vals[a][ka], vals[b][kb or ka]) if a in vals and b in vals else None

    target("toc txn/s / arena txn/s >= 0.9", ratio("toc", "txn_per_sec", "arena"), 0.9, True)
    target("toc GC CPU per txn / cms <= 0.2", ratio("toc", "gc_cpu_us_per_txn", "cms"), 0.2, False)
    cycles = ratio("cms", "gc_cycles", "toc")
    if cycles and cycles["median"] is None and cells.get("toc") and cells["cms"]["gc_cycles"]["median"]:
        cycles = stats.cell(float("inf"), None, None, cycles["runs"])   # toc ran no cycle
    target("cms cycles / toc cycles >= 10", cycles, 10, True)
    target("cms txn/s / boehm txn/s >= 1.0", ratio("cms", "txn_per_sec", "boehm"), 1.0, True)
    for g in gos:
        target(f"cms GC CPU per MiB / {g} <= 1.5", cms_go[g]["gc_ms_per_mib"], 1.5, False)
    target("toc_reclaimed_fraction >= 0.8",
           stats.median_ci([r.get("toc_reclaimed_fraction") for r in runs["toc"]]) if "toc" in runs else None,
           0.8, True)
    print()
    for t in targets:
        met = "-" if t["met"] is None else ("met" if t["met"] else "MISSED")
        ci = f"[{t['ci95_low']:.3f}, {t['ci95_high']:.3f}]" if t["ci95_low"] is not None else ""
        print(f"  {t['target']:<48} {fmt('{:.3f}', t['value']):>9} {ci:<17} {met}")
    summary = {"runs": n, "seed": sorted(seeds)[0] if len(seeds) == 1 else sorted(seeds),
               "go_versions": versions, "modes": cells, "ratio_to_cms": ratios, "cms_over_go": cms_go,
               "wide_ci": [{"mode": m, "figures": ks} for m, ks in wide.items()], "toc": extra.get("toc"), "targets": targets,
               "bootstrap": {"resamples": stats.RESAMPLES, "seed": stats.BOOTSTRAP_SEED,
                             "min_runs": stats.MIN_RUNS, "interval": "percentile, 95%", "wide": stats.WIDE}}
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1, default=lambda v: None)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
