#!/usr/bin/env bash
# bench/scale.sh - Obelisk and redis-server at scale: memory, bytes on disk, restart times.
# Builds nothing: run `make` first.
#
#   bench/scale.sh [--entries N] [--big] [--no-redis]
#
# Appends N small entries (default 10,000,000; --big = 100,000,000 with checkpoints at 10M and
# 50M) to ONE stream key "s" (XADD s * f <16-byte value>), generated as raw RESP by awk and sent
# through `redis-cli --pipe`, first to Obelisk, then to Redis, each a fresh server on a free
# loopback port in a temp dir, both with their durable settings:
#   Obelisk --fsync always (default cache-max-bytes 256mb)
#   Redis   --appendonly yes --appendfsync always --save '' (auto AOF rewrite left at its default)
# Reports, for Obelisk: load rate, VmRSS from /proc/<pid>/status at each checkpoint, bytes of the
# data dir (du --apparent-size and du allocated) per entry, clean restart time (SHUTDOWN, start,
# time until the "Ready to accept connections" log line and until a PING answers +PONG; the
# server's own "DB loaded from disk: X seconds" line), restart time after kill -9, and VmRSS after
# the restart. For Redis: load rate, used_memory_rss (INFO memory) and VmRSS, size of
# appendonlydir after the load (once any automatic rewrite has finished) and after an explicit
# BGREWRITEAOF, restart time from the AOF, and restart time from an RDB (SAVE, then restart with
# --appendonly no). Restart times are measured from just before the server is spawned, polling
# the log with grep and PING over bash's /dev/tcp (about 1-2 ms resolution).
# --no-redis skips the Redis half (useful for --big on a small machine).
# Environment: OBELISK_SERVER, REDIS_SERVER, REDIS_CLI override the binaries.
# Every process started here is killed by its pid and the temp dir removed on exit.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
OBELISK=${OBELISK_SERVER:-$top/obelisk-server}
REDIS=${REDIS_SERVER:-redis-server}
RCLI=${REDIS_CLI:-redis-cli}
entries=10000000
big=0
do_redis=1
while [ $# -gt 0 ]; do
  case $1 in
    --entries) entries=$2; shift 2 ;;
    --big) big=1; entries=100000000; shift ;;
    --no-redis) do_redis=0; shift ;;
    *) echo "usage: $0 [--entries N] [--big] [--no-redis]" >&2; exit 2 ;;
  esac
done
if [ "$big" = 1 ]; then checkpoints="10000000 50000000 100000000"; else checkpoints=$entries; fi

. "$top/bench/lib.sh"
bench_need scale.sh "$OBELISK" "$REDIS" "$RCLI"
bench_init scale

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

ping_pong() { # PORT -> success when the server answers +PONG
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local r=
  read -r -t 2 r <&3
  exec 3<&- 3>&-
  [ "${r%$'\r'}" = "+PONG" ]
}

# wait_up PID LOG PORT T0 -> sets UP_READY (log line seen, s), UP_PONG (PING answered, s)
wait_up() {
  local pid=$1 log=$2 port=$3 t0=$4
  UP_READY=- UP_PONG=-
  while :; do
    if [ "$UP_READY" = - ] && grep -q "Ready to accept connections" "$log" 2>/dev/null; then
      UP_READY=$(since "$t0")
    fi
    if [ "$UP_PONG" = - ] && ping_pong "$port"; then UP_PONG=$(since "$t0"); fi
    [ "$UP_READY" != - ] && [ "$UP_PONG" != - ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "scale.sh: server $pid died; log:" >&2
      tail -n 20 "$log" >&2
      exit 1
    fi
  done
}

stop_wait() { # PID: wait for a server we asked to stop
  wait "$1" 2>/dev/null
}

# start_obelisk -> OBK_PID, sets UP_*; uses OBK_PORT, OBK_DIR
start_obelisk() {
  local log=$OBK_DIR/server.log.$((++obk_starts))
  local t0
  t0=$(now)
  "$OBELISK" --port "$OBK_PORT" --bind 127.0.0.1 --dir "$OBK_DIR/data" --fsync always \
    >"$log" 2>&1 &
  OBK_PID=$!
  pids+=("$OBK_PID")
  wait_up "$OBK_PID" "$log" "$OBK_PORT" "$t0"
  OBK_LOG=$log
}

# start_redis APPENDONLY(yes|no) -> RDS_PID, sets UP_*; uses RDS_PORT, RDS_DIR
start_redis() {
  local log=$RDS_DIR/redis.log.$((++rds_starts))
  local t0
  t0=$(now)
  "$REDIS" --port "$RDS_PORT" --bind 127.0.0.1 --dir "$RDS_DIR" --daemonize no --logfile "$log" \
    --save '' --appendonly "$1" --appendfsync always &
  RDS_PID=$!
  pids+=("$RDS_PID")
  wait_up "$RDS_PID" "$log" "$RDS_PORT" "$t0"
  RDS_LOG=$log
}

# load PORT FROM TO: XADD s * f <16 bytes> for i in [FROM, TO) -> LOAD_T seconds; checks errors
load() {
  local t0 out
  t0=$(now)
  out=$(awk -v a="$2" -v b="$3" 'BEGIN { for (i = a; i < b; i++)
      printf "*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$1\r\nf\r\n$16\r\n%016d\r\n", i }' |
    "$RCLI" -p "$1" --pipe 2>&1 | tail -n 1)
  local t
  t=$(since "$t0")
  case $out in
    "errors: 0, replies: $(($3 - $2))") ;;
    *) echo "scale.sh: load on port $1 failed: $out" >&2; exit 1 ;;
  esac
  LOAD_T=$t
}

