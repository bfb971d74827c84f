"""The Go builds of a Go twin (workloads/go) and the modes they run as.

workloads/CMakeLists.txt builds go-txbench and go-httpd three ways:

  go-PROG                the go on PATH (Go 1.26 here; its Green Tea
                         collector marks span by span, on by default)
  go-PROG-nogreenteagc   the same go with GOEXPERIMENT=nogreenteagc (the
                         collector Go had before; built when the go on PATH
                         is 1.25 or later, the first with Green Tea)
  go-PROG-go1.19         Debian's golang-1.19-go (/usr/lib/go-1.19/bin/go)

A build's mode is named from the build information the Go linker writes into
the binary (what `go version -m BINARY` prints): "go" and the toolchain's
major.minor, then each GOEXPERIMENT: go1.26, go1.26-nogreenteagc, go1.19.
The exact version ("go1.26.8", "go1.26.8-X:nogreenteagc", "go1.19.8") goes
into every result row. Reading it here needs no go on the machine that runs.

That the experiment changed the collector is checked in the binary: the
-nogreenteagc build must list GOEXPERIMENT=nogreenteagc and must not hold
Green Tea's span scanner (runtime.scanSpan, in the function name table even
of a stripped binary), which the default Go 1.26 build does.

usage: goinfo.py BINDIR PROG [MODE...]
  prints "MODE<TAB>BINARY<TAB>VERSION" for each Go build of PROG in BINDIR
  (the MODEs named; all by default or for "go"); exits 1 naming what is
  missing or wrong.
goinfo.py --built BINDIR PROG
  the same for the builds there, exits 1 only if one of them is wrong."""
import os
import re
import sys

# (binary suffix, what it is, how to get it when it was not built)
BUILDS = [
    ("", "the go on PATH", "install Go (Debian: golang-go) and rebuild"),
    ("-nogreenteagc", "the go on PATH with GOEXPERIMENT=nogreenteagc",
     "rebuild (workloads/CMakeLists.txt builds it with a go of 1.25 or later)"),
    ("-go1.19", "Debian's Go 1.19",
     "install Debian's golang-1.19-go (apt-get install golang-1.19-go; /usr/lib/go-1.19/bin/go) and rebuild"),
]
GREENTEA_SINCE = (1, 25)   # the first Go with the Green Tea collector
MAGIC = b"\xff Go buildinf:"
GREENTEA_SYMBOL = b"runtime.scanSpan\x00"   # Green Tea's span scanner


def uvarint(data, pos):
    x = shift = 0
    while True:
        b = data[pos]
        pos += 1
        x |= (b & 0x7F) << shift
        if b < 0x80:
            return x, pos
        shift += 7


def build_info(path):
    """{"version": ..., "settings": {KEY: VALUE}, "greentea": bool} from the
    .go.buildinfo header of a binary linked by Go 1.18 or later (inline
    strings: flag 2) and its function names."""
    with open(path, "rb") as f:
        data = f.read()
    pos = data.find(MAGIC)
    while pos >= 0 and (pos % 16 or not data[pos + 15] & 2):
        pos = data.find(MAGIC, pos + 1)
    if pos < 0:
        raise ValueError(f"{path}: no Go build information (not a Go binary, or linked before Go 1.18)")
    n, p = uvarint(data, pos + 32)
    version = data[p:p + n].decode()
    n, p = uvarint(data, p + n)
    modinfo = data[p:p + n].decode(errors="replace")
    settings = {}
    for line in modinfo.splitlines():
        f = line.split("\t")
        if len(f) == 2 and f[0] == "build" and "=" in f[1]:
            k, _, v = f[1].partition("=")
            settings[k] = v
    return {"version": version, "settings": settings, "greentea": GREENTEA_SYMBOL in data}


