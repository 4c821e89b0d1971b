#!/usr/bin/env bash
# bench/recovery.sh - how long a start takes to replay a full write-ahead log.
#
#   bench/recovery.sh [--mb MB] [--keys K]
#
# Starts Obelisk (fsync always) with checkpoints pushed out of the way (wal-checkpoint-bytes
# 64gb, wal-checkpoint-seconds 86400), writes about MB MiB of 1 KiB XADDs over K keys (default
# 1024 MiB, 1000 keys) with redis-benchmark -P 16, and kills it with SIGKILL: the log then holds
# everything written since the start. Two restarts are timed, each from the same killed
# directory (copied aside first):
#   kill -9    the files as the kill left them: the replay compares each record with the file
#              and writes nothing (SIGKILL keeps the page cache);
#   power cut  every segment and index file cut to zero bytes first, as if nothing had reached
#              the disk since the files were created: the replay writes every record back.
# Each row gives the time from the start to "Ready to accept connections", the replay's own log
# line, and XLEN of one key before the kill and after the restart. The machine's page cache
# holds the log, so the figures are replay work, not disk reads. Every process started here is
# killed by its pid and the temp dir removed on exit.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
OBELISK=${OBELISK_SERVER:-$top/obelisk-server}
RBENCH=${REDIS_BENCHMARK:-redis-benchmark}
RCLI=${REDIS_CLI:-redis-cli}
mb=1024
keys=1000
while [ $# -gt 0 ]; do
  case $1 in
    --mb) mb=$2; shift 2 ;;
    --keys) keys=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-recovery.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
v1k=$(head -c 1024 /dev/zero | tr '\0' v)

start() { # DIR LOG -> PORT, pid, SECS (the seconds to ready)
  local t0 t1
  t0=$(date +%s.%N)
  "$OBELISK" --port 0 --bind 127.0.0.1 --dir "$1" --fsync always --wal-checkpoint-bytes 64gb \
    --wal-checkpoint-seconds 86400 >"$2" 2>&1 &
  pid=$!
  for _ in $(seq 1 60000); do
    if grep -q "Ready to accept connections" "$2" 2>/dev/null; then
      t1=$(date +%s.%N)
      PORT=$(sed -n 's/.*Running mode=standalone, port=\([0-9]*\).*/\1/p' "$2" | tail -n 1)
      SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "recovery.sh: the server did not start" >&2
  cat "$2" >&2
  exit 1
}

start "$tmp/data" "$tmp/first.log"
n=$((mb * 1024))
"$RBENCH" -p "$PORT" -c 50 -P 16 -r "$keys" -n "$n" -q XADD 't:__rand_int__' '*' f "$v1k" >/dev/null 2>&1
len=$("$RCLI" -p "$PORT" XLEN t:000000000007)
pending=$("$RCLI" -p "$PORT" INFO persistence | tr -d '\r' | sed -n 's/^wal_pending_bytes://p')
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=""
cp -a "$tmp/data" "$tmp/cut"
echo "# bench/recovery.sh, $(date -u '+%Y-%m-%d %H:%M UTC'): $n XADDs of 1 KiB over $keys keys," \
  "log pending at the kill: $pending bytes"
echo
echo "| restart | seconds to ready | replay (server log) | XLEN before / after |"
echo "|---|---:|---|---|"
start "$tmp/data" "$tmp/kill.log"
after=$("$RCLI" -p "$PORT" XLEN t:000000000007)
line=$(grep -o 'write-ahead log replayed.*' "$tmp/kill.log" | head -n 1)
echo "| kill -9 | $SECS | $line | $len / $after |"
kill "$pid"; wait "$pid" 2>/dev/null; pid=""
find "$tmp/cut" -path '*/db*/t_*' \( -name '*.log' -o -name '*.idx' \) ! -name groups.log \
  -exec truncate -s 0 {} +
start "$tmp/cut" "$tmp/cut.log"
after=$("$RCLI" -p "$PORT" XLEN t:000000000007)
line=$(grep -o 'write-ahead log replayed.*' "$tmp/cut.log" | head -n 1)
echo "| power cut (segments and indexes cut to 0) | $SECS | $line | $len / $after |"
kill "$pid"; wait "$pid" 2>/dev/null; pid=""
