# bench/lib.sh - what the bench scripts share, sourced after they set $top:
#   bench_init NAME   a temporary directory $tmp (obelisk-NAME.XXXXXX) and the list $pids of
#                     processes started; at exit every one is killed by its pid and $tmp removed
#   free_port         a loopback port that was free a moment ago
#   bench_need NAME BIN...  exits 2 naming the first program that is not there
# shellcheck shell=bash
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
