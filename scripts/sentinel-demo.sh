#!/usr/bin/env bash
# scripts/sentinel-demo.sh - a three-node Obelisk with three Redis Sentinels on loopback, for
# trying failover by hand (README, "Replicas and failover"):
#   obelisk-server   127.0.0.1:7000 (primary), :7001 and :7002 (replicas)
#   redis-sentinel   127.0.0.1:26379, :26380, :26381 watching "mymaster", quorum 2
# Everything lives in a temporary directory (or the one given) and is stopped by pid, and the
# directory removed, on Ctrl-C. Ports: --base-port P uses P, P+1, P+2 and 26379.. as given by
# --sentinel-port. Needs redis-sentinel (Debian: redis-sentinel; `make run` installs it).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
OBELISK=${OBELISK_SERVER:-$top/obelisk-server}
SENTINEL=${REDIS_SENTINEL:-redis-sentinel}
base=7000
sbase=26379
dir=""
while [ $# -gt 0 ]; do
  case $1 in
    --base-port) base=$2; shift 2 ;;
    --sentinel-port) sbase=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    *) echo "usage: $0 [--base-port 7000] [--sentinel-port 26379] [--dir DIR]" >&2; exit 2 ;;
  esac
done
for b in "$OBELISK" "$SENTINEL"; do
  command -v "$b" >/dev/null 2>&1 || { echo "sentinel-demo: $b not found" >&2; exit 2; }
done
keep=1
[ -n "$dir" ] || { dir=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-sentinel.XXXXXX"); keep=0; }
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  [ "$keep" = 1 ] || rm -rf "$dir"
  echo "sentinel-demo: stopped"
}
trap stop EXIT
trap 'exit 0' INT TERM

for i in 0 1 2; do
  port=$((base + i))
  mkdir -p "$dir/node$i/data"
  {
    echo "port $port"
    echo "bind 127.0.0.1"
    echo "dir $dir/node$i/data"
    echo "logfile $dir/node$i/log"
    echo "min-replicas-to-write 1"
    echo "repl-ping-replica-period 1"
    [ "$i" -gt 0 ] && echo "replicaof 127.0.0.1 $base"
  } >"$dir/node$i/obelisk.conf"
  "$OBELISK" "$dir/node$i/obelisk.conf" &
  pids+=($!)
done
sleep 1
for i in 0 1 2; do
  port=$((sbase + i))
  mkdir -p "$dir/sentinel$i"
  cat >"$dir/sentinel$i/sentinel.conf" <<EOF
port $port
bind 127.0.0.1
dir $dir/sentinel$i
logfile $dir/sentinel$i/log
sentinel monitor mymaster 127.0.0.1 $base 2
sentinel down-after-milliseconds mymaster 2000
sentinel failover-timeout mymaster 10000
EOF
  "$SENTINEL" "$dir/sentinel$i/sentinel.conf" &
  pids+=($!)
done

cat <<EOF
Obelisk primary 127.0.0.1:$base, replicas :$((base + 1)) :$((base + 2)); sentinels :$sbase :$((sbase + 1)) :$((sbase + 2)).
Files and logs: $dir
Try:
  redis-cli -p $sbase SENTINEL get-master-addr-by-name mymaster
  redis-cli -p $base XADD orders '*' item book
  redis-cli -p $((base + 1)) XRANGE orders - +
  kill -9 \$(redis-cli -p $base INFO server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
  redis-cli -p $sbase SENTINEL get-master-addr-by-name mymaster     # a replica, promoted
Ctrl-C stops everything.
EOF
wait
