"""tfb_validate.py — checks a server's TechEmpower test types (httpd and
go-httpd with --suite=tfb) the way TechEmpower's verifier checks an
implementation, from the published requirements:

  python3 tfb_validate.py PORT      validates the server on 127.0.0.1:PORT

Responses are read pipelined on one connection whose last request closes
it, so a wrong Content-Length leaves bytes over or cuts a response short.

  every response  200; Server, Date (an IMF-fixdate, not frozen: a second
                  later it changes), Content-Type and Content-Length equal
                  to the body's length
  /json           exactly {"message": "Hello, World!"}, application/json
  /db             an object of exactly "id" and "randomNumber", integers in
                  1..10000
  /queries?queries=N  a JSON array of N such objects; N clamped: 0 -> 1,
                  501 -> 500, foo -> 1, empty -> 1, missing -> 1, -3 -> 1
  /fortunes       the table rows parsed from the HTML are exactly the 12
                  fortunes and the one added at request time, in message
                  order, the text unescaped back to the messages (the
                  <script> fortune is text, not a tag); text/html;
                  charset=utf-8
  /updates?queries=N  as /queries; the rows it returns have new numbers
                  (each differs from what a read before it saw), and later
                  /queries read them back with those numbers
  concurrency     4 connections at once, updates among their requests,
                  every response valid
  unknown path    404 with the same headers
"""
import html.parser
import json
import re
import socket
import sys
import threading
import time
from datetime import datetime

ROWS = 10000
MAX_QUERIES = 500
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \u2014 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
    "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af",
]
ADDED = "Additional fortune added at request time."
# (the queries parameter's text, the rows expected)
QUERY_CASES = [("2", 2), ("0", 1), ("foo", 1), ("501", 500), ("", 1), ("-3", 1), ("20", 20), ("500", 500)]
CONTENT_TYPES = {"json": r"application/json(; ?charset=(UTF|utf)-8)?", "html": r"text/html; ?charset=(UTF|utf)-8",
                 "text": r"text/plain(; ?charset=(UTF|utf)-8)?"}


class Invalid(Exception):
    pass


def pipeline(port, paths, timeout=60):
    """GETs paths on one connection, pipelined, the last with Connection:
    close; returns [(status, headers with lower-case names, body)]."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    close = ["Connection: close\r\n" if i == len(paths) - 1 else "" for i in range(len(paths))]
    s.sendall("".join(f"GET {p} HTTP/1.1\r\nHost: localhost\r\n{c}\r\n" for p, c in zip(paths, close)).encode())
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    out, pos = [], 0
    for p in paths:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            raise Invalid(f"{p}: response {len(out) + 1} of {len(paths)} missing or cut short")
        lines = data[pos:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0])
        if not m:
            raise Invalid(f"{p}: status line {lines[0]!r} (a previous Content-Length may be wrong)")
        headers = {}
        for line in lines[1:]:
            k, sep, v = line.partition(":")
            if not sep:
                raise Invalid(f"{p}: header line {line!r}")
            headers[k.strip().lower()] = v.strip()
        if "content-length" not in headers:
            raise Invalid(f"{p}: no Content-Length")
        n = int(headers["content-length"])
        body = data[end + 4:end + 4 + n]
        if len(body) != n:
            raise Invalid(f"{p}: {len(body)} body bytes before the close, Content-Length {n}")
        out.append((int(m.group(1)), headers, body))
        pos = end + 4 + n
    if pos != len(data):
        raise Invalid(f"{len(data) - pos} bytes after the last response: a Content-Length is short")
    return out


def check_headers(path, resp, kind, status=200):
    st, h, _ = resp
    if st != status:
        raise Invalid(f"{path}: status {st}, expected {status}")
    for name in ("server", "date", "content-type"):
        if name not in h:
            raise Invalid(f"{path}: no {name.title()} header")
    try:
        datetime.strptime(h["date"], "%a, %d %b %Y %H:%M:%S GMT")
    except ValueError:
        raise Invalid(f"{path}: Date {h['date']!r} is not an IMF-fixdate")
    if not re.fullmatch(CONTENT_TYPES[kind], h["content-type"]):
        raise Invalid(f"{path}: Content-Type {h['content-type']!r}, expected {CONTENT_TYPES[kind]}")


def json_body(path, resp):
    check_headers(path, resp, "json")
    try:
        return json.loads(resp[2])
    except ValueError as e:
        raise Invalid(f"{path}: not JSON ({e}): {resp[2][:80]!r}")


def world_row(path, o):
    if type(o) is not dict or set(o) != {"id", "randomNumber"}:
        raise Invalid(f"{path}: {o!r} is not an object of exactly id and randomNumber")
    for k, v in o.items():
        if type(v) is not int or not 1 <= v <= ROWS:
            raise Invalid(f"{path}: {k} is {v!r}, not an integer in 1..{ROWS}")
    return o["id"], o["randomNumber"]


def world_list(path, resp, n):
    rows = json_body(path, resp)
    if type(rows) is not list:
        raise Invalid(f"{path}: the top level is not an array")
    if len(rows) != n:
        raise Invalid(f"{path}: {len(rows)} rows, expected {n}")
    return [world_row(path, o) for o in rows]


class FortuneTable(html.parser.HTMLParser):
    """The text of each table row's cells, the title, and every tag seen."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows, self.tags, self.cell, self.title = [], [], None, None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag == "title":
            self.title = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.rows:
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        elif self.title == "" and self.tags and self.tags[-1] == "title":
            self.title = data


