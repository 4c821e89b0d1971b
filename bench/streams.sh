#!/usr/bin/env bash
# bench/streams.sh - Obelisk against a real redis-server, the same workloads, matching
# durability, one run. Builds the server nothing: run `make` first (it compiles bench/xrg.c, the
# consumer-group load generator, into its temp dir with $CC, default cc).
#
#   bench/streams.sh [--secs S] [--passes "always everysec no"] [--no-topics] [--only-topics]
#                    [--no-targets] [--cold-cache BYTES]
#
# For each pass, a fresh Obelisk and a fresh redis-server are started on free loopback ports in
# temporary directories:
#   always    Obelisk --fsync always     vs  Redis --appendonly yes --appendfsync always
#   everysec  Obelisk --fsync everysec   vs  Redis --appendonly yes --appendfsync everysec
#   no        Obelisk --fsync no         vs  Redis --save '' --appendonly no (persistence off)
# and every workload runs against Redis, then against Obelisk, back to back. Each
# redis-benchmark run's request count is calibrated per server by a short probe so that it lasts
# about S seconds (default 3). A 1M-entry stream ("big", 16-byte values) is preloaded into both
# with pipelined raw RESP through redis-cli --pipe for the XRANGE/XREAD/XREADGROUP workloads.
# Rows of a pass, in this order (reads first: the XADD rows append hundreds of MB to other keys
# and would push "big" out of Obelisk's cache; the hot rows' cache hits and misses are printed):
#   - redis-benchmark workloads PING, then XRANGE/XREAD on "big" (hot), req/s;
#   - XREADGROUP (below), then the XADD workloads (req/s), then the latency rows;
#   - XRANGE cold (Obelisk only): a third server, Obelisk --cache-max-bytes 16mb (--cold-cache),
#     preloaded with the same 1M entries, so `XRANGE big - + COUNT n` reads the oldest entries,
#     which the cache evicted, from the segment files (through the OS page cache, which stays
#     warm). Its Redis column repeats Redis's figure of the hot row (Redis has no cold path);
#   - XREADGROUP COUNT 10 + XACK, entries/s, by bench/xrg.c (50 connections, each looping on
#     XREADGROUP GROUP g c<i> COUNT 10 STREAMS big > then XACK of the IDs it got, until S seconds
#     or the stream is drained);
#   - single-client XADD latency p50/p99 in ms (redis-benchmark -c 1 -n 20000 --precision 3, its
#     latency summary; lower is better, so a ratio above 1 there means Obelisk is slower).
# Then the targets section starts Obelisk --fsync always next to Redis with persistence off (the
# project's target: durable XADD at least as fast as Redis without persistence) and runs the XADD
# rows and XREADGROUP. Then the topics section starts a fresh pair per pass (fsync policy, Redis
# as in that pass) and runs XADD over 1, 10, 1000 and 10000 keys (t:__rand_int__ with -r),
# unpipelined and with -P 16.
# Output: one Markdown table per section (workload, Redis, Obelisk, Obelisk/Redis).
# Environment: OBELISK_SERVER, REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI override the binaries.
# Every process started here is killed by its pid and the temp dir removed on exit.
set -u
set -f # the workloads contain '*' and '~'

top=$(cd "$(dirname "$0")/.." && pwd)
OBELISK=${OBELISK_SERVER:-$top/obelisk-server}
REDIS=${REDIS_SERVER:-redis-server}
RBENCH=${REDIS_BENCHMARK:-redis-benchmark}
RCLI=${REDIS_CLI:-redis-cli}
CC=${CC:-cc}
secs=3
passes="always everysec no"
do_passes=1
do_topics=1
do_targets=1
cold_cache=16mb
while [ $# -gt 0 ]; do
  case $1 in
    --secs) secs=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --no-topics) do_topics=0; shift ;;
    --no-targets) do_targets=0; shift ;;
    --only-topics) do_passes=0; do_targets=0; shift ;;
    --cold-cache) cold_cache=$2; shift 2 ;;
    *) echo "usage: $0 [--secs S] [--passes \"always everysec no\"] [--no-topics] [--only-topics]" \
         "[--no-targets] [--cold-cache BYTES]" >&2
       exit 2 ;;
  esac