xlen_check() { # PORT
  local n
  n=$("$RCLI" -p "$1" XLEN s)
  [ "$n" = "$entries" ] || { echo "scale.sh: XLEN s = $n on port $1, expected $entries" >&2; exit 1; }
}

first_reads() { # PORT -> "oldest s / newest s": first XRANGE - + COUNT 10, XREVRANGE + - COUNT 10
  local t0 a b
  t0=$(now)
  [ "$("$RCLI" -p "$1" XRANGE s - + COUNT 10 | wc -l)" -ge 10 ] || echo "scale.sh: XRANGE failed" >&2
  a=$(since "$t0")
  t0=$(now)
  [ "$("$RCLI" -p "$1" XREVRANGE s + - COUNT 10 | wc -l)" -ge 10 ] || echo "scale.sh: XREVRANGE failed" >&2
  b=$(since "$t0")
  echo "$a s / $b s"
}

vmrss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
per_entry() { awk -v b="$1" -v n="$entries" 'BEGIN { printf "%.2f", b / n }'; }
loaded_line() { sed -n "s/.*\(DB loaded from [^:]*: [0-9.]* seconds\).*/\1/p" "$1" | tail -n 1; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

echo "# bench/scale.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $entries entries of 16 B in one stream"
echo "# $(nproc) CPUs, $("$REDIS" --version | awk '{print $1, $2, $3}'), $("$OBELISK" --version 2>/dev/null | head -n 1)"

# ---------------------------------------------------------------- Obelisk
OBK_DIR=$tmp/obelisk
mkdir -p "$OBK_DIR"
OBK_PORT=$(free_port)
obk_starts=0
start_obelisk
echo
echo "## Obelisk (--fsync always, default cache-max-bytes)"
echo
echo "| measure | value |"
echo "|---|---:|"
from=0
for cp in $checkpoints; do
  load "$OBK_PORT" "$from" "$cp"
  t=$LOAD_T
  echo "| load $from..$cp: time, rate | $t s, $(rate $((cp - from)) "$t") entries/s |"
  echo "| VmRSS at $cp entries | $(mib "$(vmrss_kb "$OBK_PID")") |"
  from=$cp
done
xlen_check "$OBK_PORT"
sleep 1 # let the last group commit and checkpoint settle
echo "| VmRSS after the load (1 s idle) | $(mib "$(vmrss_kb "$OBK_PID")") |"
cache=$("$RCLI" -p "$OBK_PORT" INFO obelisk | tr -d '\r' | sed -n 's/^cache_used_bytes_human:\(.*\)/\1/p')
echo "| cache_used_bytes (INFO obelisk) | $cache |"
app=$(du -sb --apparent-size "$OBK_DIR/data" | cut -f1)
alloc=$(($(du -sk "$OBK_DIR/data" | cut -f1) * 1024))
echo "| data dir, apparent size / per entry | $app B / $(per_entry "$app") B |"
echo "| data dir, allocated (du -sk) / per entry | $alloc B / $(per_entry "$alloc") B |"
t0=$(now)
"$RCLI" -p "$OBK_PORT" SHUTDOWN >/dev/null 2>&1
stop_wait "$OBK_PID"
echo "| SHUTDOWN (until the process exited) | $(since "$t0") s |"
start_obelisk
fr=$(first_reads "$OBK_PORT")
xlen_check "$OBK_PORT"
echo "| clean restart: Ready log line / PING answered | $UP_READY s / $UP_PONG s |"
echo "| after it, first XRANGE - + COUNT 10 / XREVRANGE + - COUNT 10 (incl. redis-cli start) | $fr |"
echo "| clean restart: server's log | $(loaded_line "$OBK_LOG") |"
echo "| VmRSS after the clean restart | $(mib "$(vmrss_kb "$OBK_PID")") |"
kill -9 "$OBK_PID"
stop_wait "$OBK_PID"
start_obelisk
fr=$(first_reads "$OBK_PORT")
xlen_check "$OBK_PORT"
echo "| restart after kill -9: Ready log line / PING answered | $UP_READY s / $UP_PONG s |"
echo "| after it, first XRANGE - + COUNT 10 / XREVRANGE + - COUNT 10 (incl. redis-cli start) | $fr |"
echo "| restart after kill -9: server's log | $(loaded_line "$OBK_LOG") |"
kill "$OBK_PID"
stop_wait "$OBK_PID"
rm -rf "$OBK_DIR"

# ---------------------------------------------------------------- Redis
if [ "$do_redis" = 1 ]; then
  RDS_DIR=$tmp/redis
  mkdir -p "$RDS_DIR"
  RDS_PORT=$(free_port)
  rds_starts=0
  start_redis yes
  echo
  echo "## Redis (--appendonly yes --appendfsync always --save '')"
  echo
  echo "| measure | value |"
  echo "|---|---:|"
  from=0
  for cp in $checkpoints; do
    load "$RDS_PORT" "$from" "$cp"
    t=$LOAD_T
    echo "| load $from..$cp: time, rate | $t s, $(rate $((cp - from)) "$t") entries/s |"
    rss=$("$RCLI" -p "$RDS_PORT" INFO memory | tr -d '\r' | sed -n 's/^used_memory_rss:\(.*\)/\1/p')
    echo "| used_memory_rss / VmRSS at $cp entries | $(mib $((rss / 1024))) / $(mib "$(vmrss_kb "$RDS_PID")") |"
    from=$cp
  done
  xlen_check "$RDS_PORT"
  rw_wait() {
    while "$RCLI" -p "$RDS_PORT" INFO persistence | tr -d '\r' |
      grep -Eq '^(aof_rewrite_in_progress:1|aof_rewrite_scheduled:1)'; do sleep 0.2; done
  }
  rw_wait
  um=$("$RCLI" -p "$RDS_PORT" INFO memory | tr -d '\r' | sed -n 's/^used_memory:\(.*\)/\1/p')
  echo "| used_memory (INFO memory) after the load | $(mib $((um / 1024))) |"
  aof=$(du -sb --apparent-size "$RDS_DIR/appendonlydir" | cut -f1)
  echo "| appendonlydir after the load (auto rewrites: $(grep -c 'Background append only file rewriting started' "$RDS_LOG")) / per entry | $aof B / $(per_entry "$aof") B |"
  "$RCLI" -p "$RDS_PORT" BGREWRITEAOF >/dev/null
  sleep 0.5
  rw_wait
  aof2=$(du -sb --apparent-size "$RDS_DIR/appendonlydir" | cut -f1)
  echo "| appendonlydir after BGREWRITEAOF (RDB preamble) / per entry | $aof2 B / $(per_entry "$aof2") B |"
  "$RCLI" -p "$RDS_PORT" SHUTDOWN >/dev/null 2>&1
  stop_wait "$RDS_PID"
  start_redis yes
  fr=$(first_reads "$RDS_PORT")
  xlen_check "$RDS_PORT"
  echo "| restart from the AOF: Ready log line / PING answered | $UP_READY s / $UP_PONG s |"
  echo "| after it, first XRANGE - + COUNT 10 / XREVRANGE + - COUNT 10 (incl. redis-cli start) | $fr |"
  echo "| restart from the AOF: server's log | $(loaded_line "$RDS_LOG") |"
  t0=$(now)
  "$RCLI" -p "$RDS_PORT" SAVE >/dev/null
  echo "| SAVE | $(since "$t0") s |"
  rdb=$(du -sb --apparent-size "$RDS_DIR/dump.rdb" | cut -f1)
  echo "| dump.rdb / per entry | $rdb B / $(per_entry "$rdb") B |"
  "$RCLI" -p "$RDS_PORT" SHUTDOWN NOSAVE >/dev/null 2>&1
  stop_wait "$RDS_PID"
  start_redis no
  xlen_check "$RDS_PORT"
  echo "| restart from the RDB (appendonly no): Ready log line / PING answered | $UP_READY s / $UP_PONG s |"
  echo "| restart from the RDB: server's log | $(loaded_line "$RDS_LOG") |"
  kill "$RDS_PID"
  stop_wait "$RDS_PID"
fi
