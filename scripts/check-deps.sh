#!/usr/bin/env bash
# Holds the layer rules of docs/architecture.md: a module includes only its layer or lower.
#   base      -> libc only
#   protocol  -> base (+ libevent's buffer for the reply writer)
#   storage   -> base (no RESP, no libevent, no server)
#   server    -> everything below it; inside src/server, the levels of scripts/server-layers.txt
#   and no include circle anywhere in src (scripts/check_deps.py)
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
python3 scripts/check_deps.py || bad=1
[ $bad -eq 0 ] && echo "check-deps: ok"
exit $bad
