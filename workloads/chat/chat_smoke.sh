#!/usr/bin/env bash
# chat_smoke.sh DIR — a smoke run (not a benchmark) of the chat built in DIR:
# 200 connections for a second in toc and cms modes, with --drop and with a
# rate, and over the in-process transport in toc and cms modes; the JSON has
# its figures, messages were delivered, and every connection object was
# finalized (chat exits 1 otherwise). Then a
# connection count no descriptor limit allows must fail with a message that
# says so.
set -euo pipefail
dir=$1
for args in "--mode=toc" "--mode=cms" "--mode=toc --drop --rate=5000" "--mode=stw --rate=2000" \
	"--mode=toc --transport=inproc" "--mode=cms --transport=inproc --drop"; do
	# shellcheck disable=SC2086
	out=$("$dir/chat" --connections=200 --rooms=10 --senders=8 --duration=1 --json $args 2>/dev/null) ||
		{ echo "FAIL: chat $args exited with $?"; exit 1; }
	python3 - "$out" "$args" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
for k in ("msgs_per_sec", "stw_max_us", "stw_p99_us", "rss_per_conn_kib", "deliveries_per_sec"):
    if k not in d:
        sys.exit(f"FAIL: chat {sys.argv[2]}: no {k} in {sys.argv[1]}")
if d["transport"] != ("inproc" if "inproc" in sys.argv[2] else "socket"):
    sys.exit(f"FAIL: chat {sys.argv[2]}: transport {d['transport']}")
if d["messages"] <= 0 or d["received"] <= 0 or d["finalized_conns"] != 200:
    sys.exit(f"FAIL: chat {sys.argv[2]}: {d['messages']} messages, {d['received']} received, "
             f"{d['finalized_conns']} finalized")
print(f"chat {sys.argv[2]}: {d['msgs_per_sec']:.0f} msgs/s, {d['received']} received, all finalized")
PY
done
if err=$("$dir/chat" --connections=1000000 --duration=1 2>&1); then
	echo "FAIL: a million connections did not fail"; exit 1
fi
grep -q "needs 2000256 descriptors" <<<"$err" || { echo "FAIL: unclear descriptor error: $err"; exit 1; }
echo "chat smoke passed"
