#!/usr/bin/env bash
# bench/http.sh - the HTTP API next to the same work over RESP, one Obelisk, one run.
# Builds nothing: run `make all tests-build` first (it compiles bench/http_load.c).
#
#   bench/http.sh [--secs S] [--fsync always|everysec|no] [--conns N] [--tails N] [--events N]
#
# Rows (16-byte values, keep-alive connections, N connections, default 50):
#   - RESP XADD -P 16 (redis-benchmark, pipelined 16): entries/s, the reference;
#   - HTTP produce, one entry per request: entries/s;
#   - HTTP produce, batches of 100 entries per request: entries/s, and its ratio to the RESP
#     row (goal: at least 0.5);
#   - SSE fan-out: --tails live tails (default 100) on one topic; --events XADDs (default 200)
#     over RESP, one at a time; for each, the time from the XADD's reply (its durable
#     acknowledgement) to each tail receiving the event: p50, p99 (goal: p99 at most 5 ms), max.
# Every process started here is killed by its pid and the temp dir removed on exit.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
OBELISK=${OBELISK_SERVER:-$top/obelisk-server}
RBENCH=${REDIS_BENCHMARK:-redis-benchmark}
LOAD=${HTTP_LOAD:-$top/build/bench/http_load}
secs=5
fsync=always
conns=50
tails=100
events=200
while [ $# -gt 0 ]; do
  case $1 in
    --secs) secs=$2; shift 2 ;;
    --fsync) fsync=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --tails) tails=$2; shift 2 ;;
    --events) events=$2; shift 2 ;;
    *) echo "usage: $0 [--secs S] [--fsync POLICY] [--conns N] [--tails N] [--events N]" >&2; exit 2 ;;
  esac
done
for b in "$OBELISK" "$RBENCH" "$LOAD"; do
  command -v "$b" >/dev/null 2>&1 || { echo "http.sh: $b not found (make all tests-build?)" >&2; exit 2; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-http-bench.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$OBELISK" --port 0 --bind 127.0.0.1 --http-port "$hport" --dir "$tmp/data" --fsync "$fsync" \
  --maxclients 10000 >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 500); do grep -q "Ready to accept connections" "$tmp/server.log" && break; sleep 0.02; done
port=$(sed -n 's/.*Running mode=standalone, port=\([0-9]*\).*/\1/p' "$tmp/server.log" | tail -n 1)
[ -n "$port" ] || { echo "http.sh: the server did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }

# RESP: redis-benchmark XADD -P 16 for about secs seconds (a probe calibrates -n)
probe=$("$RBENCH" -p "$port" -c "$conns" -P 16 -n 20000 -q XADD resp '*' f 0123456789abcdef |
  tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
n=$(python3 -c "print(max(20000, int(float('${probe:-20000}') * $secs)))")
resp=$("$RBENCH" -p "$port" -c "$conns" -P 16 -n "$n" -q XADD resp '*' f 0123456789abcdef |
  tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
single=$("$LOAD" produce "$hport" single "$conns" "$secs" 1 16 | sed -n 's/^entries\/s //p')
batch=$("$LOAD" produce "$hport" batch "$conns" "$secs" 100 16 | sed -n 's/^entries\/s //p')
sse=$("$LOAD" tail "$hport" "$port" fan "$tails" "$events")

ratio=$(python3 -c "print(f'{float(\"${batch:-0}\") / float(\"${resp:-1}\"):.2f}')")
echo "## HTTP API next to RESP (fsync $fsync, $conns connections, 16-byte values, ${secs}s)"
echo
echo "| workload | entries/s | vs RESP -P 16 |"
echo "|---|---|---|"
echo "| RESP XADD -P 16 | ${resp:-?} | 1.00 |"
echo "| HTTP produce, 1 per request | ${single:-?} | $(python3 -c "print(f'{float(\"${single:-0}\") / float(\"${resp:-1}\"):.2f}')") |"
echo "| HTTP produce, 100 per request | ${batch:-?} | $ratio (goal >= 0.5) |"
echo
echo "## SSE fan-out: $tails tails, $events entries, acknowledgement to event (goal p99 <= 5 ms)"
echo
echo '```'
echo "$sse"
echo '```'
