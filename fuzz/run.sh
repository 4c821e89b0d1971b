#!/usr/bin/env bash
# Runs the libFuzzer targets and reports in TAP ("ok N - ..." / "not ok N - ...").
#   fuzz/run.sh BINDIR SECONDS [TARGET...]        each target on fuzz/corpus/TARGET, then SECONDS
#                                                 of new inputs (kept in a scratch directory)
#   fuzz/run.sh --keep NEWDIR BINDIR SECONDS ...   the same, new inputs kept in NEWDIR/TARGET
#   fuzz/run.sh --merge NEWDIR BINDIR [TARGET...]  adds the inputs of NEWDIR/TARGET that reach new
#                                                 code to fuzz/corpus/TARGET (libFuzzer -merge=1)
# TARGET is a program name in BINDIR (fuzz_resp ...); all of them when none is given. A crash
# is kept as build-fuzz/crashes/TARGET-* and its report printed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
mode=run
keep=""
if [ "${1:-}" = --keep ] || [ "${1:-}" = --merge ]; then
  [ "$1" = --merge ] && mode=merge
  keep=$2
  shift 2
fi
bindir=${1:?usage: fuzz/run.sh BINDIR SECONDS [TARGET...]}
shift
secs=0
if [ "$mode" = run ]; then
  secs=${1:?seconds}
  shift
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for b in "$bindir"/fuzz_*; do
    case "$b" in *.o | *.d) continue ;; esac
    [ -x "$b" ] && targets+=("$(basename "$b")")
  done
fi
crashdir=$(cd "$bindir/.." && pwd)/crashes
scratch=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

n=0
failed=0
report() { # ok|not, text
  n=$((n + 1))
  if [ "$1" = ok ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}

if [ "$mode" = run ]; then echo "1..$((2 * ${#targets[@]}))"; fi
for t in "${targets[@]}"; do
  bin="$bindir/$t"
  corpus="$here/corpus/$t"
  opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [ -f "$here/$t.dict" ] && opts+=("-dict=$here/$t.dict")
  [ -f "$here/$t.options" ] && read -r -a extra <"$here/$t.options" && opts+=("${extra[@]}")
  if [ "$mode" = merge ]; then
    [ -d "$keep/$t" ] || continue
    mkdir -p "$corpus"
    "$bin" -merge=1 "${opts[@]}" "$corpus" "$keep/$t" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files'
    continue
  fi
  if [ ! -x "$bin" ]; then
    report not "$t: $bin not built"
    report not "$t: new inputs"
    continue
  fi
  new="$scratch/$t"
  [ -n "$keep" ] && new="$keep/$t"
  mkdir -p "$new" "$crashdir"
  log="$scratch/$t.log"
  files=$(find "$corpus" -type f 2>/dev/null | wc -l)
  if "$bin" "${opts[@]}" -runs=0 -artifact_prefix="$crashdir/$t-" "$corpus" >"$log" 2>&1; then
    report ok "$t: corpus ($files inputs)"
  else
    report not "$t: corpus ($files inputs)"
    grep -vE '^#|^INFO|^MERGE|^Loaded|^stat::' "$log" | tail -n 40
  fi
  if "$bin" "${opts[@]}" -max_total_time="$secs" -artifact_prefix="$crashdir/$t-" "$new" "$corpus" \
    >"$log" 2>&1; then
    runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$')
    report ok "$t: ${secs} s of new inputs (${runs:-?} runs)"
  else
    report not "$t: ${secs} s of new inputs"
    grep -vE '^#|^INFO|^MERGE|^Loaded|^stat::' "$log" | tail -n 40
  fi
done
exit $failed
