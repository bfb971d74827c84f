"""Prints the machine a result was measured on, as one JSON object;
machine() returns it (sweep_job.py records it with each run)."""
import json
import os
import platform


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_gib():
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        return round(kib / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None


def machine():
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "mem_gib": mem_gib(),
        "kernel": platform.release(),
        "host": platform.node(),
    }


if __name__ == "__main__":
    print(json.dumps(machine(), separators=(",", ":")))
