"""Where toc stops paying against cms, from a pubshare sweep (workloads/sweep
pubshare): per point of --publish-bytes-pct, the ratios toc/cms of
throughput and of peak RSS, each with its bootstrap 95% interval
(stats.ratio_ci; none under stats.MIN_RUNS runs a side), toc's measured
published fraction (median), and the share at which the throughput ratio
crosses 1.0, interpolated linearly between the two points around the
crossing, both in the knob's share and in toc's measured one. Where the
points have intervals, the shares at which the interval's bounds cross 1.0
bound the crossing roughly (the points are not independent of one another,
so this is no confidence interval).

With --model=G,C (cost units per byte, e.g. instructions): the break-even a
barrier-cost model predicts. toc gains G per byte of window garbage (what
cms spends collecting it, less toc's rewind) and pays C per published byte
(the publishing walk and its bits): a request allocating A bytes, a share p
of them published, gains G (1 - p) A - C p A, which is 0 at p = G / (G + C).
docs/log/2026-12-pubshare.md says how G and C were counted.

Writes breakeven.json beside points.csv and prints a table.

usage: breakeven.py SWEEP_DIR [--model=G,C]"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def crossing(xs, ys):
    """The x at which ys first falls through 1.0 (from >= 1 to < 1),
    interpolated linearly between the points around it; None if it does
    not in the range (or a y is unknown there)."""
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if None in (x0, y0, x1, y1):
            continue
        if y0 >= 1.0 > y1:
            return x0 + (y0 - 1.0) / (y0 - y1) * (x1 - x0)
    return None


def fmt_cell(c):
    if c["median"] is None:
        return "-"
    text = f"{c['median']:.3f}"
    if c["ci95_low"] is not None:
        text += f" [{c['ci95_low']:.3f}, {c['ci95_high']:.3f}]"
    return text


def fmt_x(x, unit=""):
    return "none in the range" if x is None else f"{x:.1f}{unit}"


def parse_model(arg):
    try:
        g, c = (float(v) for v in arg.split(","))
    except ValueError:
        sys.exit(f"breakeven: --model={arg}: expected G,C (two numbers, cost per byte)")
    if g <= 0 or c <= 0:
        sys.exit(f"breakeven: --model={arg}: G and C must be more than 0")
    return g, c


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.exit(__doc__)
    folder, model = argv[1], None
    for a in argv[2:]:
        if a.startswith("--model="):
            model = parse_model(a.partition("=")[2])
        else:
            sys.exit(f"breakeven: unknown argument '{a}'\n\n{__doc__}")
    with open(os.path.join(folder, "points.csv")) as f:
        rows = list(csv.DictReader(f))
    modes = {r["mode"] for r in rows}
    if not {"toc", "cms"} <= modes:
        sys.exit(f"breakeven: {folder}/points.csv needs runs of toc and of cms (it has {' '.join(sorted(modes))})")
    points = sorted({r["value"] for r in rows}, key=float)

    def runs(v, mode, key):
        return [num(r.get(key)) for r in rows if r["value"] == v and r["mode"] == mode]

    out = {"folder": folder, "flag": rows[0]["flag"], "points": []}
    print(f"{folder}: toc/cms, median [95% interval] (none under {stats.MIN_RUNS} runs a side)")
    print(f"{'share %':>8} {'toc pub.':>9}  {'throughput toc/cms':<28} {'peak RSS toc/cms':<28}")
    for v in points:
        p = {"value": float(v), "published_fraction": stats.median(runs(v, "toc", "published_fraction")),
             "txn_per_sec": stats.ratio_ci(runs(v, "toc", "txn_per_sec"), runs(v, "cms", "txn_per_sec")),
             "peak_rss_mb": stats.ratio_ci(runs(v, "toc", "peak_rss_mb"), runs(v, "cms", "peak_rss_mb"))}
        out["points"].append(p)
        pf = p["published_fraction"]
        print(f"{v:>8} {'-' if pf is None else f'{pf:.3f}':>9}  {fmt_cell(p['txn_per_sec']):<28} "
              f"{fmt_cell(p['peak_rss_mb']):<28}")

    xs = [p["value"] for p in out["points"]]
    pfs = [None if p["published_fraction"] is None else 100 * p["published_fraction"] for p in out["points"]]
    tput = [p["txn_per_sec"] for p in out["points"]]
    be = {"knob_pct": crossing(xs, [c["median"] for c in tput]),
          "published_pct": crossing(pfs, [c["median"] for c in tput])}
    if all(c["ci95_low"] is not None for c in tput):
        be["knob_pct_bounds"] = [crossing(xs, [c["ci95_low"] for c in tput]),
                                 crossing(xs, [c["ci95_high"] for c in tput])]
    out["break_even"] = be
    print(f"\nthroughput toc/cms crosses 1.0 at --publish-bytes-pct {fmt_x(be['knob_pct'])}, "
          f"toc's published fraction {fmt_x(be['published_pct'], '%')}")
    if "knob_pct_bounds" in be:
        lo, hi = be["knob_pct_bounds"]
        print(f"  its intervals' lower bounds cross at {fmt_x(lo)}, their upper bounds at {fmt_x(hi)}")
    if model:
        g, c = model
        out["model"] = {"gain_per_local_byte": g, "cost_per_published_byte": c,
                        "break_even_published_pct": 100 * g / (g + c)}
        print(f"model: G {g:g}, C {c:g} per byte: break-even at {100 * g / (g + c):.1f}% of the bytes published")
    with open(os.path.join(folder, "breakeven.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
