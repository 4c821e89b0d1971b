#!/usr/bin/env bash
# bench/ab.sh - A/B of two obelisk-server builds on the XADD rows of bench/streams.sh, run back
# to back and interleaved (A, B, A, B ...) so that drift of the machine hits both alike.
#
#   bench/ab.sh A_BINARY B_BINARY [--rounds N] [--secs S] [--passes "always everysec"] [--tls]
#               [--keys "1000 10000"] [--no-base] [--xrg]
#
# Each round starts a fresh server of each build (A first in odd rounds, B first in even ones, so
# that whatever one run leaves behind does not always fall on the same build; each run's files
# are removed and synced away before the next starts) (temp dir, free loopback port) per fsync
# policy and runs, calibrated to about S seconds each (redis-benchmark, 50 clients):
#   XADD 16 B unpipelined, XADD 16 B -P 16, XADD 1 KiB -P 16, and single-client XADD p50 (ms).
# Output: one Markdown table per policy with the median of the rounds for A and B and B/A
# (for the latency row, lower is better). --keys adds, per key count K, XADD 16 B over K keys
# (t:__rand_int__ with -r K, every key created first) unpipelined and -P 16, as the topics rows
# of bench/streams.sh (with the descriptor share raised the same way when the limit allows);
# --no-base leaves out the four rows above. --xrg adds the consumer-group row of bench/streams.sh:
# XREADGROUP COUNT 10 + XACK over 50 connections (bench/xrg.c) on a stream preloaded with 1,000,000
# entries, entries/s. With AB_KEEP=PREFIX set, each run's figures are also appended to
# PREFIX.<policy>-<A|B> (one line per row, runs one after another), to see the spread. With --tls every run goes over mutual TLS (a TLS-only
# server: port 0 beside a free tls-port, and certificates made once by bench_mkcerts in the temp dir,
# as bench/tls.sh does). Every process started here is killed by its pid.
set -u
set -f
[ $# -ge 2 ] || { echo "usage: $0 A_BINARY B_BINARY [--rounds N] [--secs S] [--passes P]" >&2; exit 2; }
A=$1
B=$2
shift 2
rounds=3
secs=3
passes="always everysec"
tls=0
keys=""
base=1
xrg=0
while [ $# -gt 0 ]; do
  case $1 in
    --keys) keys=$2; shift 2 ;;
    --no-base) base=0; shift ;;
    --xrg) xrg=1; shift ;;
    --rounds) rounds=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --tls) tls=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
RBENCH=${REDIS_BENCHMARK:-redis-benchmark}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-ab.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
server_tls=()
client_tls=()
if [ $tls = 1 ]; then
  top=$(cd "$(dirname "$0")/.." && pwd)
  . "$top/bench/lib.sh"
  mkdir -p "$tmp/certs"
  bench_mkcerts "$tmp/certs" || { echo "ab.sh: openssl failed" >&2; cat "$tmp/certs/openssl.log" >&2; exit 1; }
  c=$tmp/certs
  server_tls=(--tls-cert-file "$c/server.crt" --tls-key-file "$c/server.key"
    --tls-ca-cert-file "$c/ca.crt")
  client_tls=(--tls --cacert "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key")
fi
v16=0123456789abcdef
RCLI=${REDIS_CLI:-redis-cli}
if [ $xrg = 1 ]; then
  XRG=$tmp/xrg
  "${CC:-cc}" -O2 -o "$XRG" "$(dirname "$0")/xrg.c" || { echo "ab.sh: cannot build xrg.c" >&2; exit 2; }
  awk 'BEGIN { for (i = 0; i < 1000000; i++)
      printf "*5\r\n$4\r\nXADD\r\n$3\r\nbig\r\n$1\r\n*\r\n$1\r\nf\r\n$16\r\n%016d\r\n", i }' \
    >"$tmp/preload.resp"
fi
v1k=$(head -c 1024 /dev/zero | tr '\0' v)

start() { # BINARY POLICY NAME -> PORT, PID
  local d=$tmp/$3
  rm -rf "$d"
  mkdir -p "$d"
  local tport=()
  [ $tls = 1 ] && tport=(--tls-port "$(free_port)") # TLS only: the port it logs is this one
  "$1" --port 0 --bind 127.0.0.1 --dir "$d/data" --fsync "$2" "${tport[@]}" "${server_tls[@]}" \
    "${key_opts[@]}" >"$d/log" 2>&1 &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 1 500); do
    if grep -q "Ready to accept connections" "$d/log" 2>/dev/null; then
      PORT=$(sed -n 's/.*Running mode=standalone, port=\([0-9]*\).*/\1/p' "$d/log" | tail -n 1)
      return 0
    fi
    sleep 0.02
  done
  echo "ab.sh: $1 did not start" >&2
  exit 1
}

