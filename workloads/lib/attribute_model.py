"""The model workloads/attribute turns counts into microseconds with, and
the attribution it yields (docs/measurement.md, "Attribution").

A configuration's mutator CPU per transaction (timed: the process's CPU
less the collector's four accounts) is modelled as

    mutator_us = f * faults + (alpha * Ir + gamma * (D1 misses - LL misses) + beta * LL misses) / 1000

with faults from the timed runs, Ir and misses from cachegrind (the
mutator's classes only) and f (µs per minor fault) from faultbench. The
rest is fitted on the calibration configurations, every configuration
measured both ways except toc and cms themselves, whose mutator CPU is
predicted, not fitted, and shown beside the measured figure:
  - alpha (ns per instruction) from the arena, the configuration with the
    fewest misses: its mutator CPU less its faults over its instructions
    (its few misses are charged to alpha, which makes alpha an upper bound
    and the misses' share of a difference a lower one);
  - gamma and beta (ns per D1 miss that hit LL, per LL miss) by
    non-negative least squares on what alpha leaves of the others.
Without the arena, all three by non-negative least squares."""
import itertools
import statistics

COEFS = ["alpha_ns_per_ir", "gamma_ns_per_d1_miss", "beta_ns_per_ll_miss"]


def features(cg):
    """The model's three counts of a configuration's mutator, per txn."""
    m = cg["mutator"]
    return [m["ir"], max(m["d1_misses"] - m["ll_misses"], 0.0), m["ll_misses"]]


def solve(rows, ys, cols):
    """Least squares over the columns cols of rows (normal equations,
    Gaussian elimination); None when singular."""
    k = len(cols)
    a = [[sum(r[i] * r[j] for r in rows) for j in cols] + [sum(r[i] * y for r, y in zip(rows, ys))] for i in cols]
    for p in range(k):
        piv = max(range(p, k), key=lambda i: abs(a[i][p]))
        if abs(a[piv][p]) < 1e-12 * max(1.0, max(abs(x) for row in a for x in row[:k])):
            return None
        a[p], a[piv] = a[piv], a[p]
        for i in range(k):
            if i != p:
                f = a[i][p] / a[p][p]
                a[i] = [x - f * y for x, y in zip(a[i], a[p])]
    return [a[i][k] / a[i][i] for i in range(k)]


def nnls(rows, ys):
    """Non-negative least squares for three coefficients: every subset of
    the columns solved, the feasible solution with the least squared error
    kept. Returns (coefficients, sse, columns used)."""
    best = None
    n = len(rows[0])
    for size in range(n, 0, -1):
        for cols in itertools.combinations(range(n), size):
            if len(rows) < size:
                continue
            sol = solve(rows, ys, cols)
            if sol is None or min(sol) < 0:
                continue
            coef = [0.0] * n
            for c, v in zip(cols, sol):
                coef[c] = v
            sse = sum((y - sum(c * x for c, x in zip(coef, r))) ** 2 for r, y in zip(rows, ys))
            if best is None or sse < best[1] - 1e-12:
                best = (coef, sse, cols)
    return best


