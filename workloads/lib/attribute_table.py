"""table.txt of workloads/attribute: one column per configuration, the
figures per transaction, the conversion factors, the fit, and the
attribution line."""


def fmt(v, f="{:.2f}"):
    return "-" if v is None else f.format(v)


def ci(c, f="{:.2f}"):
    """' [low, high]' of a cell, or ' (no interval: N runs)'."""
    if not c or c.get("ci95_low") is None:
        return f" (no interval: {c['runs'] if c else 0} runs)"
    return f" [{f.format(c['ci95_low'])}, {f.format(c['ci95_high'])}]"


def render(doc):
    timed, cg, fit, att = doc["timed"], doc["cachegrind"], doc["fit"], doc["attribution"]
    conf = doc["configuration"]
    names = list(timed) + [n for n in cg if n not in timed]
    w = max(9, max(len(n) for n in names) + 1)
    lines = []

    def row(title, vals, f="{:.2f}"):
        lines.append(f"{title:<34}" + "".join(f"{fmt(v, f):>{w}}" for v in vals))

    def tv(key):
        return [timed[n].get(key) if n in timed else None for n in names]

    def cv(cls, key):
        return [(cg[n]["mutator"][key] if cls == "mutator" else cg[n]["classes"][cls][key]) if n in cg else None
                for n in names]

    def mp(key):
        return [(timed.get(n, {}).get("model_parts_us") or {}).get(key) for n in names]

    lo, hi = conf["cg_requests"]
    if timed:
        lines.append(f"Attribution per transaction at commit {doc['commit']}: timed medians of {conf['runs']} "
                     f"interleaved round(s) of {conf['duration']} s"
                     + (f" after a warm-up of {conf['warmup_cycles']} cycles (at most {conf['warmup']:g} s)"
                        if conf.get("warmup_cycles") else "")
                     + f" (cms-gogc-off: {conf['off_requests']} requests), store {conf['live_mb']} MiB;")
    else:
        lines.append(f"Counts per transaction at commit {doc['commit']} (no timed runs);")
    lines.append(f"cachegrind: ({hi} - {lo} requests) / {hi - lo}, --procs=1, "
                 f"--seed={conf['seed']}, store {conf['cg_live_mb']} MiB"
                 + (f"; txbench args: {conf['txbench_args']}" if conf["txbench_args"] else "")
                 + (f"; cachegrind's: {conf['cg_txbench_args']}"
                    if conf.get("cg_txbench_args", conf["txbench_args"]) != conf["txbench_args"] else ""))
    lines.append("")
    lines.append(f"{'':<34}" + "".join(f"{n:>{w}}" for n in names))
    row("txn/s", tv("txn_per_sec"), "{:.0f}")
    row("CPU us/txn (process)", tv("cpu_us"))
    row("  GC mark, background", tv("mark_us"))
    row("  GC assist", tv("assist_us"))
    row("  GC idle (none exists)", tv("idle_us"))
    row("  GC pause (stopper's CPU)", tv("pause_us"))
    row("  sweep", tv("sweep_us"))
    row("  mutator (CPU - the four above)", tv("mutator_us"))
    row("assist wait us/txn (wall)", tv("assist_wait_us"))
    row("core us/txn (wall x procs)", tv("wall_core_us"))
    row("GC cycles per run", tv("gc_cycles"), "{:.0f}")
    row("minor faults/txn", tv("faults_per_txn"))
    lines.append("cachegrind, the mutator per txn:")
    row("  instructions (Ir)", cv("mutator", "ir"), "{:.0f}")
    row("    allocation path", cv("allocation", "ir"), "{:.0f}")
    row("    barrier and publication", cv("barrier", "ir"), "{:.0f}")
    row("    scheduler", cv("scheduler", "ir"), "{:.0f}")
    row("    program", cv("program", "ir"), "{:.0f}")
    row("  D1 misses", cv("mutator", "d1_misses"), "{:.0f}")
    row("  LL misses", cv("mutator", "ll_misses"), "{:.0f}")
    row("  LL misses, allocation path", cv("allocation", "ll_misses"), "{:.0f}")
    row("  collector Ir (left out)", cv("collector", "ir"), "{:.0f}")
    lines.append("model, us/txn:")
    row("  faults (f x faults)", [doc["fault_us"] * timed[n]["faults_per_txn"] if n in timed else None
                                  for n in names])
    row("  allocation-path instructions", mp("allocation_ir_us"))
    row("  other instructions", mp("other_ir_us"))
    row("  D1 misses that hit LL", mp("d1_us"))
    row("  LL misses", mp("ll_us"))
    pred = []
    for n in names:
        p = timed.get(n, {}).get("model_parts_us")
        pred.append(None if not p else sum(p.values()) + doc["fault_us"] * timed[n]["faults_per_txn"])
    row("  predicted mutator", pred)
    row("  measured - predicted", [None if p is None else timed[n]["mutator_us"] - p for n, p in zip(names, pred)])
    row("cachegrind GC cycles (longer run)", [cg[n]["gc_cycles"][1] if n in cg else None for n in names], "{:.0f}")
    lines.append("")
    fb = doc["faultbench"]
    lines.append(f"conversion factors: f = {doc['fault_us']:.3f} us per minor fault (faultbench, MADV_POPULATE_WRITE "
                 f"per 8 KiB span; a write per page: {fmt(fb.get('touch_ns_per_fault'), '{:.0f}')} ns)")
    c = fit["coefficients"]
    if c:
        how = f"alpha from {fit['anchor']}, the rest " if fit.get("anchor") else ""
        lines.append(f"  {how}fitted on {', '.join(fit['calibration'])} (held out: {', '.join(fit['held_out'])}): "
                     f"{c['alpha_ns_per_ir']:.3f} ns per instruction, {c['gamma_ns_per_d1_miss']:.2f} ns per D1 miss "
                     f"that hit LL, {c['beta_ns_per_ll_miss']:.2f} ns per LL miss; R2 {fmt(fit.get('r2'), '{:.3f}')}, "
                     f"rms {fmt(fit.get('rms_us'))} us")
    if fit.get("note"):
        lines.append(f"  note: {fit['note']}")
    lines.append("")
    if att:
        lines.append(f"toc saves {att['X']:.2f} us/txn of CPU over cms: {att['a_gc_cpu']:.2f} from GC CPU, "
                     f"{att['b_sweep']:.2f} from sweep, {fmt(att['c_allocation'])} from allocation, "
                     f"{att['d']:.2f} from faults and cache misses, {fmt(att['e_other_ir'])} from other "
                     f"instructions, residual {att['r']:.2f}")
        a, d = att["a_parts"], att["d_parts"]
        lines.append(f"  GC CPU: mark {a['mark']:.2f}, assist {a['assist']:.2f}, idle {a['idle']:.2f}, "
                     f"pause {a['pause']:.2f}; faults and misses: faults {d['faults']:.2f}, "
                     f"D1 {fmt(d['d1'])}, LL {fmt(d['ll'])}")
        lines.append(f"  (wall: toc saves {att['wall_core_us']:.2f} core-us/txn; assist wait "
                     f"{att['assist_wait_us']:.2f} us/txn less; a positive figure is a saving, a negative one a cost)")
        k = att.get("ci95")
        if k:
            lines.append(f"  95% intervals (bootstrap, differences of medians): saving {k['X']['median']:.2f}"
                         f"{ci(k['X'])} us/txn; GC CPU and sweep {k['gc']['median']:.2f}{ci(k['gc'])}; sweep "
                         f"{k['sweep']['median']:.2f}{ci(k['sweep'])}; mutator {k['mutator']['median']:.2f}"
                         f"{ci(k['mutator'])}; minor faults/txn {k['faults_per_txn']['median']:.3f}"
                         f"{ci(k['faults_per_txn'], '{:.3f}')}")
            lines.append(f"  toc/cms throughput {k['txn_ratio']['median']:.2f}{ci(k['txn_ratio'])}")
    return "\n".join(lines) + "\n"