done

. "$top/bench/lib.sh"
bench_need streams.sh "$OBELISK" "$REDIS" "$RBENCH" "$RCLI" "$CC"
bench_init bench

XRG=$tmp/xrg
"$CC" -O2 -o "$XRG" "$top/bench/xrg.c" || { echo "streams.sh: cannot build bench/xrg.c" >&2; exit 2; }

# start_obelisk NAME POLICY [extra options...] -> sets OBK_PORT, OBK_PID
start_obelisk() {
  local d=$tmp/$1 pol=$2
  shift 2
  mkdir -p "$d"
  "$OBELISK" --port 0 --bind 127.0.0.1 --dir "$d/data" --fsync "$pol" "$@" >"$d/server.log" 2>&1 &
  OBK_PID=$!
  pids+=("$OBK_PID")
  for _ in $(seq 1 500); do
    if grep -q "Ready to accept connections" "$d/server.log" 2>/dev/null; then
      OBK_PORT=$(sed -n 's/.*Running mode=standalone, port=\([0-9]*\).*/\1/p' "$d/server.log" | tail -n 1)
      return 0
    fi
    kill -0 "$OBK_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "streams.sh: obelisk-server did not start:" >&2
  cat "$d/server.log" >&2
  exit 1
}

# start_redis NAME POLICY -> sets RDS_PORT, RDS_PID
start_redis() {
  local d=$tmp/$1
  mkdir -p "$d"
  RDS_PORT=$(free_port)
  local persist
  case $2 in
    always) persist=(--save '' --appendonly yes --appendfsync always) ;;
    everysec) persist=(--save '' --appendonly yes --appendfsync everysec) ;;
    no) persist=(--save '' --appendonly no) ;;
  esac
  "$REDIS" --port "$RDS_PORT" --bind 127.0.0.1 --dir "$d" --daemonize no \
    --logfile "$d/redis.log" "${persist[@]}" &
  RDS_PID=$!
  pids+=("$RDS_PID")
  for _ in $(seq 1 500); do
    [ "$("$RCLI" -p "$RDS_PORT" PING 2>/dev/null)" = PONG ] && return 0
    kill -0 "$RDS_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "streams.sh: redis-server did not start" >&2
  cat "$d/redis.log" >&2
  exit 1
}

stop_pid() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# rb PORT N CLIENTS PIPELINE RANDOM CMD... -> requests per second (empty on failure)
rb() {
  local port=$1 n=$2 c=$3 p=$4 r=$5
  shift 5
  local ropt=()
  [ "$r" -gt 0 ] && ropt=(-r "$r")
  "$RBENCH" -h 127.0.0.1 -p "$port" -n "$n" -c "$c" -P "$p" "${ropt[@]}" -q "$@" 2>&1 |
    tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}

# measure PORT CLIENTS PIPELINE RANDOM CMD... -> req/s of a run calibrated to last ~secs
measure() {
  local port=$1 c=$2 p=$3 r=$4
  shift 4
  local probe=$((c * p * 40))
  [ $probe -lt 2000 ] && probe=2000
  local est
  est=$(rb "$port" "$probe" "$c" "$p" "$r" "$@")
  [ -z "$est" ] && { echo "-"; return; }
  local n
  n=$(awk -v e="$est" -v s="$secs" -v m="$probe" 'BEGIN { n = int(e * s); if (n < m) n = m;
        if (n > 20000000) n = 20000000; print n }')
  local v
  v=$(rb "$port" "$n" "$c" "$p" "$r" "$@")
  echo "${v:--}"
}

# latency PORT KEY -> "p50 p99" in ms of 20000 single-client unpipelined XADDs
latency() {
  "$RBENCH" -h 127.0.0.1 -p "$1" -n 20000 -c 1 -P 1 --precision 3 XADD "$2" '*' f "$v16" 2>&1 |
    tr '\r' '\n' | awk '/latency summary/ { getline; getline; print $3, $5; exit }'
}