def check_fortunes(resp):
    check_headers("/fortunes", resp, "html")
    text = resp[2].decode("utf-8")
    if not text.lower().startswith("<!doctype html>"):
        raise Invalid(f"/fortunes: does not start with <!DOCTYPE html>: {text[:40]!r}")
    t = FortuneTable()
    t.feed(text)
    t.close()
    want = [["id", "message"]] + [[str(i), m] for i, m in
                                  sorted([(i + 1, m) for i, m in enumerate(FORTUNES)] + [(0, ADDED)],
                                         key=lambda r: r[1])]
    if t.rows != want:
        bad = next((i for i, (a, b) in enumerate(zip(t.rows, want)) if a != b), min(len(t.rows), len(want)))
        got = t.rows[bad] if bad < len(t.rows) else "(none)"
        raise Invalid(f"/fortunes: row {bad} is {got!r}, expected {want[bad] if bad < len(want) else '(none)'!r}")
    for tag in ("html", "head", "title", "body", "table"):
        if tag not in t.tags:
            raise Invalid(f"/fortunes: no <{tag}>")
    if "script" in t.tags or "&lt;script&gt;" not in text:
        raise Invalid("/fortunes: the <script> fortune is not escaped")
    if t.title != "Fortunes":
        raise Invalid(f"/fortunes: title {t.title!r}")
    return resp[2]


def validate(port):
    """Runs every check against the server on port; raises Invalid. Returns
    the requests made, the rows read back after the update, a snapshot of
    rows read before any update and the fortunes body."""
    seen = {"requests": 0, "matched": 0, "before": {}, "fortunes": b""}

    def get(paths):
        seen["requests"] += len(paths)
        return pipeline(port, paths)

    r = get(["/json", "/db", "/not-a-test", "/json"])
    if json_body("/json", r[0]) != {"message": "Hello, World!"}:
        raise Invalid(f"/json: {r[0][2]!r}")
    world_row("/db", json_body("/db", r[1]))
    check_headers("/not-a-test", r[2], "text", status=404)
    time.sleep(1.2)
    later = get(["/json"])[0]
    check_headers("/json", later, "json")
    if later[1]["date"] == r[0][1]["date"]:
        raise Invalid(f"/json: Date {later[1]['date']!r} did not change over 1.2 s (cached for good?)")

    paths = [f"/queries?queries={q}" for q, _ in QUERY_CASES] + ["/queries"]
    for p, resp, (_, n) in zip(paths, get(paths), QUERY_CASES + [("", 1)]):
        world_list(p, resp, n)

    # Rows before any update: a row read twice reads the same number.
    for resp in get(["/queries?queries=500"] * 4):
        for i, v in world_list("/queries?queries=500", resp, 500):
            if seen["before"].setdefault(i, v) != v:
                raise Invalid(f"/queries: row {i} read as {seen['before'][i]} and {v} with no update between")

    seen["fortunes"] = check_fortunes(get(["/fortunes", "/fortunes"])[1])

    # An update: new numbers, and later reads see them.
    rows = world_list("/updates?queries=500", get(["/updates?queries=500"])[0], 500)
    updated, times = {}, {}
    for i, v in rows:
        updated[i] = v
        times[i] = times.get(i, 0) + 1
    for i, v in updated.items():
        if times[i] == 1 and i in seen["before"] and seen["before"][i] == v:
            raise Invalid(f"/updates: row {i} kept its number {v}")
    for resp in get(["/queries?queries=500"] * 10):
        for i, v in world_list("/queries?queries=500", resp, 500):
            if i in updated:
                if v != updated[i]:
                    raise Invalid(f"/queries after /updates: row {i} is {v}, the update set {updated[i]}")
                seen["matched"] += 1
    if seen["matched"] < 20:
        raise Invalid(f"/queries after /updates: only {seen['matched']} rows read back (expected about 240)")

    paths = [f"/updates?queries={q}" for q, _ in QUERY_CASES] + ["/updates"]
    for p, resp, (_, n) in zip(paths, get(paths), QUERY_CASES + [("", 1)]):
        world_list(p, resp, n)

    # Several connections at once, updates among them.
    mix = ["/updates?queries=50", "/queries?queries=50", "/fortunes", "/db", "/json", "/updates?queries=5"] * 3
    errors = []

    def client():
        try:
            for p, resp in zip(mix, pipeline(port, mix)):
                if p == "/fortunes":
                    check_fortunes(resp)
                elif p == "/json":
                    json_body(p, resp)
                elif p == "/db":
                    world_row(p, json_body(p, resp))
                else:
                    world_list(p, resp, int(p.split("=")[1]))
        except (Invalid, OSError, ValueError) as e:
            errors.append(str(e))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen["requests"] += 4 * len(mix)
    if errors:
        raise Invalid(f"concurrent clients: {errors[0]}")
    return seen


def same_data(seen):
    """Servers started afresh hold the same World table and render the same
    fortunes page."""
    first = seen[0]
    for s in seen[1:]:
        if s["fortunes"] != first["fortunes"]:
            raise Invalid("their /fortunes bodies differ")
        common = set(s["before"]) & set(first["before"])
        diff = [i for i in common if s["before"][i] != first["before"][i]]
        if diff:
            raise Invalid(f"row {diff[0]} starts as {first['before'][diff[0]]} in one, {s['before'][diff[0]]} "
                          f"in another ({len(diff)} of {len(common)} rows read in both differ)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tfb_validate.py PORT")
    try:
        s = validate(int(sys.argv[1]))
    except Invalid as e:
        sys.exit(f"tfb_validate: FAIL: {e}")
    print(f"tfb_validate: passed ({s['requests']} requests, {s['matched']} rows read back after an update)")
