#!/usr/bin/env bash
# bench/tls.sh - the cost of TLS: Obelisk next to Redis, each with and without TLS, one run.
# Run `make` first. Certificates (a CA, a server and a client certificate, RSA 2048) are made in
# the temp dir with the openssl tool; both servers require client certificates
# (tls-auth-clients yes, the default), and redis-benchmark presents one (--tls --cacert --cert
# --key).
#
#   bench/tls.sh [--secs S] [--fsync always|everysec|no]
#
# One Obelisk and one redis-server are started on free loopback ports in temporary
# directories, each with a plain port and a TLS port (--fsync P for Obelisk; Redis with the
# matching persistence: --appendonly yes --appendfsync always/everysec, or none for "no";
# default everysec). Every workload runs against Redis plain, Redis TLS, Obelisk plain and
# Obelisk TLS, back to back, each redis-benchmark run calibrated by a short probe to last about
# S seconds (default 3):
#   - XADD, 16-byte values, 50 connections, unpipelined (P1) and 16 per pipeline (P16);
#   - XRANGE of 10 and of 100 entries from a 100000-entry stream, 50 connections, P1;
#   - PING (the transport alone), 50 connections, P1.
# Connections are made once per redis-benchmark client, so the rows measure encryption on open
# connections, not handshakes.
# Output: one Markdown table, requests per second: Redis plain, Redis TLS, Obelisk plain,
# Obelisk TLS, then the ratios TLS/plain for each server and Obelisk/Redis over TLS.
# Environment: OBELISK_SERVER, REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI override the binaries.
# Every process started here is killed by its pid and the temp dir removed on exit.
set -u
set -f # the workloads contain '*'

top=$(cd "$(dirname "$0")/.." && pwd)
secs=3
fsync=everysec
while [ $# -gt 0 ]; do
  case $1 in
    --secs) secs=$2; shift 2 ;;
    --fsync) fsync=$2; shift 2 ;;
    *) echo "usage: $0 [--secs S] [--fsync always|everysec|no]" >&2; exit 2 ;;
  esac
done
case $fsync in
  always | everysec) redis_persist=(--appendonly yes --appendfsync "$fsync") ;;
  no) redis_persist=(--appendonly no) ;;
  *) echo "tls.sh: --fsync takes always, everysec or no" >&2; exit 2 ;;
esac

. "$top/bench/lib.sh"
bench_need tls.sh "$OBELISK" "$REDIS" "$RBENCH" "$RCLI" openssl
bench_init tls

# ---- certificates ----
certs=$tmp/certs
mkdir -p "$certs"
bench_mkcerts "$certs" || { echo "tls.sh: openssl failed:" >&2; cat "$certs/openssl.log" >&2; exit 1; }
server_tls=(--tls-cert-file "$certs/server.crt" --tls-key-file "$certs/server.key"
  --tls-ca-cert-file "$certs/ca.crt")
client_tls=(--tls --cacert "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key")

# ---- servers ----
mkdir -p "$tmp/redis" "$tmp/obelisk"
RDS_TLS=$(free_port)
bench_start_redis "$tmp/redis" --tls-port "$RDS_TLS" "${server_tls[@]}" "${redis_persist[@]}"
RDS_PORT=$BENCH_PORT
RDS_PID=$BENCH_PID
OBK_TLS=$(free_port)
bench_start_obelisk "$tmp/obelisk" --tls-port "$OBK_TLS" "${server_tls[@]}" --fsync "$fsync"
OBK_PORT=$BENCH_PORT
OBK_PID=$BENCH_PID
for p in "$RDS_TLS" "$OBK_TLS"; do
  if [ "$("$RCLI" -p "$p" "${client_tls[@]}" PING 2>&1)" != PONG ]; then
    echo "tls.sh: no PONG over TLS on port $p" >&2
    exit 1
  fi
done

# ---- measuring ----
# rb PORT TLS(0|1) N CLIENTS PIPELINE CMD... -> requests per second (empty on failure)
rb() {
  local port=$1 tls=$2 n=$3 c=$4 p=$5
  shift 5
  local topt=()
  [ "$tls" = 1 ] && topt=("${client_tls[@]}")
  "$RBENCH" -h 127.0.0.1 -p "$port" "${topt[@]}" -n "$n" -c "$c" -P "$p" -q "$@" 2>&1 |
    tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}

# measure PORT TLS CLIENTS PIPELINE CMD... -> req/s of a run calibrated to last about secs
measure() {
  local port=$1 tls=$2 c=$3 p=$4
  shift 4
  local probe=$((c * p * 40))
  [ $probe -lt 2000 ] && probe=2000
  local est n v
  est=$(rb "$port" "$tls" "$probe" "$c" "$p" "$@")
  [ -z "$est" ] && { echo "-"; return; }
  n=$(awk -v e="$est" -v s="$secs" -v m="$probe" 'BEGIN { n = int(e * s); if (n < m) n = m;
        if (n > 20000000) n = 20000000; print n }')
  v=$(rb "$port" "$tls" "$n" "$c" "$p" "$@")
  echo "${v:--}"
}

fmt() { awk -v a="$1" 'BEGIN { if (a + 0 > 0) printf "%.0f", a; else print "-" }'; }
ratio() { # A / B with two decimals, "-" when either is missing
  awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}

# row NAME CLIENTS PIPELINE CMD...: the four runs and the ratios
row() {
  local name=$1 c=$2 p=$3
  shift 3
  local rp rt op ot
  rp=$(measure "$RDS_PORT" 0 "$c" "$p" "$@")
  rt=$(measure "$RDS_TLS" 1 "$c" "$p" "$@")
  op=$(measure "$OBK_PORT" 0 "$c" "$p" "$@")
  ot=$(measure "$OBK_TLS" 1 "$c" "$p" "$@")
  echo "| $name | $(fmt "$rp") | $(fmt "$rt") | $(fmt "$op") | $(fmt "$ot") |" \
    "$(ratio "$rt" "$rp") | $(ratio "$ot" "$op") | $(ratio "$ot" "$rt") |"
}

# ---- preload for XRANGE: 100000 entries with 16-byte values, the same on both ----
for p in "$RDS_PORT" "$OBK_PORT"; do
  "$RBENCH" -h 127.0.0.1 -p "$p" -n 100000 -c 20 -P 64 -q XADD big '*' f 0123456789abcdef \
    >/dev/null 2>&1
  len=$("$RCLI" -p "$p" XLEN big)
  if [ "${len:-0}" -lt 100000 ]; then # pipelines may round n up (100032 with -P 64)
    echo "tls.sh: preload on port $p left XLEN big = $len" >&2
    exit 1
  fi
done

v16=0123456789abcdef
echo "TLS cost: Obelisk --fsync $fsync vs Redis (${redis_persist[*]}), $secs s per run," \
  "mutual TLS (RSA 2048, TLS 1.3), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| workload | Redis plain | Redis TLS | Obelisk plain | Obelisk TLS | Redis TLS/plain |" \
  "Obelisk TLS/plain | Obelisk/Redis (TLS) |"
echo "|---|---|---|---|---|---|---|---|"
row "XADD P1 (50 clients)" 50 1 XADD s '*' f "$v16"
row "XADD P16 (50 clients)" 50 16 XADD s '*' f "$v16"
row "XRANGE COUNT 10 (50 clients)" 50 1 XRANGE big - + COUNT 10
row "XRANGE COUNT 100 (50 clients)" 50 1 XRANGE big - + COUNT 100
row "PING (50 clients)" 50 1 PING
bench_stop_pid "$OBK_PID"
bench_stop_pid "$RDS_PID"
