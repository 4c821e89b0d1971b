#!/usr/bin/env bash
# bench/streams.sh - Obelisk against a real redis-server, the same redis-benchmark workloads,
# matching durability, one run. Builds nothing: run `make` first.
#
#   bench/streams.sh [--secs S] [--passes "always everysec no"] [--no-topics] [--only-topics]
#
# For each pass, a fresh Obelisk and a fresh redis-server are started on free loopback ports in
# temporary directories:
#   always    Obelisk --fsync always     vs  Redis --appendonly yes --appendfsync always
#   everysec  Obelisk --fsync everysec   vs  Redis --appendonly yes --appendfsync everysec
#   no        Obelisk --fsync no         vs  Redis --save '' --appendonly no (persistence off)
# and every workload runs against Redis, then against Obelisk, back to back. Each run's request
# count is calibrated per server by a short probe so that it lasts about S seconds (default 3).
# A 1M-entry stream ("big", 16-byte values) is preloaded into both with pipelined raw RESP
# through redis-cli --pipe for the XRANGE/XREAD workloads.
# Then the topics section (design §4's open question) starts a fresh pair in fsync always and runs
# XADD over 1, 10 and 1000 keys (t:__rand_int__ with -r), unpipelined and with -P 16.
# Output: one Markdown table per pass (workload, Redis req/s, Obelisk req/s, Obelisk/Redis).
# Environment: OBELISK_SERVER, REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI override the binaries.
# Every process started here is killed by its pid and the temp dir removed on exit.
set -u
set -f # the workloads contain '*' and '~'

top=$(cd "$(dirname "$0")/.." && pwd)
OBELISK=${OBELISK_SERVER:-$top/obelisk-server}
REDIS=${REDIS_SERVER:-redis-server}
RBENCH=${REDIS_BENCHMARK:-redis-benchmark}
RCLI=${REDIS_CLI:-redis-cli}
secs=3
passes="always everysec no"
do_passes=1
do_topics=1
while [ $# -gt 0 ]; do
  case $1 in
    --secs) secs=$2; shift 2 ;;
    --passes) passes=$2; shift 2 ;;
    --no-topics) do_topics=0; shift ;;
    --only-topics) do_passes=0; shift ;;
    *) echo "usage: $0 [--secs S] [--passes \"always everysec no\"] [--no-topics] [--only-topics]" >&2
       exit 2 ;;
  esac
done
for b in "$OBELISK" "$REDIS" "$RBENCH" "$RCLI"; do
  command -v "$b" >/dev/null 2>&1 || { echo "streams.sh: $b not found (run make?)" >&2; exit 2; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-bench.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_obelisk NAME POLICY -> sets OBK_PORT, OBK_PID
start_obelisk() {
  local d=$tmp/$1
  mkdir -p "$d"
  "$OBELISK" --port 0 --bind 127.0.0.1 --dir "$d/data" --fsync "$2" >"$d/server.log" 2>&1 &
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

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", b / a; else print "-" }'
}

fmt() {
  awk -v a="$1" 'BEGIN { if (a + 0 > 0) printf "%.0f", a; else print "-" }'
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

# name | clients | pipeline | random | command
workloads=(
  "PING, 50 clients, P1|50|1|0|PING"
  "PING, 50 clients, P16|50|16|0|PING"
  "XADD 16 B, 50 clients, P1|50|1|0|XADD s16a * f $v16"
  "XADD 16 B, 50 clients, P16|50|16|0|XADD s16b * f $v16"
  "XADD 1 KiB, 50 clients, P16|50|16|0|XADD s1k * f $value1k"
  "XADD MAXLEN ~ 1000, 50 clients, P16|50|16|0|XADD sml MAXLEN ~ 1000 * f $v16"
  "XRANGE big - + COUNT 10 (1M entries), 50 clients, P1|50|1|0|XRANGE big - + COUNT 10"
  "XRANGE big - + COUNT 100 (1M entries), 50 clients, P1|50|1|0|XRANGE big - + COUNT 100"
  "XREAD COUNT 100 STREAMS big 0, 50 clients, P1|50|1|0|XREAD COUNT 100 STREAMS big 0"
)

table_head() {
  echo "| workload | Redis req/s | Obelisk req/s | Obelisk/Redis |"
  echo "|---|---:|---:|---:|"
}

run_workloads() { # REDIS_PORT OBK_PORT workload...
  local rp=$1 op=$2
  shift 2
  local w name c p r cmd a b
  for w in "$@"; do
    IFS='|' read -r name c p r cmd <<<"$w"
    # shellcheck disable=SC2086 # word splitting of the command is wanted (noglob is on)
    a=$(measure "$rp" "$c" "$p" "$r" $cmd)
    # shellcheck disable=SC2086
    b=$(measure "$op" "$c" "$p" "$r" $cmd)
    echo "| $name | $(fmt "$a") | $(fmt "$b") | $(ratio "$a" "$b") |"
  done
}

echo "# bench/streams.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), ~${secs}s per run"
echo "# $(nproc) CPUs, $("$REDIS" --version | awk '{print $1, $2, $3}'), $("$OBELISK" --version 2>/dev/null | head -n 1)"
if [ "$do_passes" = 1 ]; then
  make_preload
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
    run_workloads "$RDS_PORT" "$OBK_PORT" "${workloads[@]}"
    stop_pid "$OBK_PID"
    stop_pid "$RDS_PID"
    rm -rf "$tmp/redis-$pol" "$tmp/obelisk-$pol"
  done
fi

if [ "$do_topics" = 1 ]; then
  start_redis redis-topics always
  start_obelisk obelisk-topics always
  echo
  echo "## Active topics, fsync always (Redis appendfsync always): XADD t:__rand_int__ * f <16 B>"
  echo
  table_head
  topic_loads=()
  for k in 1 10 1000; do
    for p in 1 16; do
      topic_loads+=("XADD over $k key(s), 50 clients, P$p|50|$p|$k|XADD t:__rand_int__ * f $v16")
    done
  done
  run_workloads "$RDS_PORT" "$OBK_PORT" "${topic_loads[@]}"
  echo
  echo "Obelisk after the topics runs: $("$RCLI" -p "$OBK_PORT" DBSIZE) keys;" \
    "Redis: $("$RCLI" -p "$RDS_PORT" DBSIZE) keys"
  stop_pid "$OBK_PID"
  stop_pid "$RDS_PID"
fi
