"""Prints, as one JSON object, what a paper's results were measured with:
the processor and its caches (lscpu), the hypervisor, the C compiler and
the flags txbench was compiled with (from the Release build's flags.make),
the Boehm collector's and each Go toolchain's version.

    python3 paper/lib/environment.py BUILD_DIR > environment.json

paper/build runs it after workloads/bench has built BUILD_DIR; the paper's
configuration table is generated from it (lib/gen.py), never typed."""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "workloads", "lib"))
import machine  # noqa: E402


def run(cmd):
    """CMD's standard output, stripped, or None when it cannot run."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def lscpu():
    out = run(["lscpu", "-J"])
    if not out:
        return {}
    fields = {}
    for e in json.loads(out).get("lscpu", []):
        fields[e["field"].rstrip(":")] = e.get("data")
    keep = {
        "Model name": "cpu_model", "CPU(s)": "cpus", "Thread(s) per core": "threads_per_core",
        "L1d cache": "l1d", "L1i cache": "l1i", "L2 cache": "l2", "L3 cache": "l3",
        "Hypervisor vendor": "hypervisor", "Virtualization type": "virtualization",
        "NUMA node(s)": "numa_nodes", "CPU family": "cpu_family", "Model": "cpu_model_number",
    }
    return {v: fields.get(k) for k, v in keep.items()}


def c_flags(build):
    """The flags txbench's sources were compiled with."""
    path = os.path.join(build, "workloads/CMakeFiles/txbench.dir/flags.make")
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("C_FLAGS"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def go_version(go):
    out = run([go, "version"]) if go else None
    m = re.search(r"go version (go\S+)", out or "")
    return m.group(1) if m else None


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
    cc = run(["cc", "--version"])
    env = lscpu()
    env.update({
        "mem_gib": machine.mem_gib(),
        "kernel": os.uname().release,
        "cc": cc.splitlines()[0] if cc else None,
        "c_flags": c_flags(build),
        "boehm": run(["pkg-config", "--modversion", "bdw-gc"]),
        "go": go_version(shutil.which("go")),
        "go119": go_version("/usr/lib/go-1.19/bin/go"),
    })
    print(json.dumps(env, indent=1))


if __name__ == "__main__":
    main()
