"""The barrier-cost model's two figures, counted with callgrind (instruction
counts repeat from run to run, unlike times on a shared machine), for
breakeven.py --model=G,C (docs/log/2026-12-pubshare.md).

txbench runs under callgrind at --procs=1 in toc and cms mode, at
--publish-bytes-pct 0 and HIGH, each at two request counts: the difference
of two runs over the difference of their requests is the instructions per
request, the store's build and the start-up cancelled out. Then, per byte:

  G       what toc gains per byte of window garbage: cms's instructions per
          request less toc's at 0 (where toc publishes almost nothing), over
          toc's window bytes per request (toc_local_bytes);
  C_walk  the publishing walk: the instructions under toc_publish_in per
          request at HIGH (inclusive), over the bytes it published;
  C       everything toc pays per published byte, from the difference at
          HIGH: with A window bytes per request and p of them published,
          cms - toc = G (1 - p) A - C p A, so C = (G (1 - p) A - (cms - toc)) / (p A).

The model's break-even is p = G / (G + C) (breakeven.py); with C_walk in
place of C it is what the walk alone would allow. Where toc's instructions
per request differ from cms's, at 0 and at HIGH, by the functions' own
(exclusive) counts in GROUPS, goes to stderr with the figures.

usage: pubshare_model.py BINDIR [--high=P] [--requests=N1,N2] [--live-mb=M] [--churn-mb=M]
  (defaults: 50, 3000,9000, 32, 4: the sweep's store and ring scaled down 8x)"""
import json
import os
import re
import subprocess
import sys
import tempfile


def fail(msg):
    sys.exit(f"pubshare_model: {msg}")


def parse(argv):
    o = {"high": 50, "requests": (3000, 9000), "live_mb": 32, "churn_mb": 4}
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.exit(__doc__)
    o["bindir"] = argv[1]
    for a in argv[2:]:
        k, _, v = a.partition("=")
        try:
            if k == "--high":
                o["high"] = int(v)
            elif k == "--requests":
                o["requests"] = tuple(int(x) for x in v.split(","))
            elif k in ("--live-mb", "--churn-mb"):
                o[k[2:].replace("-", "_")] = int(v)
            else:
                fail(f"unknown argument '{a}'")
        except ValueError:
            fail(f"{a}: expected integers")
    if not 0 < o["high"] <= 90:
        fail(f"--high={o['high']}: a share 1..90")
    if len(o["requests"]) != 2 or not 0 < o["requests"][0] < o["requests"][1]:
        fail("--requests=N1,N2: two request counts, N1 < N2")
    return o


# The collector's and the layer's functions by what they do (toc and cms
# share the marking, sweeping and allocation code; "handler and the rest"
# holds the handler, where toc's barrier fast path is inlined).
GROUPS = {
    "publish walk": ["toc_publish_in", "gc_layer_object_fields", "wl_push", "gc_layer_span_publish", "push_local"],
    "barrier slow paths": ["toc_store", "gc_store_slow"],
    "marking": ["gc_scan_object.part.0", "gc_scan_object", "gc_shade_obj", "gc_drain", "scan_offsets", "gc_shade"],
    "sweeping": ["gc_layer_span_sweep", "gc_sweep_span", "forget_dead"],
    "rewind": ["gc_layer_span_rewind", "rewind_spans"],
    "allocation": ["alloc_small", "alloc_mid", "gc_alloc_raw", "gc_heap_alloc", "gc_span_refill_cache", "toc_refill",
                   "toc_carve"],
}


def functions(outfile, inclusive=False):
    """Each function's instruction count in callgrind's OUTFILE (exclusive,
    or inclusive), by bare name, and the total under "PROGRAM TOTALS"."""
    text = subprocess.run(["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--auto=no",
                           "--threshold=100", outfile], capture_output=True, text=True, check=True).stdout
    d = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*)$", line)
        if not m or re.search(r"\([\d,]+x\)", line):   # a call tree's line, not a function's
            continue
        name = m.group(2).split(" [")[0].split(":")[-1].replace("'2", "")
        d[name] = d.get(name, 0) + int(m.group(1).replace(",", ""))
    return d


