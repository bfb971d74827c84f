"""One run of a sweep (workloads/sweep): the unit a sweep is made of, run
one after another by sweep.py or, from the lines `workloads/sweep NAME
--emit-jobs FILE` writes, by GNU parallel, a Slurm job array or plain bash.

Runs PROGRAM ARGS (a txbench or go-txbench command line printing one JSON
object), keeps its stderr in OUT with .stderr for .json, and writes OUT: one
JSON line with the KEY=VALUE fields given (sweep, flag, value, mode, round,
commit, go_version), the machine it ran on and the program's figures
("result"). OUT appears only whole (written beside it, then renamed), and
only when the program succeeded; sweep.py --merge reads every OUT of a sweep
into its points.csv. Exits with the program's status (1 if its output is not
JSON).

usage: sweep_job.py OUT.json [KEY=VALUE...] -- PROGRAM [ARGS...]"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine  # noqa: E402


def main(argv):
    if "--" not in argv or argv.index("--") < 2 or argv.index("--") == len(argv) - 1:
        sys.exit(__doc__)
    sep = argv.index("--")
    out, fields, cmd = argv[1], argv[2:sep], argv[sep + 1:]
    row = {}
    for f in fields:
        k, eq, v = f.partition("=")
        if not eq or not k:
            sys.exit(f"sweep_job: '{f}' is not KEY=VALUE")
        row[k] = v
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    errlog = os.path.splitext(out)[0] + ".stderr"
    with open(errlog, "w") as err:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
    if p.returncode != 0:
        print(f"sweep_job: {' '.join(cmd)} failed (exit {p.returncode}); its stderr: {errlog}", file=sys.stderr)
        return p.returncode
    try:
        result = json.loads(p.stdout)
    except ValueError:
        print(f"sweep_job: {' '.join(cmd)} printed no JSON object: {p.stdout[:200]!r}", file=sys.stderr)
        return 1
    row.update({"machine": machine(), "command": cmd, "result": result})
    tmp = f"{out}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(row) + "\n")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
