#!/usr/bin/env bash
# Holds the layer rules of docs/architecture.md: a module includes only its layer or lower.
#   base      -> libc only
#   protocol  -> base (+ libevent's buffer for the reply writer)
#   storage   -> base (no RESP, no libevent, no server)
#   server    -> everything below it; inside src/server, the levels of scripts/server-layers.txt
# and, inside storage, the direction of docs/storage.md: (replapply, snapshot) -> store ->
# keyspace -> topic -> cgstore
# -> cgroup, every one of them over the lower storage modules; and no include circle anywhere
# in src (scripts/check_deps.py).
set -u
cd "$(dirname "$0")/.."
bad=0
check() { # folder, forbidden regex, rule
  local hits
  hits=$(grep -nE "#include [\"<]($2)" $1 2>/dev/null)
  if [ -n "$hits" ]; then echo "check-deps: $3"; echo "$hits"; bad=1; fi
}
check "src/base/*.c include/base/*.h" "protocol/|storage/|server/|event2/" "base must not include higher layers or libevent"
check "src/protocol/*.c include/protocol/*.h" "storage/|server/" "protocol must not include storage or server"
check "src/storage/*.c include/storage/*.h" "protocol/|server/|event2/" "storage must not include RESP, server or libevent headers"

# Storage's topic family: a file includes headers of its own module, of the family members to
# its right, and of the lower storage modules (persist, tlog, recovery, tstate, fsutil, ...).
#   store -> keyspace -> topic (topic*.c, topic.h, topic_impl.h) -> cgstore -> cgroup
#   (cgroup.c, cgroup.h, cgroup_state.h); the lower modules include none of them.
inc='(storage/)?' # "storage/x.h" from anywhere, or "x.h" beside the file (topic_impl.h)
check "src/storage/cgroup.c include/storage/cgroup.h include/storage/cgroup_state.h" \
  "$inc(cgstore|topic|topic_impl|keyspace|store)\.h\"" \
  "storage: cgroup includes no cgstore, topic, keyspace or store header"
check "src/storage/cgstore.c include/storage/cgstore.h" \
  "$inc(topic|topic_impl|keyspace|store)\.h\"" \
  "storage: cgstore includes no topic, keyspace or store header"
check "src/storage/topic*.c src/storage/topic_impl.h include/storage/topic.h" \
  "$inc(keyspace|store)\.h\"" "storage: topic includes no keyspace or store header"
check "src/storage/store.c include/storage/store.h" "${inc}(replapply|snapshot)\.h\"" \
  "storage: store includes no replapply or snapshot header (they are above it)"
check "src/storage/keyspace.c include/storage/keyspace.h" "${inc}store\.h\"" \
  "storage: keyspace includes no store header"
lower=""
for f in src/storage/*.c src/storage/*.h include/storage/*.h; do
  case "${f##*/}" in
    cgroup.* | cgroup_state.h | cgstore.* | topic*.* | keyspace.* | store.* | replapply.* | snapshot.*) ;;
    *) lower="$lower $f" ;;
  esac
done
check "$lower" "$inc(cgroup|cgroup_state|cgstore|topic|topic_impl|keyspace|store)\.h\"" \
  "storage: the lower storage modules include no topic-family header"
check "src/server/*.c include/server/*.h src/tools/*.c bench/*.c" "([^\"]*/)?(src/storage/|topic_impl\.h)" \
  "only storage (and its white-box tests) includes the private topic header"

# No include circle anywhere (storage included; a module is x.c with its x.h) and the per-file
# levels of src/server: scripts/check_deps.py.
python3 scripts/check_deps.py || bad=1
[ $bad -eq 0 ] && echo "check-deps: ok"
exit $bad
