# bench/lib.sh - what the bench scripts share, sourced after they set $top:
#   bench_init NAME   a temporary directory $tmp (obelisk-NAME.XXXXXX) and the list $pids of
#                     processes started; at exit every one is killed by its pid and $tmp removed
#   free_port         a loopback port that was free a moment ago
#   bench_need NAME BIN...  exits 2 naming the first program that is not there
#   bench_start_obelisk, bench_start_redis, bench_stop_pid, bench_ratio (below)
# and the programs, when the script has not set them: OBELISK, REDIS, RBENCH, RCLI, CC, PY
# (from OBELISK_SERVER, REDIS_SERVER, REDIS_BENCHMARK, REDIS_CLI, CC, PYTHON).
# shellcheck shell=bash
: "${OBELISK:=${OBELISK_SERVER:-$top/obelisk-server}}"
: "${REDIS:=${REDIS_SERVER:-redis-server}}"
: "${RBENCH:=${REDIS_BENCHMARK:-redis-benchmark}}"
: "${RCLI:=${REDIS_CLI:-redis-cli}}"
: "${CC:=cc}"
: "${PY:=${PYTHON:-/usr/bin/python3}}"
bench_init() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}

free_port() {
  "${PYTHON:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_need() {
  local who=$1 b
  shift
  for b in "$@"; do
    command -v "$b" >/dev/null 2>&1 || { echo "$who: $b not found (run make?)" >&2; exit 2; }
  done
}

# bench_start_obelisk DIR [options...] -> BENCH_PORT, BENCH_PID: obelisk-server ($OBELISK) on a
# free loopback port with its data in DIR/data, once it answers PONG (its data loaded; exits 1
# if it does not start within 60 s)
bench_start_obelisk() {
  local d=$1
  shift
  BENCH_PORT=$(free_port)
  "$OBELISK" --port "$BENCH_PORT" --bind 127.0.0.1 --dir "$d/data" "$@" >>"$d/server.log" 2>&1 &
  BENCH_PID=$!
  pids+=("$BENCH_PID")
  for _ in $(seq 1 3000); do # PONG: listening, and the data loaded (LOADING until then)
    [ "$("${RCLI:-redis-cli}" -p "$BENCH_PORT" PING 2>/dev/null)" = PONG ] && return 0
    kill -0 "$BENCH_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "obelisk-server did not start:" >&2
  tail -n 20 "$d/server.log" >&2
  exit 1
}

# bench_start_redis DIR [options...] -> BENCH_PORT, BENCH_PID: redis-server ($REDIS), RDB
# snapshots off, its files in DIR
bench_start_redis() {
  local d=$1
  shift
  BENCH_PORT=$(free_port)
  "$REDIS" --port "$BENCH_PORT" --bind 127.0.0.1 --dir "$d" --daemonize no --save '' \
    --logfile "$d/redis.log" "$@" &
  BENCH_PID=$!
  pids+=("$BENCH_PID")
  for _ in $(seq 1 500); do
    [ "$("${RCLI:-redis-cli}" -p "$BENCH_PORT" PING 2>/dev/null)" = PONG ] && return 0
    kill -0 "$BENCH_PID" 2>/dev/null || break
    sleep 0.02
  done
  echo "redis-server did not start" >&2
  exit 1
}

# bench_stop_pid PID: SIGTERM, then SIGKILL after 10 s
bench_stop_pid() {
  kill "$1" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

# bench_ratio A B: A / B with two decimals ("-" when B is 0)
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# bench_mkcerts DIR: a CA, a server certificate (localhost, 127.0.0.1) and a client certificate,
# RSA 2048, made with the openssl tool in DIR (ca.crt, server.crt/key, client.crt/key); the
# tool's output goes to DIR/openssl.log. Returns non-zero when openssl fails.
bench_mkcerts() {
  (
    cd "$1" || exit 1
    exec >openssl.log 2>&1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout ca.key \
      -out ca.crt || exit 1
    for name in server client; do
      if [ $name = server ]; then ext="subjectAltName=DNS:localhost,IP:127.0.0.1"; else
        ext="basicConstraints=CA:FALSE"; fi
      echo "$ext" >"$name.ext"
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$name.key" -out "$name.csr" &&
        openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
          -extfile "$name.ext" -out "$name.crt" || exit 1
    done
  )
}
