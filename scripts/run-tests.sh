#!/usr/bin/env bash
# Runs every test program and adds up their TAP lines ("ok N ..." / "not ok N ...").
#   scripts/run-tests.sh BUILD_DIR [NAME_FILTER]
# Unit tests (cmocka), integration tests (cmocka + hiredis against a real obelisk-server) and
# redis-tests/ (real clients, compared with a real redis-server) all print TAP, and so does
# fuzz/run.sh, which runs each libFuzzer target (when built: make fuzz-build) on its corpus and
# then OBELISK_FUZZ_TIME seconds (default 20) of new inputs; OBELISK_FUZZ_DIR= skips them. A program that
# exits non-zero without reporting a failing case (a crash, a sanitizer report) counts as one
# failure. The last line is "N passed, N failed".
#
# Each program gets OBELISK_TEST_TIMEOUT seconds (default 300). One still running then gets
# SIGTERM, with its process group (the servers it started), and SIGKILL 10 s later; it counts as
# at least one failure and the runner says "TIMED OUT".
#
# Each program gets a new, empty TMPDIR of its own (the tests make their files and servers'
# directories there). Whatever is still in it when the program has ended is a failure of the
# program ("left files behind"), listed and then removed. With OBELISK_KEEP_TEST_DIRS set the
# tests keep their directories on purpose: each program's TMPDIR is then made beside the
# runner's, kept, not checked, and named in the output.
set -u
build=${1:-build}
filter=${2:-}
limit=${OBELISK_TEST_TIMEOUT:-300}
case "$limit" in
  '' | *[!0-9]* | 0)
    echo "OBELISK_TEST_TIMEOUT must be a positive number of seconds (got '$limit')" >&2
    exit 2
    ;;
esac
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export CMOCKA_MESSAGE_OUTPUT=TAP
export OBELISK_SERVER=${OBELISK_SERVER:-$top/obelisk-server}
export OBELISK_CHECK=${OBELISK_CHECK:-$top/obelisk-check}
export OBELISK_TOP=$top
passed=0
failed=0
failed_names=()
logdir=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-tests.XXXXXX")
trap 'rm -rf "$logdir"' EXIT

run_one() { # name, command...
  local name=$1; shift
  local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
  local start=$SECONDS
  local tmp keep=${OBELISK_KEEP_TEST_DIRS:-}
  if [ -n "$keep" ]; then
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-kept.XXXXXX")
  else
    tmp=$(mktemp -d "$logdir/tmp.XXXXXX")
  fi
  # (the shell's own "Killed" notice for a SIGKILLed program is not wanted on the terminal)
  { TMPDIR=$tmp timeout -k 10 "$limit" "$@" >"$log" 2>&1; } 2>/dev/null
  local rc=$?
  if [ -n "$keep" ]; then
    echo "# $name: its directories are kept in $tmp" >&2
  else
    if [ -n "$(ls -A "$tmp")" ]; then
      echo "not ok 0 - left files behind in its TMPDIR: $(ls -A "$tmp" | head -n 8 | tr '\n' ' ')" >>"$log"
    fi
    # (after a time-out its servers may still be writing as they stop: once more after a pause)
    rm -rf "$tmp" 2>/dev/null || { sleep 1; rm -rf "$tmp"; }
  fi
  local ok notok timed_out=0
  # 124: the limit passed and SIGTERM ended it; 137: it ignored SIGTERM and got SIGKILL
  if [ "$rc" -eq 124 ] || { [ "$rc" -eq 137 ] && [ $((SECONDS - start)) -ge "$limit" ]; }; then
    timed_out=1
  fi
  ok=$(grep -cE '^ok [0-9]+' "$log")
  notok=$(grep -cE '^not ok [0-9]+' "$log")
  if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then notok=1; fi
  passed=$((passed + ok))
  failed=$((failed + notok))
  printf '%-44s %4d passed %3d failed  (%ds)%s\n' "$name" "$ok" "$notok" $((SECONDS - start)) \
    "$([ "$timed_out" -eq 1 ] && echo "  TIMED OUT after ${limit}s")"
  if [ "$notok" -gt 0 ]; then
    failed_names+=("$name")
    if [ "$timed_out" -eq 1 ]; then
      echo "---- $name TIMED OUT: still running after ${limit}s (OBELISK_TEST_TIMEOUT), stopped ----"
    else
      echo "---- $name (exit $rc) ----"
    fi
    # the failing checks first (a long log's tail may not hold them), then the log's end
    grep -E -A4 '^not ok|^\[  (ERROR|FAILED)' "$log" | head -n 40
    echo "-- last lines:"
    grep -vE '^ok [0-9]+' "$log" | tail -n 60
    echo "----"
  fi
}

for t in "$build"/tests/unit/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *"$filter"*) ;; *) continue ;; esac
  run_one "unit/$(basename "$t")" "$t"
done
for t in "$build"/tests/integration/test_*; do
  [ -x "$t" ] || continue
  case "$t" in *"$filter"*) ;; *) continue ;; esac
  run_one "integration/$(basename "$t")" "$t"
done
for t in redis-tests/test_*; do
  [ -f "$t" ] || continue
  case "$t" in *"$filter"*) ;; *) continue ;; esac
  case "$t" in
    *.py) run_one "$t" /usr/bin/python3 "$t" ;;
    *.js|*.mjs) run_one "$t" node "$t" ;;
    *.sh) run_one "$t" bash "$t" ;;
  esac
done

fuzzdir=${OBELISK_FUZZ_DIR-$top/build-fuzz/fuzz}
if [ -n "$fuzzdir" ] && [ -d "$fuzzdir" ]; then
  for t in "$fuzzdir"/fuzz_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=$(basename "$t")
    case "fuzz/$name" in *"$filter"*) ;; *) continue ;; esac
    run_one "fuzz/$name" fuzz/run.sh "$fuzzdir" "${OBELISK_FUZZ_TIME:-20}" "$name"
  done
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
