#!/usr/bin/env bash
# What a user sees of a streamed response: `curl -N` on tests/sse_app.py's SSE endpoint under
# `python -m rswsgi.dev`, each line stamped with the ms since the request started, and, 1.25 s
# into the stream, `curl` of /page on a second connection (capped at 5 s).
#
#   bench/probe_sse.sh [INTERVAL_S [COUNT]]     # default: events 3 s apart, 3 of them
#
# Run from anywhere, with the venv that has rswsgi and flask active. Every step is bounded:
# the stream by `timeout`, each curl by --max-time; the server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
interval=${1:-3}
count=${2:-3}
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python -m rswsgi.dev tests.sse_app:app --port "$port" --quiet &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/page" && break
    sleep 0.1
done
limit=$(python -c "print(int($interval * ($count - 1) + 5))")
echo "# rswsgi.dev on :$port; events $interval s apart, $count of them; ms since the request"
start=$(date +%s%N)
(
    sleep 1.25
    t=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} after %{time_total} s' \
        "http://127.0.0.1:$port/page") || t="$t: no answer within 5 s"
    echo "# /page on another connection, sent at 1250 ms: $t"
) &
other=$!
timeout "$limit" curl -sN "http://127.0.0.1:$port/events?interval=$interval&count=$count" |
    while IFS= read -r line; do
        printf '%6d ms  %s\n' $((($(date +%s%N) - start) / 1000000)) "$line"
    done || true
wait "$other" || true
