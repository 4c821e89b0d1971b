#!/usr/bin/env bash
# bench/replication.sh - writes with one synchronous replica, Obelisk next to Redis, one run.
# Run `make` first; bench/xaddw.c (XADD, optionally followed by WAIT, which redis-benchmark
# cannot chain) is compiled into the temp dir with $CC (default cc).
#
#   bench/replication.sh [--secs S] [--entries N] [--no-sync] [--only-sync] [--pairs N]
#                        [--conns C] [--replica-fsync POLICY] [--replica-own-disk]
#
# Configurations, each started fresh on free loopback ports in temporary directories, all with
# every write synced (Obelisk --fsync always, Redis --appendonly yes --appendfsync always):
#   obelisk         one Obelisk, no replica: XADD
#   obelisk+1       an Obelisk primary with min-replicas-to-write 1 and one Obelisk replica:
#                   XADD (its reply waits until the replica has the entry durable)
#   redis+1         a Redis primary and one Redis replica: XADD then WAIT 1 0 on the same
#                   connection (Redis's WAIT waits for the replica to have received it; its
#                   replica fsyncs its AOF under appendfsync always too)
# Rows: XADD 16 B values, 50 connections, unpipelined (P1) and 16 per pipeline (P16) to one key,
# P16 spread over 1,000 keys (each pipeline writes 16 of them), XADDs per second; and one
# connection's round-trip p50 in ms (-c 1 -P 1). Then:
#   - replication delay under load: obelisk+1 without min-replicas-to-write, 50 connections
#     writing P16 while a probe writes a timestamped entry to the primary every 20 ms and reads
#     it back with XREAD BLOCK on the replica: p50 / p99 / max delay in ms (bench/repl_probe.py);
#   - full sync: N entries (default 10M) loaded into a primary, then a replica started; the time
#     from its start until it serves all N entries (Obelisk: link up and XLEN = N; Redis: the
#     same, its RDB transfer and load).
# --pairs N then runs the goal row N more times as interleaved pairs (a fresh Obelisk alone, then
# a fresh primary and replica; P16 each) and prints every pair's ratio and their median: one
# pair moves by a third on a machine that the two servers share with the load generator. Each
# pair also shows the CPU time (user + system, from /proc) each server used per 1,000 XADDs, and
# how busy the machine's cores were during each run (all processes, from /proc/stat): a run with
# idle cores left is bound by the round trip, not by CPU. --conns C gives the pairs C connections
# instead of 50 (more requests in flight shows whether the round trip bounds the row).
# --replica-fsync POLICY starts every Obelisk replica with that fsync policy (default always).
# --replica-own-disk gives the replica a disk of its own, as a second machine would have: its
# data directory goes to tmpfs, and bench/syncdelay.c (LD_PRELOAD) makes each of its syncs take
# the flush latency measured on this machine's disk just before (the median of 300 fdatasync
# calls after 32 KiB writes into a preallocated file, about one P16 round of the log). Without
# it both servers' syncs queue on the one disk.
# Output: Markdown tables. Every process started here is killed by its pid, the temp dir removed.
set -u
set -f

top=$(cd "$(dirname "$0")/.." && pwd)
OBELISK=${OBELISK_SERVER:-$top/obelisk-server}
REDIS=${REDIS_SERVER:-redis-server}
RBENCH=${REDIS_BENCHMARK:-redis-benchmark}
RCLI=${REDIS_CLI:-redis-cli}
CC=${CC:-cc}
PY=${PYTHON:-/usr/bin/python3}
secs=3
entries=10000000
do_sync=1
do_rows=1
pairs=0
conns=50
repl_fsync=
own_disk=0
while [ $# -gt 0 ]; do
  case $1 in
    --secs) secs=$2; shift 2 ;;
    --entries) entries=$2; shift 2 ;;
    --no-sync) do_sync=0; shift ;;
    --only-sync) do_rows=0; shift ;;
    --pairs) pairs=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --replica-fsync) repl_fsync=$2; shift 2 ;;
    --replica-own-disk) own_disk=1; shift ;;
    *) echo "usage: $0 [--secs S] [--entries N] [--no-sync] [--only-sync] [--pairs N]" \
         "[--conns C] [--replica-fsync POLICY] [--replica-own-disk]" >&2; exit 2 ;;
  esac
done

