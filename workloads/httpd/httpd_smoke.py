"""httpd_smoke.py DIR — a smoke run (not a benchmark) of the httpd built in
DIR, in toc and cms modes and with --per-request: valid requests over one
keep-alive connection and pipelined, every hostile case with its status
(431, 400, 413, 414, 501, 505, 408 for a slow request), random bytes, then
SIGINT: the server must exit 0 with its statistics. go-httpd too, when built.

Then --suite=tfb (httpd in toc and cms modes, go-httpd), checked by
tfb_validate.py as TechEmpower's verifier checks an implementation."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import tfb_validate  # noqa: E402

D = sys.argv[1]
REQS = subprocess.run([os.path.join(D, "txbench"), "--dump-requests=40", "--live-mb=4"], capture_output=True,
                      check=True).stdout


def requests():
    out, p = [], 0
    while p < len(REQS):
        nl = REQS.index(b"\n", p)
        n = int(REQS[p:nl])
        out.append(REQS[nl + 1:nl + 1 + n])
        p = nl + 1 + n
    return out


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def start(args):
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    deadline = time.time() + 120
    while time.time() < deadline:
        line = p.stderr.readline()
        err += line
        m = re.search(r"listening on [^\s]*:(\d+)", line)
        if m:
            return p, int(m.group(1))
        if not line and p.poll() is not None:
            break
    fail(f"{' '.join(args)} did not start: {err}")


def exchange(port, data, expect_close=True, timeout=20):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        if expect_close:
            fail(f"no close after {data[:60]!r}: got {out[:200]!r}")
    s.close()
    return out


def stop(p, args):
    """SIGINT; the server must exit 0 with its statistics (returned)."""
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        fail(f"{args}: no exit within 60 s of SIGINT")
    if p.returncode != 0:
        fail(f"{args}: exit {p.returncode}: {err[-2000:]}")
    return json.loads(out)


def check_server(args, hostile=True):
    p, port = start(args)
    reqs = requests()
    # Keep-alive: all requests on one connection, then one that asks to close.
    last = reqs[0].replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1)
    out = exchange(port, b"".join(reqs) + last)
    if out.count(b"HTTP/1.1 200 OK") != len(reqs) + 1:
        fail(f"{args}: {out.count(b'HTTP/1.1 200 OK')} responses of {len(reqs) + 1}")
    if hostile:
        cases = [
            (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
            (b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(100)) + b"\r\n", b"431"),
            (b"GARBAGE\r\n\r\n", b"400"),
            (b"POST /api/items/k1 HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413"),
            (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", b"414"),
            (b"POST /api/items/k1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"501"),
            (b"GET / HTTP/2.0\r\n\r\n", b"505"),
            (b"POST /api/items/k1 HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", b"408"),   # slow: never finishes
        ]
        for data, want in cases:
            out = exchange(port, data)
            if not out.startswith(b"HTTP/1.1 " + want):
                fail(f"{args}: {data[:40]!r}... answered {out[:60]!r}, expected {want!r}")
        rng = random.Random(7)
        for i in range(50):
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            exchange(port, junk + b"\r\n\r\n", expect_close=False, timeout=3)
    st = stop(p, args)
    if st.get("transactions", 0) < len(reqs) + 1:
        fail(f"{args}: statistics count {st.get('transactions')} requests")
    print(f"{' '.join(os.path.basename(a) for a in args[:2])}: ok, {int(st['transactions'])} requests, "
          f"{st.get('read_timeouts', '-')} read timeouts")


httpd = os.path.join(D, "httpd")
common = ["--port=0", "--live-mb=4", "--json", "--read-timeout=1"]
check_server([httpd, "--mode=toc"] + common)
check_server([httpd, "--mode=cms"] + common)
check_server([httpd, "--mode=toc", "--per-request"] + common, hostile=False)
go_httpd = os.path.join(D, "go-httpd")
if os.path.exists(go_httpd):
    check_server([go_httpd, "--port=0", "--live-mb=4", "--json"], hostile=False)


def check_tfb(args):
    """TechEmpower's checks on one server; returns what tfb_validate saw."""
    p, port = start(args)
    try:
        seen = tfb_validate.validate(port)
    except tfb_validate.Invalid as e:
        p.kill()
        fail(f"{' '.join(args)}: {e}")
    st = stop(p, args)
    if st.get("suite") != "tfb" or st.get("transactions", 0) < seen["requests"]:
        fail(f"{args}: statistics say suite {st.get('suite')}, {st.get('transactions')} requests "
             f"(the validator made {seen['requests']})")
    print(f"{' '.join(os.path.basename(a) for a in args[:3])}: TechEmpower checks passed, "
          f"{seen['requests']} requests, {seen['matched']} rows read back after an update, "
          f"{int(st.get('gc_cycles', 0))} GC cycles")
    return seen


# GOGC 5: the collector runs every few hundred KiB, often amid the updates.
tfb_flags = ["--port=0", "--gogc=5", "--json"]
tfb = [check_tfb([httpd, "--suite=tfb", "--mode=toc"] + tfb_flags),
       check_tfb([httpd, "--suite=tfb", "--mode=cms"] + tfb_flags)]
if os.path.exists(go_httpd):
    tfb.append(check_tfb([go_httpd, "--suite=tfb"] + tfb_flags))
try:
    tfb_validate.same_data(tfb)
except tfb_validate.Invalid as e:
    fail(f"--suite=tfb servers disagree: {e}")
print("httpd smoke passed")