rb() { # PORT N PIPELINE CMD... -> req/s
  local port=$1 n=$2 p=$3
  shift 3
  "$RBENCH" -h 127.0.0.1 -p "$port" "${client_tls[@]}" -n "$n" -c 50 -P "$p" -q "$@" 2>&1 |
    tr '\r' '\n' |
    sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}

measure() { # PORT PIPELINE CMD... -> req/s of a run of about $secs seconds
  local port=$1 p=$2
  shift 2
  local est n
  est=$(rb "$port" $((2000 * p)) "$p" "$@")
  n=$(awk -v e="${est:-0}" -v s="$secs" 'BEGIN { n = int(e * s); if (n < 2000) n = 2000; print n }')
  rb "$port" "$n" "$p" "$@"
}

p50() { # PORT -> single-client XADD p50 in ms
  "$RBENCH" -h 127.0.0.1 -p "$1" "${client_tls[@]}" -n 5000 -c 1 -P 1 --precision 3 \
    XADD lat '*' f "$v16" 2>&1 |
    tr '\r' '\n' | awk '/latency summary/ { getline; getline; print $3; exit }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

rows=()
[ $base = 1 ] && rows=("XADD 16 B, P1" "XADD 16 B, P16" "XADD 1 KiB, P16" "XADD 1 client, p50 ms")
maxkeys=0
for k in $keys; do
  rows+=("XADD 16 B over $k keys, P1" "XADD 16 B over $k keys, P16")
  [ "$k" -gt $maxkeys ] && maxkeys=$k
done
[ $xrg = 1 ] && rows+=("XREADGROUP COUNT 10 + XACK, 50 connections (entries/s)")
key_opts=()
# 10,000 topics hold 10,000 directory descriptors: storage's share is raised for them as
# bench/streams.sh does (docs/storage.md, "Descriptor budget")
if [ $maxkeys -gt 1000 ] && [ "$(ulimit -n)" -ge 16000 ]; then
  key_opts=(--maxclients 1000 --max-open-files-storage $(($(ulimit -n) - 1100)))
fi
for pol in $passes; do
  for r in $(seq 1 "$rounds"); do
    order="A B"
    [ $((r % 2)) -eq 0 ] && order="B A"
    for side in $order; do
      bin=$A
      [ $side = B ] && bin=$B
      start "$bin" "$pol" "$side"
      {
        if [ $base = 1 ]; then
          measure "$PORT" 1 XADD s1 '*' f "$v16"
          measure "$PORT" 16 XADD s16 '*' f "$v16"
          measure "$PORT" 16 XADD s1k '*' f "$v1k"
          p50 "$PORT"
        fi
        if [ $maxkeys -gt 0 ]; then # the keys exist before the rows: appends, not creates
          rb "$PORT" 100000 16 -r "$maxkeys" XADD 't:__rand_int__' '*' f "$v16" >/dev/null
        fi
        for k in $keys; do
          measure "$PORT" 1 -r "$k" XADD 't:__rand_int__' '*' f "$v16"
          measure "$PORT" 16 -r "$k" XADD 't:__rand_int__' '*' f "$v16"
        done
        if [ $xrg = 1 ]; then
          "$RCLI" -p "$PORT" "${client_tls[@]}" --pipe <"$tmp/preload.resp" >/dev/null 2>&1
          "$RCLI" -p "$PORT" "${client_tls[@]}" XGROUP CREATE big g 0 >/dev/null
          "$XRG" -p "$PORT" -c 50 -s "$secs" -k big -g g -n 10 2>&1 |
            sed -n 's/.*entries_per_sec=\([0-9]*\).*/\1/p'
        fi
      } >"$tmp/$pol-$side-$r"
      [ -n "${AB_KEEP:-}" ] && cat "$tmp/$pol-$side-$r" >>"$AB_KEEP.$pol-$side"
      kill "$PID"
      wait "$PID" 2>/dev/null
      rm -rf "$tmp/$side"
      sync # the next run starts with no writeback of this one's files in flight
    done
  done
  echo
  echo "fsync $pol, $rounds rounds (median), A = $A, B = $B"
  echo
  echo "| workload | A | B | B/A |"
  echo "|---|---:|---:|---:|"
  for i in "${!rows[@]}"; do
    a=$(for r in $(seq 1 "$rounds"); do sed -n "$((i + 1))p" "$tmp/$pol-A-$r"; done | median)
    b=$(for r in $(seq 1 "$rounds"); do sed -n "$((i + 1))p" "$tmp/$pol-B-$r"; done | median)
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", b / a; else print "-" }')
    echo "| ${rows[$i]} | $a | $b | $ratio |"
  done
done
