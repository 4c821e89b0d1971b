#!/usr/bin/env bash
# Installs what Obelisk needs on Debian 12, only what is missing, so `make run` and `make test`
# work on a fresh machine. Usage: scripts/install-deps.sh build|run|test
#   build: what compiling needs; run: also redis-cli, redis-sentinel and curl, which the README's next steps
#   use; test: also the test libraries, redis-server, the clients, and clang with its libFuzzer
#   and sanitizer runtimes for fuzz/.
set -euo pipefail
what=${1:-build}
build_pkgs=(build-essential pkg-config libevent-dev libssl-dev libjansson-dev libzstd-dev libjemalloc-dev
            libxxhash-dev)
run_pkgs=(redis-tools redis-sentinel curl)
test_pkgs=(libhiredis-dev libcmocka-dev redis-server redis-sentinel redis-tools python3 python3-redis
           python3-prometheus-client python3-requests python3-yaml prometheus-redis-exporter curl nodejs npm chromium
           clang-format clang libclang-rt-dev openssl)
pkgs=("${build_pkgs[@]}")
[ "$what" = run ] || [ "$what" = test ] && pkgs+=("${run_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# A node that came from elsewhere than Debian is fine too.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
want=()
for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
if [ ${#want[@]} -gt 0 ]; then
  echo "install-deps: installing ${want[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi

if [ "$what" = test ]; then
  # Node.js clients for redis-tests/ (ioredis, node-redis v4 and the current version).
  dir=$(cd "$(dirname "$0")/../redis-tests" && pwd)
  if [ -f "$dir/package.json" ] && [ ! -d "$dir/node_modules/ioredis" ]; then
    echo "install-deps: npm install in redis-tests/"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi

# The dashboard's npm packages in web/: uPlot, embedded in the binary at build time (without
# it the build still works and the dashboard has no charts), and playwright-core for the
# browser test. Needed by the test run; installed for a build too when npm is there.
web=$(cd "$(dirname "$0")/../web" && pwd)
if [ -f "$web/package.json" ] && { [ ! -d "$web/node_modules/uplot" ] || [ ! -d "$web/node_modules/playwright-core" ]; }; then
  if command -v npm >/dev/null; then
    echo "install-deps: npm install in web/"
    (cd "$web" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  elif [ "$what" = test ]; then
    echo "install-deps: npm is needed for web/ (the dashboard's charts and its browser test)" >&2
    exit 1
  fi
fi
