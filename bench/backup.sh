#!/usr/bin/env bash
# bench/backup.sh - XADD throughput while backups run, Obelisk next to Redis, one run.
# Run `make` first; bench/xaddw.c is compiled into the temp dir with $CC (default cc).
#
#   bench/backup.sh [--entries N] [--secs S] [--rounds R] [--rate BYTES]
#
# Each server (Obelisk --fsync always, Redis --appendonly yes --appendfsync always) is loaded
# with N entries (default 10,000,000; 16-byte values, redis-benchmark -P 16). Then, per round,
# xaddw (50 connections, 16 per pipeline, 16-byte values) writes to another key for S seconds
# (default 20) while, one second in, one backup runs: Obelisk BACKUP into a new directory (its
# sealed segments hard-linked, the rest copied), Redis BGSAVE (a fork writing an RDB). The
# XADD rate during the backup is the growth of that key's XLEN over the backup's duration;
# the rate without is the same growth over a window of the same length after it, xaddw still
# running. --rate sets Obelisk's backup-max-bytes-per-sec (default 64mb, the server's; 0: no limit). R rounds
# (default 2); the medians. Output: a Markdown table. Every process started
# here is killed by its pid, the temp dir removed.
set -u
set -f

top=$(cd "$(dirname "$0")/.." && pwd)
entries=10000000
secs=20
rounds=2
rate=64mb
while [ $# -gt 0 ]; do
  case $1 in
    --entries) entries=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    *) echo "usage: $0 [--entries N] [--secs S] [--rounds R] [--rate BYTES]" >&2; exit 2 ;;
  esac
done

. "$top/bench/lib.sh"
bench_need backup.sh "$OBELISK" "$REDIS" "$RBENCH" "$RCLI" "$CC"
bench_init backup

XW=$tmp/xaddw
"$CC" -O2 -o "$XW" "$top/bench/xaddw.c" || { echo "backup.sh: cannot build xaddw" >&2; exit 2; }

mkdir -p "$tmp/obelisk" "$tmp/redis" "$tmp/backups"
bench_start_obelisk "$tmp/obelisk" --fsync always --backup-max-bytes-per-sec "$rate"
OP=$BENCH_PORT
bench_start_redis "$tmp/redis" --appendonly yes --appendfsync always
RP=$BENCH_PORT
for p in $OP $RP; do
  "$RBENCH" -p "$p" -c 50 -P 16 -n "$entries" -q XADD big '*' f 0123456789abcdef >/dev/null 2>&1
done

now_ms() { date +%s%3N; }
xlen() { "$RCLI" -p "$1" XLEN w; }
rate() { awk -v a="$1" -v b="$2" -v ms="$3" 'BEGIN { printf "%.0f", (b - a) * 1000 / ms }'; }

# one_round PORT KIND: prints "rate_during rate_without backup_seconds"
n_backup=0
one_round() {
  local port=$1 kind=$2 t0 ms x0 x1 x2 x3
  "$XW" -p "$port" -c 50 -P 16 -s "$secs" -k w >/dev/null &
  local xpid=$!
  pids+=("$xpid")
  sleep 1
  x0=$(xlen "$port")
  t0=$(now_ms)
  if [ "$kind" = obelisk ]; then
    n_backup=$((n_backup + 1))
    "$RCLI" -p "$port" BACKUP "$tmp/backups/b$n_backup" >/dev/null
  else
    "$RCLI" -p "$port" BGSAVE >/dev/null
    while "$RCLI" -p "$port" INFO persistence | grep -q "rdb_bgsave_in_progress:1"; do
      sleep 0.01
    done
  fi
  ms=$(($(now_ms) - t0))
  x1=$(xlen "$port")
  sleep 0.5
  x2=$(xlen "$port")
  sleep "$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
  x3=$(xlen "$port")
  local wms=$ms
  kill -0 "$xpid" 2>/dev/null || echo "backup.sh: --secs too short for this backup" >&2
  wait "$xpid"
  rm -rf "$tmp/backups/b$n_backup"
  echo "$(rate "$x0" "$x1" "$ms") $(rate "$x2" "$x3" "$wms") $(awk -v ms="$ms" 'BEGIN { printf "%.2f", ms / 1000 }')"
}

declare -A RUNS
add() { RUNS[$1]="${RUNS[$1]:-} $2"; }
median() { echo "${RUNS[$1]}" | tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for _ in $(seq 1 "$rounds"); do
  for k in o r; do
    port=$OP kind=obelisk
    [ $k = r ] && port=$RP kind=redis
    read -r during without took <<<"$(one_round "$port" "$kind")"
    add $k-during "$during"; add $k-without "$without"; add $k-took "$took"
  done
done
obytes=$(du -sb "$tmp/obelisk/data" | cut -f1)
echo "### XADD P16 during one backup ($entries entries loaded; median of $rounds rounds)"
echo
echo "| server | XADD/s without | XADD/s during | during / without | backup time (s) |"
echo "|---|---:|---:|---:|---:|"
for k in o r; do
  name="Obelisk, BACKUP, backup-max-bytes-per-sec $rate (data directory $obytes bytes at the end)"
  [ $k = r ] && name="Redis, BGSAVE"
  w=$(median $k-without) d=$(median $k-during)
  echo "| $name | $w | $d | $(bench_ratio "$d" "$w") | $(median $k-took) |"
done