def grouped(fns):
    g = {k: sum(fns.get(f, 0) for f in v) for k, v in GROUPS.items()}
    g["handler and the rest"] = fns.get("PROGRAM TOTALS", 0) - sum(g.values())
    return g


def run(o, tmp, mode, pct, n):
    out = os.path.join(tmp, f"cg-{mode}-{pct}-{n}.out")
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           os.path.join(o["bindir"], "txbench"), f"--mode={mode}", "--procs=1", f"--live-mb={o['live_mb']}",
           f"--churn-mb={o['churn_mb']}", f"--requests={n}", f"--publish-bytes-pct={pct}", "--seed=1", "--json"]
    env = dict(os.environ, TOC_MAX_GOROUTINES="1024")   # valgrind's memory: a smaller goroutine table
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited with {p.returncode}: {p.stderr[-2000:]}")
    with open(out) as f:
        total = next(int(line.split()[1]) for line in f if line.startswith(("summary:", "totals:")))
    d = json.loads(p.stdout)
    print(f"  {mode} at {pct}%, {n} requests: {total:,} instructions", file=sys.stderr, flush=True)
    incl = functions(out, inclusive=True) if mode == "toc" else {}
    return {"ir": total, "publish_ir": incl.get("toc_publish_in", 0), "groups": grouped(functions(out)),
            "toc": d.get("toc") or {}, "json": d}


def per_request(lo, hi, n_lo, n_hi, get):
    return (get(hi) - get(lo)) / (n_hi - n_lo)


def main(argv):
    o = parse(argv)
    n1, n2 = o["requests"]
    r = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("toc", "cms"):
            for pct in (0, o["high"]):
                r[mode, pct] = {n: run(o, tmp, mode, pct, n) for n in (n1, n2)}

    def req(mode, pct, get):
        return per_request(r[mode, pct][n1], r[mode, pct][n2], n1, n2, get)

    ir = lambda x: x["ir"]
    local = lambda x: x["toc"].get("toc_local_bytes", 0)
    pub = lambda x: x["toc"].get("toc_published_bytes", 0)
    hi = o["high"]
    a0, a_hi = req("toc", 0, local), req("toc", hi, local)
    p_hi = req("toc", hi, pub) / a_hi
    d0 = req("cms", 0, ir) - req("toc", 0, ir)
    d_hi = req("cms", hi, ir) - req("toc", hi, ir)
    g = d0 / a0
    c = (g * (1 - p_hi) * a_hi - d_hi) / (p_hi * a_hi)
    c_walk = req("toc", hi, lambda x: x["publish_ir"]) / req("toc", hi, pub)
    res = {"requests": [n1, n2], "high_pct": hi, "live_mb": o["live_mb"], "churn_mb": o["churn_mb"],
           "instructions_per_request": {f"{m}_{p}": req(m, p, ir) for m in ("toc", "cms") for p in (0, hi)},
           "window_bytes_per_request": {"0": a0, str(hi): a_hi}, "published_fraction_high": p_hi,
           "G": g, "C": c, "C_walk": c_walk,
           "break_even_pct": 100 * g / (g + c) if g > 0 and c > 0 else None,
           "break_even_walk_only_pct": 100 * g / (g + c_walk) if g > 0 else None}
    if res["break_even_pct"] is None:
        fail(f"G {g:.2f} and C {c:.2f} per byte: the model has no break-even (toc gains nothing at 0%, "
             f"or loses nothing per published byte)")
    for pct in (0, hi):
        res[f"toc_less_cms_by_group_{pct}"] = {
            k: req("toc", pct, lambda x: x["groups"][k]) - req("cms", pct, lambda x: x["groups"][k])
            for k in r["toc", pct][n1]["groups"]}
        print(f"toc - cms at {pct}%, instructions per request: " + ", ".join(
            f"{k} {v:.0f}" for k, v in res[f"toc_less_cms_by_group_{pct}"].items()), file=sys.stderr)
    print(json.dumps(res, indent=1))
    print(f"G {g:.2f} instructions per window byte; C {c:.2f} per published byte (the walk alone: "
          f"{c_walk:.2f}); break-even at {res['break_even_pct']:.1f}% published "
          f"(the walk alone: {res['break_even_walk_only_pct']:.1f}%)\n"
          f"  breakeven.py SWEEP_DIR --model={g:.3f},{c:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
