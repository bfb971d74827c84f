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

The barrier-cost model: toc gains G per byte of window garbage (what cms
spends collecting it, less toc's rewind) and pays C per published byte (the
publishing walk and its bits, and whatever else publishing costs it): a
request allocating A bytes, a share p of them published, gains
G (1 - p) A - C p A, which is 0 at p = G / (G + C). The script fits G and C
in time to the sweep's first and last points (the medians' time per request
of each mode, toc's kb_per_txn and published fraction) and prints the
break-even they predict for the points between; with --model=G,C (cost per
byte, e.g. the instructions pubshare_model.py counts) it also prints that
model's. docs/log/2026-12-pubshare.md says how they compare.

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
    return stats.cell_text(c, ".3f")


def fmt_x(x, unit=""):
    return "none in the range" if x is None else f"{x:.1f}{unit}"


def fit_ends(ends):
    """G and C in ns per byte from two points, each (time per request of
    cms less toc's in ns, window bytes per request, published fraction):
    the two equations gain = G (1 - p) A - C p A, solved. None if they are
    degenerate."""
    (d0, a0, p0), (d1, a1, p1) = ends
    # [ (1-p0) a0  -p0 a0 ] [G]   [d0]
    # [ (1-p1) a1  -p1 a1 ] [C] = [d1]
    m00, m01, m10, m11 = (1 - p0) * a0, -p0 * a0, (1 - p1) * a1, -p1 * a1
    det = m00 * m11 - m01 * m10
    if not det:
        return None
    return (d0 * m11 - m01 * d1) / det, (m00 * d1 - m10 * d0) / det


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
    ends = []
    for v in (points[0], points[-1]):
        t_toc, t_cms = stats.median(runs(v, "toc", "txn_per_sec")), stats.median(runs(v, "cms", "txn_per_sec"))
        a, p = stats.median(runs(v, "toc", "kb_per_txn")), stats.median(runs(v, "toc", "published_fraction"))
        if None in (t_toc, t_cms, a, p) or not t_toc or not t_cms:
            break
        ends.append((1e9 / t_cms - 1e9 / t_toc, 1024 * a, p))
    fit = fit_ends(ends) if len(ends) == 2 else None
    if fit:
        g, c = fit
        pred = 100 * g / (g + c) if g > 0 and g + c > 0 else None
        out["model_fitted_to_ends"] = {"G_ns_per_byte": g, "C_ns_per_byte": c, "break_even_published_pct": pred}
        print(f"model fitted in time to the points {points[0]} and {points[-1]}: G {g:.3f} ns per window byte, "
              f"C {c:.3f} ns per published byte: break-even at {fmt_x(pred, '%')} published")
    if model:
        g, c = model
        out["model"] = {"gain_per_local_byte": g, "cost_per_published_byte": c,
                        "break_even_published_pct": 100 * g / (g + c)}
        print(f"model given: G {g:g}, C {c:g} per byte: break-even at {100 * g / (g + c):.1f}% published")
    with open(os.path.join(folder, "breakeven.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