# xrg_run PORT GROUP -> entries/s of XREADGROUP COUNT 10 + XACK over 50 connections on "big"
xrg_run() {
  if [ "$("$RCLI" -p "$1" XGROUP CREATE big "$2" 0)" != OK ]; then echo "-"; return; fi
  local out
  out=$("$XRG" -p "$1" -c 50 -s "$secs" -k big -g "$2" -n 10 2>&1)
  echo "$out" >>"$tmp/xrg.log"
  local v
  v=$(echo "$out" | sed -n 's/.*entries_per_sec=\([0-9]*\).*/\1/p')
  echo "${v:--}"
}

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", b / a; else print "-" }'
}

fmt() {
  awk -v a="$1" 'BEGIN { if (a + 0 > 0) printf "%.0f", a; else print "-" }'
}

fmtms() {
  awk -v a="$1" 'BEGIN { if (a + 0 > 0) printf "%.3f", a; else print "-" }'
}

row() { # NAME REDIS OBELISK [formatter]
  local f=${4:-fmt}
  echo "| $1 | $($f "$2") | $($f "$3") | $(ratio "$2" "$3") |"
}

# Preload: 1M XADD big * f <16 bytes> as raw RESP.
preload_file=$tmp/preload.resp
make_preload() {
  awk 'BEGIN { for (i = 0; i < 1000000; i++)
      printf "*5\r\n$4\r\nXADD\r\n$3\r\nbig\r\n$1\r\n*\r\n$1\r\nf\r\n$16\r\n%016d\r\n", i }' \
    >"$preload_file"
}

preload() { # PORT
  local out
  out=$("$RCLI" -p "$1" --pipe <"$preload_file" 2>&1 | tail -n 1)
  local len
  len=$("$RCLI" -p "$1" XLEN big)
  if [ "$len" != 1000000 ]; then
    echo "streams.sh: preload failed on port $1 (XLEN big = $len; $out)" >&2
    exit 1
  fi
}

value1k=$(head -c 1024 /dev/zero | tr '\0' 'v')
v16=0123456789abcdef

# id | name | clients | pipeline | random | command
# Read rows run before any XADD row: the XADD rows append hundreds of MB to other keys, and
# Obelisk's cache evicts the least recently appended topic ("big") first, which would turn the
# hot rows cold.
ping_loads=(
  "ping1|PING, 50 clients, P1|50|1|0|PING"
  "ping64|PING, 50 clients, P64|50|64|0|PING"
)
read_loads=(
  "xr10|XRANGE big - + COUNT 10 (1M entries, hot), 50 clients, P1|50|1|0|XRANGE big - + COUNT 10"
  "xr100|XRANGE big - + COUNT 100 (1M entries, hot), 50 clients, P1|50|1|0|XRANGE big - + COUNT 100"
  "xread100|XREAD COUNT 100 STREAMS big 0, 50 clients, P1|50|1|0|XREAD COUNT 100 STREAMS big 0"
)
write_loads=(
  "xadd1|XADD 16 B, 50 clients, P1|50|1|0|XADD s16a * f $v16"
  "xadd16|XADD 16 B, 50 clients, P16|50|16|0|XADD s16b * f $v16"
  "xadd1k|XADD 1 KiB, 50 clients, P16|50|16|0|XADD s1k * f $value1k"
  "xaddml|XADD MAXLEN ~ 1000, 50 clients, P16|50|16|0|XADD sml MAXLEN ~ 1000 * f $v16"
)

table_head() {
  echo "| workload | Redis | Obelisk | Obelisk/Redis |"
  echo "|---|---:|---:|---:|"
}

declare -A RES_R # Redis figures by row id (the cold rows repeat the hot one)
run_workloads() { # REDIS_PORT OBK_PORT workload...
  local rp=$1 op=$2
  shift 2
  local w id name c p r cmd a b
  for w in "$@"; do
    IFS='|' read -r id name c p r cmd <<<"$w"
    # shellcheck disable=SC2086 # word splitting of the command is wanted (noglob is on)
    a=$(measure "$rp" "$c" "$p" "$r" $cmd)
    # shellcheck disable=SC2086
    b=$(measure "$op" "$c" "$p" "$r" $cmd)
    RES_R[$id]=$a
    row "$name (req/s)" "$a" "$b"
  done
}

