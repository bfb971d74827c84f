"""Summarizes schedbench / go-schedbench runs (runs.jsonl): the median and
spread of each figure per program, the toc/Go ratio of the medians, and the
targets of the scheduler issue. Writes summary.json and prints a table."""
import json
import statistics
import sys

# figure, target ratio toc/go (<=), description
FIGURES = [
    ("switch_ns", 0.5, "yield switch, one worker (ns)"),
    ("chan_pingpong_ns", 1.0, "unbuffered ping-pong round trip (ns)"),
    ("spawn_exit_ns", 1.0, "spawn + run + exit (ns)"),
    ("rss_per_parked_kib", 2.0, "RSS per parked goroutine (KiB)"),
]


def main(runs_path, summary_path):
    runs = {}
    with open(runs_path) as f:
        for line in f:
            rec = json.loads(line)
            kind = "go" if rec["program"].startswith("go-") else "toc"
            runs.setdefault(kind, []).append(rec["result"])
    if "toc" not in runs or "go" not in runs:
        sys.exit("summarize: need runs of both schedbench and go-schedbench")
    go_version = runs["go"][0].get("runtime", "go")
    summary = {"runs": {k: len(v) for k, v in runs.items()}, "go_runtime": go_version,
               "figures": {}}
    head = f"{'figure':<20} {'toc median':>11} {'(min-max)':>17} {'go median':>10} {'(min-max)':>17} {'toc/go':>7} {'target':>8}  met"
    print(head)
    print("-" * len(head))
    for key, target, desc in FIGURES:
        row = {"description": desc, "target_ratio_max": target}
        for kind in ("toc", "go"):
            vals = [r[key] for r in runs[kind] if r.get(key) is not None]
            row[kind] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                         "n": len(vals)}
        ratio = row["toc"]["median"] / row["go"]["median"]
        row["ratio"] = round(ratio, 3)
        row["met"] = ratio <= target
        summary["figures"][key] = row
        t, g = row["toc"], row["go"]
        print(f"{key:<20} {t['median']:>11.2f} {'(' + format(t['min'], '.1f') + '-' + format(t['max'], '.1f') + ')':>17}"
              f" {g['median']:>10.2f} {'(' + format(g['min'], '.1f') + '-' + format(g['max'], '.1f') + ')':>17}"
              f" {ratio:>7.2f} {'<= ' + format(target, '.1f'):>8}  {'yes' if row['met'] else 'NO'}")
    parked = min(r["parked_goroutines"] for r in runs["toc"])
    summary["parked_goroutines"] = parked
    print(f"\nparked goroutines: {parked:,} in every toc run (the target is 1,000,000 working)")
    print(f"go runtime: {go_version}; runs: toc {len(runs['toc'])}, go {len(runs['go'])}; "
          "medians over runs, each run one trial; ratios are of medians")
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
