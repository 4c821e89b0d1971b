#!/usr/bin/env bash
# bench/compression.sh - zstd-compressed batches, Obelisk with and without, next to Redis, one
# run. Run `make` first; bench/xaddw.c is compiled into the temp dir with $CC (default cc).
#
#   bench/compression.sh [--events N] [--secs S] [--level L] [--rounds R]
#
# The data: N realistic events (default 200000; bench/events.py, seed 1: JSON with ids, URLs,
# user agents, timestamps; about 600 bytes each), the same entries with the same IDs in every
# server (loaded with redis-cli --pipe). Servers, each fresh on a free loopback port in a
# temporary directory:
#   zstd    obelisk-server --compression zstd --compression-level L (default 3)
#   plain   obelisk-server --compression none
#   redis   redis-server (its RDB: SAVE after the load)
# Rows:
#   - bytes on disk per event: the topic's segment files after a clean stop (Obelisk), dump.rdb
#     (Redis, listpacks with LZF);
#   - XADD P16 under fsync always (Redis: appendonly yes, appendfsync always), 50 connections,
#     16 per pipeline, the events as values (xaddw -e, `*` IDs), S seconds (default 10), the
#     median of R interleaved rounds (default 3), XADDs per second. Long rounds and the median,
#     because a server that writes five times the bytes reaches its first write-ahead log
#     checkpoint sooner: its first seconds are faster than its steady state;
#   - cold XRANGE COUNT 100: the servers restarted on the loaded data with cache-max-bytes 1mb
#     (the minimum: nearly every read misses the ring cache and decodes batches from the
#     segments, which the page cache holds), redis-benchmark -c 50 XRANGE ev <random> + COUNT
#     100 over the N IDs, the median of R rounds, requests per second. Redis answers from
#     memory.
# Output: Markdown tables. Every process started here is killed by its pid, the temp dir removed.
set -u
set -f

top=$(cd "$(dirname "$0")/.." && pwd)
events=200000
secs=10
level=3
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --events) events=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --level) level=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--events N] [--secs S] [--level L] [--rounds R]" >&2; exit 2 ;;
  esac
done

. "$top/bench/lib.sh"
bench_need compression.sh "$OBELISK" "$REDIS" "$RBENCH" "$RCLI" "$CC" "$PY"
bench_init compression

XW=$tmp/xaddw
"$CC" -O2 -o "$XW" "$top/bench/xaddw.c" || { echo "compression.sh: cannot build xaddw" >&2; exit 2; }
"$PY" "$top/bench/events.py" --count "$events" --ids >"$tmp/load.resp"
"$PY" "$top/bench/events.py" --count 100000 --seed 2 --key w >"$tmp/write.resp"

declare -A OPTS=([zstd]="--compression zstd --compression-level $level" [plain]="--compression none")

# start NAME KIND DIR [options...] -> PORT[NAME], PID[NAME] (KIND: obelisk or redis)
declare -A PORT PID
start() {
  local name=$1 kind=$2 dir=$3
  shift 3
  mkdir -p "$dir"
  if [ "$kind" = obelisk ]; then
    bench_start_obelisk "$dir" "$@"
  else
    bench_start_redis "$dir" "$@"
  fi
  PORT[$name]=$BENCH_PORT
  PID[$name]=$BENCH_PID
}

stop() { bench_stop_pid "${PID[$1]}"; }

segment_bytes() { find "$1" -name '*.log' -path '*/db*/*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'; }
per() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

# ---- bytes on disk, and the data for the cold reads ----
for n in zstd plain; do
  # shellcheck disable=SC2086
  start "$n" obelisk "$tmp/$n" --fsync everysec ${OPTS[$n]}
  "$RCLI" -p "${PORT[$n]}" --pipe <"$tmp/load.resp" >/dev/null
  "$RCLI" -p "${PORT[$n]}" SHUTDOWN >/dev/null 2>&1
  wait "${PID[$n]}" 2>/dev/null
done
start redis redis "$tmp/redis" --appendonly no
"$RCLI" -p "${PORT[redis]}" --pipe <"$tmp/load.resp" >/dev/null
"$RCLI" -p "${PORT[redis]}" SAVE >/dev/null
zb=$(segment_bytes "$tmp/zstd/data")
pb=$(segment_bytes "$tmp/plain/data")
rb=$(stat -c %s "$tmp/redis/dump.rdb")
echo "### Bytes on disk ($events events, level $level)"
echo
echo "| | bytes | bytes/event | zstd / this |"
echo "|---|---:|---:|---:|"
echo "| Obelisk zstd | $zb | $(per "$zb" "$events") | 1.00 |"
echo "| Obelisk plain | $pb | $(per "$pb" "$events") | $(bench_ratio "$zb" "$pb") |"
echo "| Redis RDB | $rb | $(per "$rb" "$events") | $(bench_ratio "$zb" "$rb") |"
echo

# ---- cold XRANGE COUNT 100 (redis keeps its loaded data) ----
for n in zstd plain; do
  start "$n" obelisk "$tmp/$n" --fsync everysec --cache-max-bytes 1mb
done
declare -A RUNS
xr() { # PORT -> requests per second
  "$RBENCH" -p "$1" -c 50 -n 100000 -r "$events" -q XRANGE ev __rand_int__ + COUNT 100 2>/dev/null |
    tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}
add() { RUNS[$1]="${RUNS[$1]:-} $2"; } # KEY VALUE
median() { echo "${RUNS[$1]}" | tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for _ in $(seq 1 "$rounds"); do
  for n in zstd plain redis; do add "xr-$n" "$(xr "${PORT[$n]}")"; done
done
for n in zstd plain redis; do stop "$n"; done

# ---- XADD P16 under fsync always ----
start zstd obelisk "$tmp/w-zstd" --fsync always ${OPTS[zstd]}
start plain obelisk "$tmp/w-plain" --fsync always ${OPTS[plain]}
start redis redis "$tmp/w-redis" --appendonly yes --appendfsync always
xw() { "$XW" -p "$1" -c 50 -P 16 -s "$secs" -e "$tmp/write.resp" | sed -n 's/.*xadds_per_sec=\([0-9]*\).*/\1/p'; }
for _ in $(seq 1 "$rounds"); do
  for n in zstd plain redis; do add "xw-$n" "$(xw "${PORT[$n]}")"; done
done
for n in zstd plain redis; do stop "$n"; done

echo "### Throughput (median of $rounds rounds)"
echo
echo "| row | Obelisk zstd | Obelisk plain | Redis | zstd / plain | zstd / Redis |"
echo "|---|---:|---:|---:|---:|---:|"
for r in xw xr; do
  label="XADD P16, always (XADDs/s)"
  [ "$r" = xr ] && label="cold XRANGE COUNT 100 (req/s)"
  z=$(median "$r-zstd") p=$(median "$r-plain") d=$(median "$r-redis")
  echo "| $label | $z | $p | $d | $(bench_ratio "$z" "$p") | $(bench_ratio "$z" "$d") |"
done