run_consumer() { # REDIS_PORT OBK_PORT TAG
  local a b
  a=$(xrg_run "$1" "g$3")
  b=$(xrg_run "$2" "g$3")
  row "XREADGROUP COUNT 10 + XACK, 50 connections (entries/s)" "$a" "$b"
}

run_latency() { # REDIS_PORT OBK_PORT TAG
  local la lb
  la=$(latency "$1" "lat$3")
  lb=$(latency "$2" "lat$3")
  row "XADD 16 B, 1 client, P1: latency p50 (ms)" "${la% *}" "${lb% *}" fmtms
  row "XADD 16 B, 1 client, P1: latency p99 (ms)" "${la#* }" "${lb#* }" fmtms
}

info_field() { # PORT FIELD
  "$RCLI" -p "$1" INFO obelisk 2>/dev/null | tr -d '\r' | sed -n "s/^$2:\(.*\)/\1/p"
}

echo "# bench/streams.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), ~${secs}s per run"
echo "# $(nproc) CPUs, $("$REDIS" --version | awk '{print $1, $2, $3}'), $("$OBELISK" --version 2>/dev/null | head -n 1)"
if [ "$do_passes" = 1 ] || [ "$do_targets" = 1 ]; then
  make_preload
fi
if [ "$do_passes" = 1 ]; then
  for pol in $passes; do
    case $pol in
      always) desc="Obelisk fsync always vs Redis appendonly yes, appendfsync always" ;;
      everysec) desc="Obelisk fsync everysec vs Redis appendonly yes, appendfsync everysec" ;;
      no) desc="Obelisk fsync no vs Redis persistence off (save '', appendonly no)" ;;
      *) echo "unknown pass $pol" >&2; exit 2 ;;
    esac
    start_redis "redis-$pol" "$pol"
    start_obelisk "obelisk-$pol" "$pol"
    t0=$SECONDS
    preload "$RDS_PORT"
    t1=$SECONDS
    preload "$OBK_PORT"
    t2=$SECONDS
    echo
    echo "## $desc"
    echo "(preload of 1M entries through redis-cli --pipe: Redis $((t1 - t0)) s, Obelisk $((t2 - t1)) s)"
    echo
    table_head
    run_workloads "$RDS_PORT" "$OBK_PORT" "${ping_loads[@]}"
    m0=$(info_field "$OBK_PORT" cache_misses)
    h0=$(info_field "$OBK_PORT" cache_hits)
    hot_cache=$(info_field "$OBK_PORT" cache_used_bytes)
    run_workloads "$RDS_PORT" "$OBK_PORT" "${read_loads[@]}"
    run_consumer "$RDS_PORT" "$OBK_PORT" "$pol"
    m1=$(info_field "$OBK_PORT" cache_misses)
    h1=$(info_field "$OBK_PORT" cache_hits)
    run_workloads "$RDS_PORT" "$OBK_PORT" "${write_loads[@]}"
    run_latency "$RDS_PORT" "$OBK_PORT" "$pol"
    hot_note="(hot server: cache_used_bytes $hot_cache after the preload; cache misses $((m1 - m0)), hits $((h1 - h0)) during the hot read rows and XREADGROUP)"
    stop_pid "$OBK_PID"
    # Cold reads: Obelisk with a small cache, the oldest entries are out of it.
    start_obelisk "obelisk-cold-$pol" "$pol" --cache-max-bytes "$cold_cache"
    preload "$OBK_PORT"
    m0=$(info_field "$OBK_PORT" cache_misses)
    h0=$(info_field "$OBK_PORT" cache_hits)
    for n in 10 100; do
      b=$(measure "$OBK_PORT" 50 1 0 XRANGE big - + COUNT $n)
      row "XRANGE big - + COUNT $n (1M entries, Obelisk cold: cache $cold_cache; Redis = hot row), 50 clients, P1 (req/s)" \
        "${RES_R[xr$n]}" "$b"
    done
    m1=$(info_field "$OBK_PORT" cache_misses)
    h1=$(info_field "$OBK_PORT" cache_hits)
    echo
    echo "$hot_note"
    echo "(cold server: cache_used_bytes $(info_field "$OBK_PORT" cache_used_bytes), cache misses" \
      "$((m1 - m0)), hits $((h1 - h0)) during the cold rows)"
    stop_pid "$OBK_PID"
    stop_pid "$RDS_PID"
    rm -rf "$tmp/redis-$pol" "$tmp/obelisk-$pol" "$tmp/obelisk-cold-$pol"
  done