def major_minor(version):
    m = re.match(r"go(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


def mode_name(info):
    mm = major_minor(info["version"])
    name = f"go{mm[0]}.{mm[1]}" if mm else "go"
    exps = [e for e in info["settings"].get("GOEXPERIMENT", "").split(",") if e]
    return "-".join([name] + exps)


def go_builds(bindir, prog):
    """The Go builds of PROG in BINDIR: a list of {"mode", "path", "version",
    "greentea"} for the builds there, {"mode", "missing"} (what to do) for
    those that should be there and are not, and {"mode", "wrong"} for a
    nogreenteagc build that is not one. The nogreenteagc build is expected
    only when the default build is a Go with Green Tea."""
    builds, default = [], None
    for suffix, what, fix in BUILDS:
        path = os.path.join(bindir, prog + suffix)
        if not os.path.exists(path):
            if suffix == "-nogreenteagc":
                if default is None or major_minor(default["version"]) < GREENTEA_SINCE:
                    continue
                name = default["mode"] + suffix
            else:
                name = "go" if suffix == "" else suffix[1:]
            builds.append({"mode": name, "missing": f"{path} ({what}) was not built: {fix}"})
            continue
        info = build_info(path)
        b = {"mode": mode_name(info), "path": path, "version": info["version"], "greentea": info["greentea"]}
        if suffix == "":
            default = b
        if suffix == "-nogreenteagc" and "nogreenteagc" not in info["settings"].get("GOEXPERIMENT", ""):
            b = {"mode": b["mode"] + suffix,
                 "wrong": f"{path}: its build information lists no GOEXPERIMENT=nogreenteagc: rebuild"}
        elif suffix == "-nogreenteagc" and info["greentea"]:
            b = {"mode": b["mode"], "wrong": f"{path}: built with GOEXPERIMENT=nogreenteagc, its runtime "
                                             f"still has Green Tea's span scanner (runtime.scanSpan)"}
        if any(x["mode"] == b["mode"] for x in builds):
            print(f"goinfo: {path} is a second {b['mode']} build (the go on PATH is that Go); left out",
                  file=sys.stderr)
            continue
        builds.append(b)
    return builds


def select(builds, wanted):
    """The builds named in WANTED (all if None), in WANTED's order; raises
    ValueError naming a mode that is unknown or not built."""
    by = {b["mode"]: b for b in builds}
    chosen = [by.get(m) for m in wanted] if wanted is not None else builds
    for m, b in zip(wanted or [b["mode"] for b in builds], chosen):
        if b is None:
            raise ValueError(f"no Go build runs mode {m} (the Go modes here: {' '.join(by)})")
        if "missing" in b or "wrong" in b:
            raise ValueError(f"mode {m}: {b.get('missing') or b['wrong']}")
    return chosen


def is_mode(name):
    """Whether NAME can name Go builds: "go" (every build) or one build's
    mode (go1.26, go1.26-nogreenteagc)."""
    return re.fullmatch(r"go(\d+\.\d+(-[a-z0-9]+)*)?", name) is not None


def resolve(bindir, prog, asked):
    """{mode: build} for the Go modes among ASKED ("go": every build of PROG
    in BINDIR); raises ValueError naming a mode asked for and not built."""
    gos = [m for m in asked if is_mode(m)]
    if not gos:
        return {}
    return {b["mode"]: b for b in select(go_builds(bindir, prog), None if "go" in gos else gos)}


def main(argv):
    built = argv[1:2] == ["--built"]
    argv = argv[1:] if built else argv
    if len(argv) < 3 or built and len(argv) > 3:
        sys.exit(__doc__)
    try:
        builds = go_builds(argv[1], argv[2])
        if built:
            builds = [b for b in builds if "missing" not in b]
        chosen = select(builds, None if not argv[3:] or "go" in argv[3:] else argv[3:])
    except (ValueError, OSError) as e:
        sys.exit(f"goinfo: {e}")
    for b in chosen:
        print(f"{b['mode']}\t{b['path']}\t{b['version']}")


if __name__ == "__main__":
    main(sys.argv)
