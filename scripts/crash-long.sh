#!/usr/bin/env bash
# Long crash run: the kill -9 / damage rounds of tests/integration/test_crash.c, many of them.
#   scripts/crash-long.sh [ROUNDS] [PASSES]
# ROUNDS (default 50) is OBELISK_CRASH_ROUNDS: that many fsync-always kill rounds and tail-damage
# rounds, a third as many everysec and mid-log damage rounds. PASSES (default 1) repeats the
# program with a fresh base seed each time. OBELISK_SEED=N fixes the first pass's base seed.
# Every round prints "# seed N"; a failing round is repeated alone with
#   OBELISK_SEED=N OBELISK_CRASH_ROUNDS=1 build/tests/integration/test_crash
# Builds nothing: run `make tests-build` first. Exit status 0 only when every pass passed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD:-build}
rounds=${1:-50}
passes=${2:-1}
bin=$build/tests/integration/test_crash
if [ ! -x "$bin" ]; then
  echo "crash-long: $bin is missing; run 'make tests-build' first" >&2
  exit 2
fi
export CMOCKA_MESSAGE_OUTPUT=TAP
export OBELISK_SERVER=${OBELISK_SERVER:-$top/obelisk-server}
export OBELISK_CHECK=${OBELISK_CHECK:-$top/obelisk-check}
export OBELISK_CRASH_ROUNDS=$rounds
log=$(mktemp "${TMPDIR:-/tmp}/obelisk-crash-long.XXXXXX")
trap 'rm -f "$log"' EXIT

failed=0
for p in $(seq 1 "$passes"); do
  start=$SECONDS
  "$bin" >"$log" 2>&1
  rc=$?
  base=$(sed -n 's/^# seed \([0-9]*\) (base.*/\1/p' "$log" | head -n 1)
  nrounds=$(grep -c '^# round:' "$log")
  notok=$(grep -c '^not ok' "$log")
  printf 'pass %d: base seed %s, %d rounds, exit %d, %ds\n' "$p" "$base" "$nrounds" "$rc" \
    $((SECONDS - start))
  # the seeds of this pass, in the order the rounds ran
  grep -E '^# seed [0-9]+$' "$log" | awk '{print $3}' | tr '\n' ' ' | fold -s -w 100 |
    sed 's/^/  seeds: /'
  echo
  if [ "$rc" -ne 0 ] || [ "$notok" -gt 0 ]; then
    failed=$((failed + 1))
    echo "---- pass $p failed; the failing round is the last '# seed' before each ERROR ----"
    awk '/^# seed [0-9]+$/ {seed=$3} /^# round:/ {round=$0}
         /^ERROR/ {print "  seed " seed ": " round; print "  " $0}' "$log"
    grep -E '^(ok|not ok) ' "$log" | sed 's/^/  /'
    echo "----"
  fi
  unset OBELISK_SEED # later passes pick fresh seeds
done
echo "crash-long: $passes pass(es) of $rounds rounds, $failed failed"
[ "$failed" -eq 0 ]