fi

if [ "$do_targets" = 1 ]; then
  start_redis redis-target no
  start_obelisk obelisk-target always
  preload "$RDS_PORT"
  preload "$OBK_PORT"
  echo
  echo "## Target pairing: Obelisk fsync always vs Redis persistence off (save '', appendonly no)"
  echo
  table_head
  run_consumer "$RDS_PORT" "$OBK_PORT" target
  run_workloads "$RDS_PORT" "$OBK_PORT" "${write_loads[@]}"
  run_latency "$RDS_PORT" "$OBK_PORT" target
  stop_pid "$OBK_PID"
  stop_pid "$RDS_PID"
  rm -rf "$tmp/redis-target" "$tmp/obelisk-target"
fi

pinfo_field() { # PORT FIELD (INFO persistence)
  "$RCLI" -p "$1" INFO persistence 2>/dev/null | tr -d '\r' | sed -n "s/^$2:\(.*\)/\1/p"
}

if [ "$do_topics" = 1 ]; then
  # 10,000 topics hold 10,000 directory descriptors: storage's share must be raised for them, as
  # an operator would (docs/storage.md, "Descriptor budget"); without the limit for it the
  # 10,000-key rows are left out.
  nofile=$(ulimit -n)
  topic_keys="1 10 1000"
  topic_opts=()
  if [ "$nofile" -ge 16000 ]; then
    topic_keys="1 10 1000 10000"
    topic_opts=(--maxclients 1000 --max-open-files-storage $((nofile - 1100)))
  fi
  for pol in $passes; do
    start_redis "redis-topics-$pol" "$pol"
    start_obelisk "obelisk-topics-$pol" "$pol" "${topic_opts[@]}"
    # every key exists before the rows (Redis creates a key for free; Obelisk creates a
    # directory and a durable topic.meta): the rows measure appends, not creates
    for port in "$RDS_PORT" "$OBK_PORT"; do
      "$RBENCH" -p "$port" -c 50 -P 16 -r 10000 -n 100000 -q XADD t:__rand_int__ '*' f "$v16" \
        >/dev/null 2>&1
    done
    echo
    echo "## Active topics, fsync $pol (Redis as in the $pol pass): XADD t:__rand_int__ * f <16 B>"
    echo
    echo "(keys created before the rows; Obelisk ${topic_opts[*]:-with its default descriptor share})"
    echo
    table_head
    topic_loads=()
    for k in $topic_keys; do
      for p in 1 16; do
        topic_loads+=("t$k-$p-$pol|XADD over $k key(s), 50 clients, P$p|50|$p|$k|XADD t:__rand_int__ * f $v16")
      done
    done
    run_workloads "$RDS_PORT" "$OBK_PORT" "${topic_loads[@]}"
    echo
    echo "Obelisk after the topics runs: $("$RCLI" -p "$OBK_PORT" DBSIZE) keys;" \
      "Redis: $("$RCLI" -p "$RDS_PORT" DBSIZE) keys;" \
      "Obelisk $(pinfo_field "$OBK_PORT" wal_syncs) log syncs, $(pinfo_field "$OBK_PORT" wal_checkpoints)" \
      "checkpoints, $(pinfo_field "$OBK_PORT" fsync_syncfs_count) syncfs"
    stop_pid "$OBK_PID"
    stop_pid "$RDS_PID"
    rm -rf "$tmp/redis-topics-$pol" "$tmp/obelisk-topics-$pol"
  done
fi
if [ -s "$tmp/xrg.log" ]; then
  echo
  echo "xrg runs (in order Redis, Obelisk per section):"
  sed 's/^/    /' "$tmp/xrg.log"
fi
