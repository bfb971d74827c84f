"""Summarizes txbench / go-txbench runs (runs.jsonl lines with "program",
"mode" and "result"): per mode the median and spread of each figure, the
ratio of the medians to cms, and the targets of the workloads and TOC
issues. Writes summary.json and prints a table.

usage: summarize_tx.py RUNS.jsonl SUMMARY.json"""
import json
import statistics
import sys

MODES = ["toc", "cms", "stw", "boehm", "arena", "go"]
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


def derived(res):
    """Adds gc_ms_per_mib (GC CPU per allocated MiB) where both are known."""
    a, c = res.get("allocated_mb"), res.get("gc_cpu_seconds")
    res["gc_ms_per_mib"] = c * 1e3 / a if a and c is not None else None
    return res


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(fmtstr, v):
    return "-" if v is None else fmtstr.format(v)


def main(runs_path, summary_path):
    runs = {}
    with open(runs_path) as f:
        for line in f:
            rec = json.loads(line)
            runs.setdefault(rec["mode"], []).append(derived(rec["result"]))
    if "cms" not in runs:
        sys.exit("summarize_tx: no cms runs: the ratios are to cms")
    modes = [m for m in MODES if m in runs]
    med = {m: {k: median([r.get(k) for r in runs[m]]) for k, _, _ in FIGURES} for m in modes}
    spread = {m: {k: (min((r[k] for r in runs[m] if r.get(k) is not None), default=None),
                      max((r[k] for r in runs[m] if r.get(k) is not None), default=None))
                  for k, _, _ in FIGURES} for m in modes}
    extra = {m: {k: median([r.get(k) for r in runs[m]])
                 for k in ("toc_reclaimed_fraction", "published_fraction", "forfeit_fraction")}
             for m in modes}
    cms = med["cms"]

    def ratio(m, k):
        a, b = med[m][k], cms[k]
        return a / b if a is not None and b else None

    print(f"{'mode':<6} {'runs':>4} " + " ".join(f"{t:>11}" for _, t, _ in FIGURES) + f" {'txn/s vs cms':>13}")
    for m in modes:
        row = f"{m:<6} {len(runs[m]):>4} " + " ".join(f"{fmt(f, med[m][k]):>11}" for k, _, f in FIGURES)
        r = ratio(m, "txn_per_sec")
        print(row + f" {fmt('{:.2f}x', r):>13}")
    print()
    print("spread (min-max) of txn/s: " + ", ".join(
        f"{m} {fmt('{:.0f}', spread[m]['txn_per_sec'][0])}-{fmt('{:.0f}', spread[m]['txn_per_sec'][1])}"
        for m in modes))
    if "toc" in extra:
        e = extra["toc"]
        print(f"toc: reclaimed {fmt('{:.3f}', e['toc_reclaimed_fraction'])}, published "
              f"{fmt('{:.3f}', e['published_fraction'])}, forfeited {fmt('{:.3f}', e['forfeit_fraction'])}")

    targets = []

    def target(name, value, limit, ge):
        met = None if value is None else (value >= limit if ge else value <= limit)
        targets.append({"target": name, "value": value, "limit": limit, "met": met})

    def mm(m, k):
        return med.get(m, {}).get(k)

    def div(a, b):
        return a / b if a is not None and b else None

    target("toc txn/s / arena txn/s >= 0.9", div(mm("toc", "txn_per_sec"), mm("arena", "txn_per_sec")), 0.9, True)
    target("toc GC CPU per txn / cms <= 0.2", div(mm("toc", "gc_cpu_us_per_txn"), mm("cms", "gc_cpu_us_per_txn")),
           0.2, False)
    target("cms cycles / toc cycles >= 10", div(mm("cms", "gc_cycles"), mm("toc", "gc_cycles")) if mm("toc", "gc_cycles")
           else (float("inf") if mm("cms", "gc_cycles") else None), 10, True)
    target("cms txn/s / boehm txn/s >= 1.0", div(mm("cms", "txn_per_sec"), mm("boehm", "txn_per_sec")), 1.0, True)
    target("cms GC CPU per MiB / go <= 1.5", div(mm("cms", "gc_ms_per_mib"), mm("go", "gc_ms_per_mib")), 1.5, False)
    target("toc_reclaimed_fraction >= 0.8", extra.get("toc", {}).get("toc_reclaimed_fraction"), 0.8, True)
    print()
    for t in targets:
        met = "-" if t["met"] is None else ("met" if t["met"] else "MISSED")
        print(f"  {t['target']:<36} {fmt('{:.3f}', t['value']):>9}   {met}")
    summary = {"runs": {m: len(runs[m]) for m in modes}, "median": med, "spread": spread,
               "ratio_to_cms": {m: {k: ratio(m, k) for k, _, _ in FIGURES} for m in modes},
               "toc": extra.get("toc"), "targets": targets}
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1, default=lambda v: None)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
