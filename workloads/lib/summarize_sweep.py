"""Summarizes a sweep's points.csv: per point and mode, the median of each
figure with its bootstrap 95% interval (stats.py; none under 5 runs), and
each mode's ratio to cms with its interval. Writes summary.json beside the
CSV and prints a table.

usage: summarize_sweep.py SWEEP_DIR [FIGURE ...]
  (default figures: txn_per_sec peak_rss_mb gc_cycles gc_cpu_us_per_txn
   marking_fraction toc_reclaimed_fraction forfeit_fraction
   marking_bytes_fraction)"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402

DEFAULT = ["txn_per_sec", "peak_rss_mb", "gc_cycles", "gc_cpu_us_per_txn", "marking_fraction",
           "toc_reclaimed_fraction", "forfeit_fraction", "marking_bytes_fraction"]
RATIOS = ["txn_per_sec", "peak_rss_mb"]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(c):
    return stats.cell_text(c, ".4g", mark_wide=True)


def main(folder, figures):
    with open(os.path.join(folder, "points.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"summarize_sweep: {folder}/points.csv has no rows")
    points = sorted({r["value"] for r in rows}, key=float)
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    out = {"folder": folder, "figures": figures, "points": {}}
    print(f"{folder}: median [95% interval] of each figure; * an interval wider than +-5%")
    for v in points:
        at = [r for r in rows if r["value"] == v]
        cells = {m: {k: stats.median_ci([num(r.get(k)) for r in at if r["mode"] == m]) for k in figures}
                 for m in modes}
        ratios = {}
        if "cms" in modes:
            for m in modes:
                if m != "cms":
                    ratios[m] = {k: stats.ratio_ci([num(r.get(k)) for r in at if r["mode"] == m],
                                                   [num(r.get(k)) for r in at if r["mode"] == "cms"])
                                 for k in RATIOS}
        out["points"][v] = {"modes": cells, "ratio_to_cms": ratios}
        print(f"\n{rows[0]['flag']}={v}")
        for m in modes:
            runs = cells[m][figures[0]]["runs"]
            print(f"  {m:<20} ({runs} runs) " + "; ".join(f"{k} {fmt(cells[m][k])}" for k in figures
                                                          if cells[m][k]["median"] is not None))
        for m, rc in ratios.items():
            print(f"  {m}/cms: " + "; ".join(f"{k} {fmt(c)}" for k, c in rc.items()))
    with open(os.path.join(folder, "summary.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:] or DEFAULT)
