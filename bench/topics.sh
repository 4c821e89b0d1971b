#!/usr/bin/env bash
# bench/topics.sh - how fast new streams come into being: Obelisk next to Redis, one run.
# Run `make` first; bench/xaddw.c is compiled into the temp dir with $CC (default cc).
#
#   bench/topics.sh [--keys K] [--secs S] [--runs N]
#
# Each run starts a fresh server on a free loopback port in a temporary directory, then 50
# connections write XADD with 16-byte values, 16 per pipeline, to K keys that do not exist yet
# (default 2,500: each pipeline writes 16 of them, in turn), for S seconds (default 1). Reported
# per run: the keys that exist at the end (DBSIZE) and the XADDs per second, and the time the
# run took (xaddw waits for every reply of the last pipelines, so a server that stalls on its
# creations ends late). Obelisk runs --fsync always (every new stream is a directory and three
# files, see docs/storage.md "Names made in a round"); Redis --appendonly yes --appendfsync
# always (a new stream is a key in memory). The servers alternate, N runs each (default 3).
# Every process started here is killed by its pid, the temp dir removed.
set -u
set -f

top=$(cd "$(dirname "$0")/.." && pwd)
keys=2500
secs=1
runs=3
while [ $# -gt 0 ]; do
  case $1 in
    --keys) keys=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: bench/topics.sh [--keys K] [--secs S] [--runs N]" >&2; exit 2 ;;
  esac
done

. "$top/bench/lib.sh"
bench_need topics.sh "$OBELISK" "$REDIS" "$RCLI" "$CC"
bench_init topics

XW=$tmp/xaddw
"$CC" -O2 -o "$XW" "$top/bench/xaddw.c" || { echo "topics.sh: cannot build xaddw" >&2; exit 2; }

# one_run KIND N -> a table row: fresh server, the load, DBSIZE, the server stopped
one_run() {
  local kind=$1 n=$2 d=$tmp/$1-$2 out
  mkdir -p "$d"
  if [ "$kind" = obelisk ]; then
    bench_start_obelisk "$d" --fsync always
  else
    bench_start_redis "$d" --appendonly yes --appendfsync always
  fi
  out=$("$XW" -p "$BENCH_PORT" -c 50 -P 16 -s "$secs" -k new -K "$keys" 2>&1 | tail -n 1)
  local made rate took
  made=$("$RCLI" -p "$BENCH_PORT" DBSIZE)
  rate=$(sed -n 's/.*xadds_per_sec=\([0-9]*\).*/\1/p' <<<"$out")
  took=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' <<<"$out")
  [ -n "$rate" ] || { echo "topics.sh: $kind: $out" >&2; exit 1; }
  bench_stop_pid "$BENCH_PID"
  rm -rf "$d"
  sync
  echo "| $n | $kind | $made | $rate | $took |"
}

echo "## New streams: 50 connections, P16, XADD to $keys keys that do not exist yet, ${secs}s a run"
echo
echo "| run | server | keys at the end | XADD/s | run took (s) |"
echo "|---:|---|---:|---:|---:|"
for n in $(seq 1 "$runs"); do
  one_run obelisk "$n"
  one_run redis "$n"
done