. "$top/bench/lib.sh"
bench_need replication.sh "$OBELISK" "$REDIS" "$RBENCH" "$RCLI" "$CC" "$PY"
bench_init bench

XW=$tmp/xaddw
"$CC" -O2 -o "$XW" "$top/bench/xaddw.c" || { echo "replication.sh: cannot build xaddw" >&2; exit 2; }

# --replica-own-disk: the replica's root on tmpfs, and the flush latency of this machine's disk
repl_root=$tmp
sync_us=0
if [ "$own_disk" = 1 ]; then
  "$CC" -O2 -shared -fPIC -o "$tmp/syncdelay.so" "$top/bench/syncdelay.c" -ldl ||
    { echo "replication.sh: cannot build syncdelay.so" >&2; exit 2; }
  repl_root=$(mktemp -d /dev/shm/obelisk-replica.XXXXXX)
  trap 'bench_cleanup; rm -rf "$repl_root"' EXIT
  sync_us=$("$PY" "$top/bench/syncprobe.py" "$tmp")
  echo "The replica's disk: tmpfs, each sync followed by ${sync_us} us (this disk's median flush)"
  echo
fi

# start_obelisk NAME [options...] -> OBK_PORT, OBK_PID; with OBK_ROOT set to the tmpfs root of
# --replica-own-disk, NAME is under it and its syncs take sync_us longer
start_obelisk() {
  local d=${OBK_ROOT:-$tmp}/$1 preload=
  shift
  [ "${OBK_ROOT:-$tmp}" != "$tmp" ] && preload=$tmp/syncdelay.so
  rm -rf "$d" # a fresh directory each time (--pairs starts the same names again)
  mkdir -p "$d"
  OBK_PORT=$(free_port)
  LD_PRELOAD=$preload OBELISK_SYNC_DELAY_US=$sync_us \
    "$OBELISK" --port "$OBK_PORT" --bind 127.0.0.1 --dir "$d/data" --fsync always "$@" \
    >"$d/server.log" 2>&1 &
  OBK_PID=$!
  pids+=("$OBK_PID")
  for _ in $(seq 1 1000); do
    grep -q "Ready to accept connections" "$d/server.log" 2>/dev/null && return 0
    kill -0 "$OBK_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "replication.sh: obelisk-server did not start:" >&2
  cat "$d/server.log" >&2
  exit 1
}

# start_redis NAME [options...] -> RDS_PORT, RDS_PID
start_redis() {
  local d=$tmp/$1
  shift
  mkdir -p "$d"
  RDS_PORT=$(free_port)
  "$REDIS" --port "$RDS_PORT" --bind 127.0.0.1 --dir "$d" --daemonize no --save '' \
    --appendonly yes --appendfsync always --logfile "$d/redis.log" "$@" &
  RDS_PID=$!
  pids+=("$RDS_PID")
  for _ in $(seq 1 500); do
    [ "$("$RCLI" -p "$RDS_PORT" PING 2>/dev/null)" = PONG ] && return 0
    kill -0 "$RDS_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "replication.sh: redis-server did not start" >&2
  exit 1
}

stop_pid() { # SIGTERM, then SIGKILL after 10 s (a Redis replica busy rewriting its AOF may linger)
  kill "$1" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# wait_link PORT: until INFO replication says master_link_status:up (60 s)
wait_link() {
  for _ in $(seq 1 3000); do
    "$RCLI" -p "$1" INFO replication 2>/dev/null | grep -q "master_link_status:up" && return 0
    sleep 0.02
  done
  echo "replication.sh: replica on $1 never came up" >&2
  exit 1
}

# xw PORT ARGS... -> "xadds_per_sec p50_ms"
xw() {
  local port=$1
  shift
  "$XW" -p "$port" -s "$secs" "$@" | sed -n 's/.*xadds_per_sec=\([0-9]*\) p50_ms=\([0-9.]*\).*/\1 \2/p'
}

# cpu_ticks PID: user + system CPU the process used so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# cpu_per_k TICKS XADDS_PER_SEC: CPU milliseconds per 1,000 XADDs of a run of $secs seconds
cpu_per_k() {
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v r="$2" -v s="$secs" \
    'BEGIN { if (r > 0) printf "%.3f", t / hz * 1000 / (r * s / 1000); else print "-" }'
}
# machine_ticks: "busy total" clock ticks of all cores so far (busy: neither idle nor iowait)
machine_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9 && i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
# busy_pct "BUSY0 TOTAL0" "BUSY1 TOTAL1": the share of the cores busy between the two readings
busy_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
    if (y[2] > x[2]) printf "%.0f %%", 100 * (y[1] - x[1]) / (y[2] - x[2]); else print "-" }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