def fit(timed, cg, fault_us, held_out, anchor="arena"):
    """Fits the model on the configurations in both timed and cg but
    held_out. Returns the fit (coefficients in ns, points, diagnostics)."""
    names = [c for c in timed if c in cg and c not in held_out]
    pts = []
    for c in names:
        t = timed[c]
        y_ns = (t["mutator_us"] - fault_us * t["faults_per_txn"]) * 1e3
        pts.append((c, features(cg[c]), y_ns))
    out = {"calibration": names, "held_out": list(held_out), "coefficients": None, "note": None, "anchor": None}
    alpha = None
    if anchor in names:
        _, f, y = next(p for p in pts if p[0] == anchor)
        if f[0] > 0 and y > 0:
            alpha = y / f[0]
            out["anchor"] = anchor
    rest = [p for p in pts if p[0] != out["anchor"]]
    if alpha is not None:
        if not rest:
            out["note"] = f"only {anchor} to calibrate on: alpha alone, misses cost nothing in the model"
            best = ([0.0, 0.0], 0.0, ())
        else:
            best = nnls([p[1][1:] for p in rest], [p[2] - alpha * p[1][0] for p in rest])
        if best is not None:
            best = ([alpha] + best[0], None, (0,) + tuple(c + 1 for c in best[2]))
    elif len(pts) >= 2:
        best = nnls([p[1] for p in pts], [p[2] for p in pts])
    else:
        out["note"] = f"{len(pts)} calibration configuration(s): no fit (components from counts are null)"
        return out
    if best is None:
        out["note"] = "no non-negative solution: components from counts are null"
        return out
    coef, _, cols = best
    out["coefficients"] = dict(zip(COEFS, coef))
    out["columns_used"] = [COEFS[i] for i in cols]
    if len(rest) < 3 and not out["note"]:
        out["note"] = f"{len(rest)} points for the miss costs: indicative only"
    out["points"] = [{"config": c, "measured_us": y / 1e3,
                      "predicted_us": sum(a * x for a, x in zip(coef, f)) / 1e3} for c, f, y in pts]
    sse = sum((p["measured_us"] - p["predicted_us"]) ** 2 for p in out["points"])
    ybar = statistics.mean(p["measured_us"] for p in out["points"])
    sst = sum((p["measured_us"] - ybar) ** 2 for p in out["points"])
    out["r2"] = 1 - sse / sst if sst > 0 else None
    out["rms_us"] = (sse / len(pts)) ** 0.5
    return out


def parts(cg, coef):
    """µs per txn of a configuration's mutator counts, by part; None
    without coefficients."""
    if coef is None or cg is None:
        return None
    a, g, b = (coef[k] for k in COEFS)
    ir, d1, ll = features(cg)
    alloc_ir = cg["classes"]["allocation"]["ir"]
    return {"allocation_ir_us": a * alloc_ir / 1e3, "other_ir_us": a * (ir - alloc_ir) / 1e3,
            "d1_us": g * d1 / 1e3, "ll_us": b * ll / 1e3}


def attribute(timed, cg, coef, fault_us, base="cms", new="toc"):
    """What new saves per transaction over base, by component (µs; positive
    is a saving). X is the difference of the measured CPU per txn; r what
    the measured and modelled components leave of it."""
    if base not in timed or new not in timed:
        return None
    tb, tn = timed[base], timed[new]

    def d(key):
        return tb[key] - tn[key]
    out = {"base": base, "new": new, "X": d("cpu_us"),
           "a_gc_cpu": d("mark_us") + d("assist_us") + d("idle_us") + d("pause_us"),
           "a_parts": {"mark": d("mark_us"), "assist": d("assist_us"), "idle": d("idle_us"), "pause": d("pause_us")},
           "b_sweep": d("sweep_us"),
           "d_faults": fault_us * d("faults_per_txn"),
           "assist_wait_us": d("assist_wait_us"), "wall_core_us": d("wall_core_us")}
    pb, pn = parts(cg.get(base), coef), parts(cg.get(new), coef)
    if pb and pn:
        out["c_allocation"] = pb["allocation_ir_us"] - pn["allocation_ir_us"]
        out["d_misses"] = (pb["d1_us"] - pn["d1_us"]) + (pb["ll_us"] - pn["ll_us"])
        out["d_parts"] = {"faults": out["d_faults"], "d1": pb["d1_us"] - pn["d1_us"], "ll": pb["ll_us"] - pn["ll_us"]}
        out["e_other_ir"] = pb["other_ir_us"] - pn["other_ir_us"]
    else:
        out["c_allocation"] = out["d_misses"] = out["e_other_ir"] = None
        out["d_parts"] = {"faults": out["d_faults"], "d1": None, "ll": None}
    known = [out["a_gc_cpu"], out["b_sweep"], out["d_faults"], out["c_allocation"], out["d_misses"], out["e_other_ir"]]
    out["d"] = out["d_faults"] + (out["d_misses"] or 0.0)
    out["r"] = out["X"] - sum(v for v in known if v is not None)
    return out
