"""The heap-size curves of a gogc (or live) sweep: per mode and point the
median throughput, CPU per transaction and peak RSS with their bootstrap 95%
intervals, and toc against each other mode at equal RSS.

usage: heapcurve.py SWEEP_DIR [--base=cms] [--new=toc]
  SWEEP_DIR: a folder written by workloads/sweep (its jobs/*.json)
writes SWEEP_DIR/heapcurve.json, heapcurve.txt and one heapcurve-MODE.dat
(gnuplot columns: point, rss, rss_lo, rss_hi, txn_per_sec, lo, hi,
cpu_us_per_txn, lo, hi) per mode, and prints the table.

Equal RSS: a mode's points are (median peak RSS, median txn/s). Peak RSS
need not grow with GOGC (a pacer that falls behind at a small GOGC runs the
heap past its goal), so no line is drawn through them in GOGC's order.
Instead, for each of NEW's points, BASE's best throughput at no more memory:
the highest median txn/s among BASE's points whose median peak RSS is at
most NEW's (the frontier of what BASE achieves within that memory, no
interpolation). A point below all of BASE's RSS has no ratio."""
import glob
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stats  # noqa: E402


def fail(msg):
    print(f"heapcurve.py: {msg}", file=sys.stderr)
    sys.exit(2)


def load(folder):
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, "jobs", "*.json"))):
        with open(path) as f:
            lines = [x for x in f.read().splitlines() if x.startswith("{")]
        if not lines:
            continue
        d = json.loads(lines[-1])
        r = d["result"]
        n = r.get("transactions") or 0
        cpu = r.get("proc_cpu_seconds")
        runs.append({"mode": d["mode"], "point": float(d["value"]), "txn_per_sec": r.get("txn_per_sec"),
                     "cpu_us_per_txn": cpu * 1e6 / n if cpu is not None and n else None,
                     "gc_cpu_us_per_txn": r.get("gc_cpu_us_per_txn"), "peak_rss_mb": r.get("peak_rss_mb"),
                     "gc_cycles": r.get("gc_cycles"), "commit": d.get("commit"), "flag": d.get("flag")})
    if not runs:
        fail(f"no job results in {folder}/jobs")
    return runs


def curves(runs):
    out = {}
    for m in sorted({r["mode"] for r in runs}):
        pts = []
        for p in sorted({r["point"] for r in runs if r["mode"] == m}):
            rs = [r for r in runs if r["mode"] == m and r["point"] == p]
            c = {"point": p}
            for k in ("txn_per_sec", "cpu_us_per_txn", "gc_cpu_us_per_txn", "peak_rss_mb", "gc_cycles"):
                c[k] = stats.median_ci([r[k] for r in rs])
            pts.append(c)
        out[m] = pts
    return out


def best_within(curve, rss):
    """BASE's highest median txn/s at a median peak RSS of at most rss, and
    that point; (None, None) when every point of BASE uses more."""
    pts = [p for p in curve if p["peak_rss_mb"]["median"] is not None and p["txn_per_sec"]["median"] is not None
           and p["peak_rss_mb"]["median"] <= rss]
    if not pts:
        return None, None
    p = max(pts, key=lambda q: q["txn_per_sec"]["median"])
    return p["txn_per_sec"]["median"], p


def equal_rss(cs, base, new):
    rows = []
    for p in cs.get(new, []):
        rss, tps = p["peak_rss_mb"]["median"], p["txn_per_sec"]["median"]
        b, bp = best_within(cs.get(base, []), rss) if rss is not None else (None, None)
        rows.append({"point": p["point"], "rss_mb": rss, "new_txn_per_sec": tps, "base_txn_per_sec": b,
                     "base_point": bp["point"] if bp else None,
                     "base_rss_mb": bp["peak_rss_mb"]["median"] if bp else None,
                     "ratio": tps / b if b and tps is not None else None})
    return rows


def cell(c, p=0):
    return stats.cell_text(c, f".{p}f")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(argv) >= 2 else 2)
    folder, base, new = argv[1], "cms", "toc"
    for a in argv[2:]:
        k, _, v = a.partition("=")
        if k == "--base" and v:
            base = v
        elif k == "--new" and v:
            new = v
        else:
            fail(f"unknown option '{a}'")
    runs = load(folder)
    cs = curves(runs)
    for m in (base, new):
        if m not in cs:
            fail(f"no runs of mode {m} in {folder} (modes: {', '.join(cs)})")
    others = [m for m in cs if m != new]
    eq = {b: equal_rss(cs, b, new) for b in others}
    flag = runs[0]["flag"]
    commits = sorted({r["commit"] for r in runs})
    lines = [f"heap-size curves from {folder} ({flag}; commit {', '.join(commits)}): medians with bootstrap 95% "
             f"intervals", f"{'mode':<22}{'point':>6} {'txn/s':>26} {'CPU us/txn':>22} {'GC us/txn':>22} "
             f"{'peak RSS MiB':>22} {'cycles':>6}"]
    for m, pts in cs.items():
        for p in pts:
            lines.append(f"{m:<22}{p['point']:>6g} {cell(p['txn_per_sec']):>26} {cell(p['cpu_us_per_txn'], 2):>22} "
                         f"{cell(p['gc_cpu_us_per_txn'], 2):>22} {cell(p['peak_rss_mb']):>22} "
                         f"{cell(p['gc_cycles']):>6}")
    for b in others:
        lines.append("")
        lines.append(f"{new} against {b}'s best within the same peak RSS:")
        for r in eq[b]:
            lines.append(f"  {flag}={r['point']:g}: {new} at {r['rss_mb']:.0f} MiB: {r['new_txn_per_sec']:.0f} txn/s; "
                         + (f"{b}'s best within it {r['base_txn_per_sec']:.0f} ({flag}={r['base_point']:g}, "
                            f"{r['base_rss_mb']:.0f} MiB): {r['ratio']:.2f}x" if r["ratio"]
                            else f"every point of {b} uses more"))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(folder, "heapcurve.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(folder, "heapcurve.json"), "w") as f:
        json.dump({"folder": folder, "flag": flag, "commits": commits, "curves": cs, "equal_rss": eq,
                   "base": base, "new": new}, f, indent=1)
    for m, pts in cs.items():
        with open(os.path.join(folder, f"heapcurve-{m}.dat"), "w") as f:
            f.write("# point rss rss_lo rss_hi txn_per_sec lo hi cpu_us_per_txn lo hi\n")
            for p in pts:
                vals = [p["point"]]
                for k in ("peak_rss_mb", "txn_per_sec", "cpu_us_per_txn"):
                    c = p[k]
                    vals += [c["median"], c["ci95_low"], c["ci95_high"]]
                f.write(" ".join("nan" if v is None else f"{v:g}" for v in vals) + "\n")
    print(text, end="")


if __name__ == "__main__":
    main(sys.argv)