declare -A R
run_rows() { # NAME PORT [xaddw options]
  local name=$1 port=$2
  shift 2
  local p1 p16 p16k one
  p1=$(xw "$port" -c 50 -P 1 -k p1 "$@")
  p16=$(xw "$port" -c 50 -P 16 -k p16 "$@")
  p16k=$(xw "$port" -c 50 -P 16 -k many -K 1000 "$@")
  one=$(xw "$port" -c 1 -P 1 -k one "$@")
  R[$name,p1]=${p1% *}
  R[$name,p16]=${p16% *}
  R[$name,p16k]=${p16k% *}
  R[$name,lat]=${one#* }
}

if [ "$do_rows" = 1 ]; then
echo "## XADD with one synchronous replica (fsync always everywhere, ${secs}s a row)"
echo
start_obelisk solo
run_rows obelisk "$OBK_PORT"
stop_pid "$OBK_PID"

# start_pair -> pport, ppid, rport, rpid: a primary with min-replicas-to-write 1 and its replica
start_pair() {
  start_obelisk prim --min-replicas-to-write 1
  pport=$OBK_PORT ppid=$OBK_PID
  # shellcheck disable=SC2086 # empty without --replica-fsync, two words with it
  OBK_ROOT=$repl_root start_obelisk repl --replicaof 127.0.0.1 "$pport" \
    ${repl_fsync:+--fsync "$repl_fsync"}
  rport=$OBK_PORT rpid=$OBK_PID
  wait_link "$rport"
  for _ in $(seq 1 100); do
    "$RCLI" -p "$pport" INFO replication | grep -q "min_slaves_good_slaves:1" && break
    sleep 0.05
  done
}

start_pair
run_rows obelisk1 "$pport"
stop_pid "$rpid"
stop_pid "$ppid"

start_redis rprim
pport=$RDS_PORT ppid=$RDS_PID
start_redis rrepl --replicaof 127.0.0.1 "$pport"
rport=$RDS_PORT rpid=$RDS_PID
wait_link "$rport"
run_rows redis1 "$pport" -w 1
stop_pid "$rpid"
stop_pid "$ppid"

echo "| workload | Redis+1 (XADD + WAIT 1 0) | Obelisk+1 | Obelisk alone | Obelisk+1 / Redis+1 | Obelisk+1 / Obelisk alone |"
echo "|---|---:|---:|---:|---:|---:|"
for w in p1 p16 p16k; do
  label="XADD 50 conns P1"
  [ "$w" = p16 ] && label="XADD 50 conns P16"
  [ "$w" = p16k ] && label="XADD 50 conns P16 over 1,000 keys"
  echo "| $label (XADD/s) | ${R[redis1,$w]} | ${R[obelisk1,$w]} | ${R[obelisk,$w]} |" \
    "$(ratio "${R[obelisk1,$w]}" "${R[redis1,$w]}") | $(ratio "${R[obelisk1,$w]}" "${R[obelisk,$w]}") |"
done
echo "| one connection, round trip p50 (ms; lower is better) | ${R[redis1,lat]} | ${R[obelisk1,lat]} |" \
  "${R[obelisk,lat]} | $(ratio "${R[obelisk1,lat]}" "${R[redis1,lat]}") |" \
  "$(ratio "${R[obelisk1,lat]}" "${R[obelisk,lat]}") |"
echo

if [ "$pairs" -gt 0 ]; then
  echo "## The goal row again: $pairs interleaved pairs, XADD $conns conns P16, Obelisk+1 / Obelisk alone"
  echo
  echo "| pair | Obelisk alone | Obelisk+1 | ratio | CPU ms per 1,000 XADDs: alone | primary | replica | cores busy: alone | Obelisk+1 |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  ratios=()
  for i in $(seq 1 "$pairs"); do
    start_obelisk solo
    c0=$(cpu_ticks "$OBK_PID") m0=$(machine_ticks)
    a=$(xw "$OBK_PORT" -c "$conns" -P 16 -k p16)
    ca=$(($(cpu_ticks "$OBK_PID") - c0)) ma=$(busy_pct "$m0" "$(machine_ticks)")
    stop_pid "$OBK_PID"
    rm -rf "$tmp/solo"
    sync
    start_pair
    c0=$(cpu_ticks "$ppid") c1=$(cpu_ticks "$rpid") m0=$(machine_ticks)
    b=$(xw "$pport" -c "$conns" -P 16 -k p16)
    cp=$(($(cpu_ticks "$ppid") - c0)) cr=$(($(cpu_ticks "$rpid") - c1))
    mb=$(busy_pct "$m0" "$(machine_ticks)")
    stop_pid "$rpid"
    stop_pid "$ppid"
    rm -rf "$tmp/solo" "$tmp/prim" "$repl_root/repl"
    sync # no writeback of these runs' files during the next
    r=$(ratio "${b% *}" "${a% *}")
    ratios+=("$r")
    echo "| $i | ${a% *} | ${b% *} | $r | $(cpu_per_k "$ca" "${a% *}") | $(cpu_per_k "$cp" "${b% *}") |" \
      "$(cpu_per_k "$cr" "${b% *}") | $ma | $mb |"
  done
  echo
  echo "median ratio: $(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
  echo
fi

echo "## Replication delay under load (Obelisk primary and replica, fsync always, no min-replicas)"
echo
start_obelisk lprim
pport=$OBK_PORT ppid=$OBK_PID
start_obelisk lrepl --replicaof 127.0.0.1 "$pport"
rport=$OBK_PORT rpid=$OBK_PID
wait_link "$rport"
"$XW" -p "$pport" -c 50 -P 16 -s "$((secs + 2))" -k load >/dev/null &
lpid=$!
pids+=("$lpid")
sleep 1
"$PY" "$top/bench/repl_probe.py" "$pport" "$rport" "$secs"
wait "$lpid" 2>/dev/null
stop_pid "$rpid"
stop_pid "$ppid"
echo
fi

[ "$do_sync" = 1 ] || exit 0
echo "## Full sync of $entries entries (16 B values; time until the replica serves them all)"
echo
# load N entries with redis-benchmark (pipelined) and time a fresh replica catching up
full_sync() { # KIND -> "seconds bytes" (bytes: the primary's data directory)
  local kind=$1 t0 t1
  if [ "$kind" = obelisk ]; then start_obelisk "fs$kind" --fsync everysec; else start_redis "fs$kind"; fi
  local port=${OBK_PORT:-} pid=${OBK_PID:-}
  [ "$kind" = redis ] && port=$RDS_PORT pid=$RDS_PID
  "$RBENCH" -p "$port" -c 50 -P 64 -n "$entries" -q XADD big '*' f 0123456789abcdef >/dev/null
  local n
  n=$("$RCLI" -p "$port" XLEN big)
  [ "$n" = "$entries" ] || { echo "replication.sh: loaded $n of $entries" >&2; exit 1; }
  t0=$(date +%s.%N)
  if [ "$kind" = obelisk ]; then
    start_obelisk "fs${kind}r" --replicaof 127.0.0.1 "$port"
    rport=$OBK_PORT rpid=$OBK_PID
  else
    start_redis "fs${kind}r" --replicaof 127.0.0.1 "$port"
    rport=$RDS_PORT rpid=$RDS_PID
  fi
  for _ in $(seq 1 30000); do
    [ "$("$RCLI" -p "$rport" XLEN big 2>/dev/null)" = "$entries" ] && break
    sleep 0.01
  done
  t1=$(date +%s.%N)
  local bytes
  bytes=$(du -sb "$tmp/fs$kind" | cut -f1)
  stop_pid "$rpid"
  stop_pid "$pid"
  awk -v a="$t0" -v b="$t1" -v n="$bytes" 'BEGIN { printf "%.1f %d", b - a, n }'
}
read -r o ob <<<"$(full_sync obelisk)"
read -r r rb <<<"$(full_sync redis)"
echo "| | Redis | Obelisk | Obelisk / Redis |"
echo "|---|---:|---:|---:|"
echo "| seconds until the replica serves $entries entries | $r | $o | $(ratio "$o" "$r") |"
echo "| primary's data directory (bytes) | $rb | $ob | $(ratio "$ob" "$rb") |"
