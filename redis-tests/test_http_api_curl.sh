#!/usr/bin/env bash
# The JSON API with curl, as the README's session uses it: produce one entry and a batch over
# one keep-alive connection, read them back, a long poll, the live tail (SSE), a group, and the
# errors curl users meet first (bad JSON, a body over http-api-max-body, plain or chunked, a
# wrong method).
# Prints TAP. Starts its own server on free loopback ports and stops it by pid.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
srv=${OBELISK_SERVER:-$top/obelisk-server}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/obelisk-curl.XXXXXX")
hport=$(cd "$top/redis-tests/lib" && python3 -c 'import servers; print(servers.free_port())')
"$srv" --port 0 --http-port "$hport" --dir "$tmp/data" --http-api-max-body 1mb >"$tmp/log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
B=http://127.0.0.1:$hport/v1
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$hport/health/ready" >/dev/null 2>&1 && break
  sleep 0.05
done
n=0
failed=0
check() { # got, want, description
  n=$((n + 1))
  if [ "$1" = "$2" ]; then echo "ok $n - $3"; else echo "not ok $n - $3"; echo "# got:  $1"; echo "# want: $2"; failed=1; fi
}
has() { # text, substring, description
  n=$((n + 1))
  case "$1" in *"$2"*) echo "ok $n - $3" ;; *) echo "not ok $n - $3"; echo "# got: $1"; failed=1 ;; esac
}

# one produce and a batch over one connection (keep-alive)
out=$(curl -sv -H 'Content-Type: application/json' \
  -d '{"fields":{"sku":"a1","qty":"2"}}' "$B/topics/orders/entries" \
  --next -H 'Content-Type: application/json' \
  -d '{"entries":[{"fields":{"n":"1"}},{"fields":{"n":"2"}}]}' "$B/topics/orders/entries" 2>&1)
has "$out" '< HTTP/1.1 201' "produce: 201"
has "$out" 'Re-using existing connection' "the batch reuses the connection (keep-alive)"
check "$(echo "$out" | grep -c '^{"ids":\[')" 2 "both answers carry ids"
body=$(curl -s "$B/topics/orders/entries?count=10")
check "$(echo "$body" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')" 3 "read: 3 entries"
check "$(curl -s -o /dev/null -w '%{http_code}' "$B/topics/orders/entries?after=%24&wait_ms=200")" 200 "long poll: 200 after wait_ms"

# live tail
curl -sN --max-time 3 "$B/topics/orders/tail" >"$tmp/sse" 2>/dev/null &
cpid=$!
sleep 0.5
curl -s -d '{"fields":{"live":"yes"}}' "$B/topics/orders/entries" >/dev/null
wait $cpid
has "$(cat "$tmp/sse")" '"fields":{"live":"yes"}' "tail: the new entry arrives as an event"
has "$(cat "$tmp/sse")" 'event: entry' "tail: event type entry"

# a group
check "$(curl -s -o /dev/null -w '%{http_code}' -d '{"id":"0"}' "$B/topics/orders/groups/g1")" 201 "group create: 201"
has "$(curl -s -d '{"consumer":"c1","count":1}' "$B/topics/orders/groups/g1/read")" '"sku":"a1"' "group read: the first entry"
has "$(curl -s "$B/topics/orders/groups/g1/lag")" '"pending":1' "lag: one pending"

# errors
out=$(curl -s -w ' %{http_code}' -d '{"fields":' "$B/topics/orders/entries")
has "$out" '"code":"bad_json"' "bad JSON: bad_json"
has "$out" ' 400' "bad JSON: 400"
head -c 2000000 /dev/zero | tr '\0' 'x' >"$tmp/big"
out=$(curl -s -w ' %{http_code} %{content_type}' --data-binary @"$tmp/big" "$B/topics/orders/entries")
has "$out" ' 413 application/json' "a body over http-api-max-body: 413, as JSON"
has "$out" '"code":"payload_too_large"' "a body over http-api-max-body: payload_too_large"
out=$(curl -s -w ' %{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big" "$B/topics/orders/entries" | tr -d '\n')
has "$out" '-max-body"}} 413' "a chunked body over http-api-max-body: the JSON 413"
check "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH "$B/topics/orders/entries")" 405 "a wrong method: 405"
check "$(curl -s -o /dev/null -w '%{http_code}' "$B/topics/none")" 404 "a missing topic: 404"
check "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$B/topics/orders")" 204 "delete: 204"
kill -0 "$pid" 2>/dev/null
check $? 0 "the server is still running"
echo "1..$n"
exit $failed
