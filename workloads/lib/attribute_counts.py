"""Cachegrind's counts for workloads/attribute: a cachegrind.out file read,
each function's counts put in one class by the source file it is compiled
from, and the classes summed.

Classes (docs/measurement.md, "Attribution"):
  collector   marking, sweeping, the pacer and the cycle's control: timed by
              the CPU accounts instead, so left out of the mutator's counts
  allocation  the allocator (gc/src's allocation files), the transaction
              layer's windows and regions (toc/src), txbench's allocation
              wrappers and the arena's allocator, and malloc's family
  barrier     the write barrier's inline code (gc.h) and the publish walk
  scheduler   sched/src and liburcu's queues
  program     the rest: the handler, the request generator, libc's string
              and number code

The runtime's code lies in its own section (toc_runtime_text), where
valgrind finds function names but no file: those names are looked up in
the build's object files (nm). A name defined in files of two classes is
counted as program and reported as ambiguous."""
import os
import re
import subprocess
from collections import defaultdict

CLASSES = ["collector", "allocation", "barrier", "scheduler", "program"]
MUTATOR_CLASSES = [c for c in CLASSES if c != "collector"]

# Source path (relative to the repository) -> class; the first match wins.
PATH_CLASSES = [
    (r"^gc/src/(mark|markwork|roots|sweep|cycle|control|pacer|verify|finalizer)\.c$", "collector"),
    (r"^toc/src/verify\.c$", "collector"),
    (r"^gc/src/(alloc|central|bulk|pages|span|arena|sizeclass|layer)\.c$", "allocation"),
    (r"^gc/src/span\.h$", "allocation"),
    (r"^toc/src/(layer|region|window|stats)\.c$", "allocation"),
    (r"^workloads/txbench/txbench_(gc|arena)\.c$", "allocation"),
    (r"^toc/src/publish\.c$", "barrier"),
    (r"^gc/include/toc/gc\.h$", "barrier"),
    (r"^sched/", "scheduler"),
]
MALLOC_FN = re.compile(r"^(__libc_)?(malloc|free|calloc|realloc|cfree)$|^_int_|^malloc_|^tcache|^sysmalloc$|"
                       r"^unlink_chunk|^arena_get|^alloc_perturb$")
SCHED_FN = re.compile(r"^(cds_|urcu_|_cds_)")
# cachegrind's events, and the sums kept per class.
FIELDS = ["Ir", "D1mr", "DLmr", "D1mw", "DLmw"]


def path_class(rel):
    for pat, cls in PATH_CLASSES:
        if re.search(pat, rel):
            return cls
    return "program"


def base_name(fn):
    """A function's name without GCC's clone suffixes (.part.0, .cold, ...)."""
    return fn.split(".", 1)[0]


def symbol_classes(build_root, repo_root):
    """{function name: set of classes} for the runtime's functions, from
    the object files of gc, sched and toc in build_root."""
    names = defaultdict(set)
    objs = []
    for comp in ("gc", "sched", "toc"):
        top = os.path.join(build_root, comp, "CMakeFiles")
        for d, _, files in os.walk(top):
            objs += [os.path.join(d, f) for f in files if f.endswith(".o")]
    for o in sorted(objs):
        # .../<comp>/CMakeFiles/<target>.dir/src/mark.c.o -> <comp>/src/mark.c
        rel_obj = os.path.relpath(o, build_root).split(os.sep)
        comp = rel_obj[0]
        src = "/".join([comp] + rel_obj[3:])[:-2]
        out = subprocess.run(["nm", "--defined-only", o], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTW":
                names[base_name(parts[2])].add(path_class(src))
    return names


def classify(fl, fn, symbols, repo_root):
    """(class, ambiguous) of one cachegrind (file, function) pair."""
    name = base_name(fn)
    if MALLOC_FN.search(name):
        return "allocation", False
    if SCHED_FN.search(name):
        return "scheduler", False
    if fl not in ("???", "") and os.path.isabs(fl) and fl.startswith(repo_root + os.sep):
        return path_class(os.path.relpath(fl, repo_root)), False
    cls = symbols.get(name)
    if cls:
        if len(cls) == 1:
            return next(iter(cls)), False
        return "program", True
    return "program", False


def read_cachegrind(path, symbols, repo_root):
    """{class: {field: count}} of one cachegrind.out file, plus the
    configuration line ("desc:") and the ambiguous functions' Ir."""
    sums = {c: dict.fromkeys(FIELDS, 0) for c in CLASSES}
    ambiguous = defaultdict(int)
    desc, events = [], None
    fl = fn = ""
    cls, amb = "program", False
    with open(path) as f:
        for line in f:
            if line.startswith("desc:"):
                desc.append(line[5:].strip())
            elif line.startswith("events:"):
                events = line.split()[1:]
                idx = [events.index(k) for k in FIELDS]
            elif line.startswith("fl="):
                fl = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
                cls, amb = classify(fl, fn, symbols, repo_root)
            elif line[:1].isdigit() and events:
                nums = line.split()[1:]
                s = sums[cls]
                for k, i in zip(FIELDS, idx):
                    if i < len(nums):
                        s[k] += int(nums[i])
                if amb and nums:
                    ambiguous[base_name(fn)] += int(nums[0])
    if events is None:
        raise ValueError(f"{path}: no 'events:' line (not a cachegrind output file?)")
    return {"classes": sums, "desc": desc, "ambiguous_ir": dict(ambiguous)}


def per_txn(lo, hi, n_lo, n_hi):
    """Per-request counts: the difference of two runs over the difference
    of their request counts (start-up and the store's construction cancel).
    Per class: ir, d1_misses (reads + writes), ll_misses (reads + writes)."""
    n = n_hi - n_lo
    out = {}
    for c in CLASSES:
        a, b = lo["classes"][c], hi["classes"][c]
        d = {k: (b[k] - a[k]) / n for k in FIELDS}
        out[c] = {"ir": d["Ir"], "d1_misses": d["D1mr"] + d["D1mw"], "ll_misses": d["DLmr"] + d["DLmw"]}
    mut = {k: sum(out[c][k] for c in MUTATOR_CLASSES) for k in ("ir", "d1_misses", "ll_misses")}
    return {"classes": out, "mutator": mut}
