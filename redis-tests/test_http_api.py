#!/usr/bin/python3
"""The JSON API under /v1 (docs/http-api.md) through a real HTTP client library (Python's
requests, keep-alive sessions), checked against what the server says over RESP (redis-py):
produce (single, batch, explicit IDs, trimming, binary values), the durability rule (no 201
while the persist thread is held), reads, long polls, the live tail (SSE) with Last-Event-ID and
disconnects, consumer groups, topics (paging, info, delete, retention), search with its budget
and cursor, ?db=N, percent-encoded binary keys, and the errors: bad JSON, wrong types, unknown
members, too large batches, 404, 405, 409, the SSE limit, a slow tail reader, 503 while loading
and 503 (MISCONF) after a storage I/O error; and that docs/openapi.yaml's routes are all served.
With a password set: 401 and a Basic challenge without credentials, and the whole API, the
dashboard with every asset it loads and its live tail through one session that carries HTTP
Basic credentials (as a browser does after its prompt), or the bearer token.
Bodies above http-api-max-body (raw sockets where the wire matters): the JSON 413 for a
Content-Length or a chunked body, on any path, before 100 Continue, after the answers to the
requests pipelined before it, then a clean close; no reset for a client still sending, no
memory held for what it sends; CONFIG SET of the limit; and through the gate that does this,
keep-alive pipelining, heads sent byte by byte and whole answers before a close."""
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

import redis  # noqa: E402
import requests  # noqa: E402
import yaml  # noqa: E402

tap = Tap()
http_port = servers.free_port()
B = f"http://127.0.0.1:{http_port}/v1"
ARGS = ["--http-port", str(http_port), "--http-api-max-batch", "50", "--http-api-max-body",
        "64kb", "--http-api-max-sse", "3", "--http-api-max-count", "500"]


def err_code(resp):
    try:
        return resp.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def http_clients(r):
    return [c for c in r.client_list() if c.get("name") == "http-api"]


def raw_conn(timeout=5.0):
    return socket.create_connection(("127.0.0.1", http_port), timeout=timeout)


def read_answer(sock, buf=b""):
    """Reads one HTTP answer from sock (after the bytes in buf). Returns (status, headers with
    lowercase names, body, the bytes read past the answer); status None when the connection
    ended before a whole answer."""
    try:
        while b"\r\n\r\n" not in buf:
            got = sock.recv(65536)
            if not got:
                return None, {}, buf, b""
            buf += got
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":")
                                                                for ln in lines[1:])}
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            got = sock.recv(65536)
            if not got:
                return None, headers, rest, b""
            rest += got
        return int(lines[0].split()[1]), headers, rest[:n], rest[n:]
    except (ConnectionError, socket.timeout, ValueError, IndexError):
        return None, {}, buf, b""


def ends_cleanly(sock, timeout=5.0):
    """True when the server closes the connection with nothing more to read (an EOF, not a
    reset and not a timeout)."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536) == b""
    except (ConnectionError, socket.timeout):
        return False


def json_error(body):
    try:
        return json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def post_head(path, length=None, extra=""):
    cl = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{cl}"
            f"{extra}\r\n").encode()


def body_of(size):
    """A produce body of exactly size bytes."""
    frame = '{"fields":{"a":""}}'
    return ('{"fields":{"a":"' + "x" * (size - len(frame)) + '"}}').encode()


def chunked(data, piece):
    out = b""
    for i in range(0, len(data), piece):
        part = data[i:i + piece]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sse_events(resp, want, timeout=5.0):
    """Reads SSE events (dicts of id/event/data) until want of them arrived."""
    events, cur = [], {}
    end = time.time() + timeout
    for line in resp.iter_lines(decode_unicode=True):
        if line == "":
            if "data" in cur:
                events.append(cur)
            cur = {}
            if len(events) >= want or time.time() > end:
                break
            continue
        if line.startswith(":"):
            continue
        k, _, v = line.partition(": ")
        cur[k] = v
    return events


with servers.Obelisk(ARGS) as o:
    r = redis.Redis(port=o.port)
    s = requests.Session()

    # ---- produce ----
    resp = s.post(f"{B}/topics/orders/entries", json={"fields": {"sku": "a1", "qty": "2"}})
    tap.eq(resp.status_code, 201, "produce: 201")
    ids = resp.json().get("ids", [])
    tap.ok(len(ids) == 1 and r.xrange("orders")[0][0].decode() == ids[0],
           "produce: the ID is the one XRANGE shows", resp.text)
    tap.eq(r.xrange("orders")[0][1], {b"sku": b"a1", b"qty": b"2"}, "produce: the fields")
    batch = [{"fields": {"n": str(i)}} for i in range(20)]
    resp = s.post(f"{B}/topics/orders/entries", json={"entries": batch})
    tap.ok(resp.status_code == 201 and len(resp.json()["ids"]) == 20, "batch: 20 IDs", resp.text)
    tap.eq(r.xlen("orders"), 21, "batch: XLEN 21")
    resp = s.post(f"{B}/topics/ids/entries", json={"entries": [
        {"id": "5-1", "fields": {"a": "1"}}, {"id": "5-*", "fields": {"a": "2"}}]})
    tap.eq(resp.json().get("ids"), ["5-1", "5-2"], "batch: explicit IDs as XADD picks them")
    resp = s.post(f"{B}/topics/ids/entries", json={"id": "4-0", "fields": {"a": "3"}})
    tap.ok(resp.status_code == 409 and err_code(resp) == "conflict" and "equal or smaller" in
           resp.json()["error"]["message"], "an ID below the top: 409 with XADD's text", resp.text)
    resp = s.post(f"{B}/topics/ids/entries", json={"entries": [
        {"id": "9-0", "fields": {"a": "1"}}, {"id": "8-0", "fields": {"a": "2"}}]})
    tap.ok(resp.status_code == 409 and resp.json().get("ids") == ["9-0"],
           "a batch that fails half way: 409, with the IDs written before", resp.text)
    resp = s.post(f"{B}/topics/trim/entries",
                  json={"maxlen": 3, "entries": [{"fields": {"i": str(i)}} for i in range(10)]})
    tap.ok(resp.status_code == 201 and r.xlen("trim") == 3, "maxlen trims as XADD MAXLEN",
           resp.text)
    resp = s.post(f"{B}/topics/nomk/entries", json={"nomkstream": True, "fields": {"a": "1"}})
    tap.ok(resp.status_code == 404 and not r.exists("nomk"), "nomkstream on a missing topic: 404")
    raw = bytes(range(256))
    resp = s.post(f"{B}/topics/bin/entries",
                  json={"fields": {"blob": {"base64": base64.b64encode(raw).decode()},
                                   "text": "h\u00e9llo"}})
    tap.eq(resp.status_code, 201, "binary value given as base64: 201")
    tap.eq(r.xrange("bin")[0][1], {b"blob": raw, b"text": "h\u00e9llo".encode()},
           "binary value stored byte for byte")
    got = s.get(f"{B}/topics/bin/entries").json()["entries"][0]["fields"]
    tap.ok(got["text"] == "h\u00e9llo" and base64.b64decode(got["blob"]["base64"]) == raw,
           "non-UTF-8 value read back as base64, UTF-8 as a string", json.dumps(got))

    resp = s.post(f"{B}/topics/names/entries", json={"pairs": [
        [{"base64": base64.b64encode(b"\xffname").decode()}, "v1"], ["n", "v2"], ["n", "v3"]]})
    tap.eq(resp.status_code, 201, "pairs: a name that is not UTF-8 and a repeated name")
    tap.eq(r.xrange("names")[0][1], {b"\xffname": b"v1", b"n": b"v3"},
           "pairs: stored as given (redis-py keeps the last of a repeated name)")
    e = s.get(f"{B}/topics/names/entries").json()["entries"][0]
    tap.ok("fields" not in e and e["pairs"][0][0] == {"base64": base64.b64encode(
        b"\xffname").decode()} and [p[1] for p in e["pairs"]] == ["v1", "v2", "v3"],
        "pairs: read back as pairs, in order, nothing lost", json.dumps(e))
    resp = s.post(f"{B}/topics/names/entries", json={"fields": {"k": "a\u0000b"}})
    tap.ok(resp.status_code == 201 and r.xrange("names")[-1][1] == {b"k": b"a\x00b"},
           "a value with \\u0000 is kept whole (and read back as base64)")
    resp = s.post(f"{B}/topics/names/entries", json={"fields": {"a\u0000b": "v"}})
    tap.ok(resp.status_code == 400 and err_code(resp) == "bad_json",
           "a NUL in an object key is refused (such names go in pairs)", resp.text)
    resp = s.post(f"{B}/topics/names/entries", json={"pairs": [["a\u0000b", "v"]]})
    tap.ok(resp.status_code == 201 and r.xrange("names")[-1][1] == {b"a\x00b": b"v"},
           "a name with NUL given in pairs is kept whole")
    resp = s.post(f"{B}/topics/names/entries", json={"pairs": [["only-a-name"]]})
    tap.eq(resp.status_code, 400, "pairs: a pair without its value is 400")

    # ---- durability: no 201 while the persist thread is held ----
    r.execute_command("DEBUG", "PERSIST-HOLD", "1")
    result = {}

    def produce_held():
        result["resp"] = requests.post(f"{B}/topics/held/entries", json={"fields": {"a": "1"}},
                                       timeout=10)

    t = threading.Thread(target=produce_held)
    t.start()
    time.sleep(0.5)
    tap.ok("resp" not in result, "no answer while the entry is not durable")
    r.execute_command("DEBUG", "PERSIST-HOLD", "0")
    t.join(10)
    tap.ok("resp" in result and result["resp"].status_code == 201,
           "201 once the persist thread writes it")

    # ---- read ----
    resp = s.get(f"{B}/topics/orders/entries", params={"count": 5})
    es = resp.json()["entries"]
    tap.ok(len(es) == 5 and es[0]["id"] == ids[0] and resp.json()["last_id"] == es[-1]["id"],
           "read: count and order as XRANGE", resp.text)
    resp = s.get(f"{B}/topics/orders/entries", params={"reverse": "true", "count": 2})
    want = [e[0].decode() for e in r.xrevrange("orders", count=2)]
    tap.eq([e["id"] for e in resp.json()["entries"]], want, "read: reverse as XREVRANGE")
    resp = s.get(f"{B}/topics/orders/entries", params={"start": es[1]["id"], "end": es[2]["id"]})
    tap.eq([e["id"] for e in resp.json()["entries"]], [es[1]["id"], es[2]["id"]],
           "read: start and end bound the range")
    resp = s.get(f"{B}/topics/orders/entries", params={"count": 501})
    tap.ok(resp.status_code == 400 and err_code(resp) == "bad_request",
           "read: count above http-api-max-count is 400")
    resp = s.get(f"{B}/topics/orders/entries", params={"start": "nonsense"})
    tap.ok(resp.status_code == 400 and "Invalid stream ID" in resp.text,
           "read: a bad ID is 400 with XRANGE's text", resp.text)
    tap.eq(s.get(f"{B}/topics/none/entries").json(), {"entries": []},
           "read: a missing topic is empty, as XRANGE")

    # ---- long poll ----
    t0 = time.time()
    resp = s.get(f"{B}/topics/orders/entries", params={"after": "$", "wait_ms": 300})
    tap.ok(resp.json() == {"entries": []} and 0.25 < time.time() - t0 < 3,
           "long poll: empty after wait_ms", resp.text)

    def later():
        time.sleep(0.3)
        requests.post(f"{B}/topics/orders/entries", json={"fields": {"late": "1"}})

    threading.Thread(target=later).start()
    t0 = time.time()
    resp = s.get(f"{B}/topics/orders/entries", params={"after": "$", "wait_ms": 5000})
    tap.ok(len(resp.json()["entries"]) == 1 and time.time() - t0 < 3,
           "long poll: woken by a new entry", resp.text)
    resp = s.get(f"{B}/topics/orders/entries", params={"wait_ms": 10})
    tap.eq(resp.status_code, 400, "wait_ms without after is 400")

    # ---- live tail (SSE) ----
    tail = requests.get(f"{B}/topics/tailme/tail", stream=True, timeout=10)
    tap.ok(tail.status_code == 200 and
           tail.headers.get("Content-Type") == "text/event-stream", "tail: an event stream")
    time.sleep(0.2)
    pid = s.post(f"{B}/topics/tailme/entries", json={"fields": {"x": "1"}}).json()["ids"][0]
    ev = sse_events(tail, 1)
    tap.ok(ev and ev[0].get("id") == pid and json.loads(ev[0]["data"])["fields"] == {"x": "1"},
           "tail: a new entry arrives as an event with its ID", repr(ev))
    tail.close()
    s.post(f"{B}/topics/tailme/entries", json={"fields": {"x": "2"}})
    tail = requests.get(f"{B}/topics/tailme/tail", stream=True, timeout=10,
                        headers={"Last-Event-ID": pid})
    ev = sse_events(tail, 1)
    tap.ok(ev and json.loads(ev[0]["data"])["fields"] == {"x": "2"},
           "tail: Last-Event-ID resumes after the last event seen", repr(ev))
    tail.close()
    time.sleep(0.3)
    before = len(http_clients(r))
    tails = [requests.get(f"{B}/topics/tailme/tail", stream=True, timeout=10) for _ in range(3)]
    metrics = s.get(f"http://127.0.0.1:{http_port}/metrics").text
    tap.ok("\nobelisk_http_api_tails 3\n" in metrics, "metrics: obelisk_http_api_tails counts them")
    resp = s.get(f"{B}/topics/tailme/tail")
    tap.ok(resp.status_code == 503 and err_code(resp) == "unavailable",
           "tail: more than http-api-max-sse is 503", resp.text)
    for tl in tails:
        tl.close()
    time.sleep(0.5)
    tap.ok(len(http_clients(r)) <= before + 1,
           "tail: disconnected tails drop their blocked connections",
           f"{before} -> {len(http_clients(r))}")
    tail = requests.get(f"{B}/topics/tailme/tail", stream=True, timeout=10)
    tap.eq(tail.status_code, 200, "tail: a slot is free again after the disconnects")
    tail.close()

    # ---- consumer groups ----
    g = f"{B}/topics/orders/groups/billing"
    tap.eq(s.post(g, json={"id": "0"}).status_code, 201, "group create: 201")
    resp = s.post(g, json={"id": "0"})
    tap.ok(resp.status_code == 409 and "BUSYGROUP" in resp.text, "group create again: 409")
    resp = s.post(f"{g}/read", json={"consumer": "alice", "count": 3})
    got = resp.json()["entries"]
    tap.ok(len(got) == 3 and got[0]["id"] == ids[0], "group read: 3 entries", resp.text)
    tap.eq(r.xpending("orders", "billing")["pending"], 3, "group read: 3 pending (XPENDING)")
    resp = s.post(f"{g}/ack", json={"ids": [got[0]["id"]]})
    tap.eq(resp.json(), {"acked": 1}, "ack: 1")
    resp = s.post(f"{g}/claim", json={"consumer": "bob", "min_idle_ms": 0, "ids": [got[1]["id"]]})
    tap.ok(resp.json()["entries"][0]["id"] == got[1]["id"], "claim: the entry moves to bob",
           resp.text)
    tap.eq(s.post(f"{g}/commit", json={"id": got[0]["id"]}).status_code, 200, "commit: 200")
    lag = s.get(f"{g}/lag").json()
    tap.ok(lag["committed"] == got[0]["id"] and lag["lag"] == r.xlen("orders") - 1 and
           lag["pending"] == 2, "lag: committed, lag and pending as XLAG", json.dumps(lag))
    pend = s.get(f"{g}/pending").json()
    tap.ok(pend["count"] == 2 and pend["min"] == got[1]["id"] and
           sorted(c["name"] for c in pend["consumers"]) == ["alice", "bob"],
           "pending: the XPENDING summary", json.dumps(pend))
    groups = s.get(f"{B}/topics/orders/groups").json()
    tap.ok(groups[0]["name"] == "billing" and groups[0]["pending"] == 2, "groups: XINFO GROUPS")
    resp = s.post(f"{B}/topics/orders/groups/nope/read", json={"consumer": "a"})
    tap.ok(resp.status_code == 404 and "NOGROUP" in resp.text, "read from a missing group: 404")
    resp = s.post(f"{g}/read", json={"consumer": 7})
    tap.eq(resp.status_code, 400, "group read: a consumer that is not a string is 400")
    for path, body, name in (("read", {"count": 1}, "consumer"),
                             ("claim", {"min_idle_ms": 0, "ids": ["0-1"]}, "consumer"),
                             ("commit", {}, "id")):
        resp = s.post(f"{g}/{path}", json=body)
        tap.ok(resp.status_code == 400 and f"{name} is required" in resp.text,
               f"group {path}: a missing {name} is 400", resp.text)
    resp = s.post(f"{g}/read", json={"consumer": "carol", "count": 100})
    t0 = time.time()
    resp = s.post(f"{g}/read", json={"consumer": "carol", "wait_ms": 300})
    tap.ok(resp.json() == {"entries": []} and time.time() - t0 >= 0.25,
           "group read: blocks for wait_ms when nothing is new", resp.text)
    tap.eq(s.delete(g).status_code, 204, "group destroy: 204")
    tap.eq(s.delete(g).status_code, 404, "group destroy again: 404")

    # ---- topics ----
    for k in ("t1", "t2", "t3"):
        r.xadd(k, {"f": "v"}, id="1-1")
    seen, cursor, pages = set(), None, 0
    while pages < 100:
        params = {"count": 2}
        if cursor:
            params["cursor"] = cursor
        page = s.get(f"{B}/topics", params=params).json()
        pages += 1
        for t in page["topics"]:
            seen.add(t["key"] if isinstance(t["key"], str) else t["key"]["base64"])
        cursor = page["cursor"]
        if cursor is None:
            break
    tap.ok({"t1", "t2", "t3", "orders"} <= seen, "topics: paging with the cursor sees them all",
           repr(seen))
    t1 = [t for t in s.get(f"{B}/topics", params={"match": "t1"}).json()["topics"]]
    tap.ok(len(t1) == 1 and t1[0]["length"] == 1 and "append_rate" in t1[0] and t1[0]["first_id"] == "1-1" and
           t1[0]["last_id"] == "1-1" and t1[0]["disk_bytes"] > 0, "topics: one row's values",
           repr(t1))
    info = s.get(f"{B}/topics/orders").json()
    tap.ok(info["length"] == r.xlen("orders") and "retention" in info and "disk_bytes" in info and
           info["first-entry"]["id"] == ids[0], "topic info: XINFO STREAM plus retention, disk")
    tap.eq(s.get(f"{B}/topics/none").status_code, 404, "topic info of a missing topic: 404")
    resp = s.put(f"{B}/topics/t1/retention", json={"bytes": 1048576, "ms": None})
    tap.eq(resp.status_code, 200, "retention set: 200")
    tap.eq(s.get(f"{B}/topics/t1/retention").json()["bytes"], 1048576, "retention read back")
    resp = s.put(f"{B}/topics/t1/retention", json={"bytes": "big"})
    tap.eq(resp.status_code, 400, "retention: a string is 400")
    tap.eq(s.delete(f"{B}/topics/t1").status_code, 204, "delete: 204")
    tap.ok(not r.exists("t1"), "delete: the topic is gone")
    tap.eq(s.delete(f"{B}/topics/t1").status_code, 404, "delete again: 404")

    # ---- db and binary keys ----
    key = b"a/b\x00c\xff"
    enc = "".join(f"%{b:02X}" for b in key)
    resp = s.post(f"{B}/topics/{enc}/entries?db=2", json={"fields": {"f": "v"}})
    tap.eq(resp.status_code, 201, "a percent-encoded binary key in db 2: 201")
    r2 = redis.Redis(port=o.port, db=2)
    tap.eq(r2.xlen(key), 1, "the binary key exists in db 2, byte for byte")
    rows = s.get(f"{B}/topics", params={"db": 2}).json()["topics"]
    tap.ok(rows and base64.b64decode(rows[0]["key"]["base64"]) == key,
           "a non-UTF-8 key is listed as base64", repr(rows))
    tap.eq(s.get(f"{B}/topics?db=99").status_code, 400, "db out of range: 400")

    # ---- search ----
    for i in range(30):
        r.xadd("logs", {"level": "error" if i % 10 == 3 else "info", "msg": f"m{i}"},
               id=f"{i + 1}-0")
    resp = s.get(f"{B}/topics/logs/search", params={"match": "error"})
    tap.eq(resp.status_code, 400, "search without a range: 400")
    resp = s.get(f"{B}/topics/logs/search", params={"start": "-", "end": "+", "match": "err",
                                                    "field": "level"})
    m = resp.json()
    tap.ok([e["id"] for e in m["matches"]] == ["4-0", "14-0", "24-0"] and m["cursor"] is None and
           m["scanned"] == 30, "search: contains in one field over the range", resp.text)
    resp = s.get(f"{B}/topics/logs/search", params={"start": "-", "end": "+", "match": "m7",
                                                    "mode": "equals"})
    tap.eq([e["id"] for e in resp.json()["matches"]], ["8-0"], "search: equals in any field")
    found, cursor, rounds = [], "-", 0
    while cursor and rounds < 20:
        page = s.get(f"{B}/topics/logs/search", params={"start": cursor, "end": "+",
                                                         "match": "error", "budget": 7}).json()
        rounds += 1
        tap.ok(page["scanned"] <= 7, f"search: round {rounds} scans at most the budget") \
            if rounds == 1 else None
        found += [e["id"] for e in page["matches"]]
        cursor = page["cursor"]
    tap.ok(found == ["4-0", "14-0", "24-0"] and rounds >= 4,
           "search: the cursor continues where the budget stopped", f"{found} in {rounds}")

    # ---- request errors ----
    u = f"{B}/topics/orders/entries"
    resp = s.post(u, data=b'{"fields": ', headers={"Content-Type": "application/json"})
    tap.ok(resp.status_code == 400 and err_code(resp) == "bad_json", "bad JSON: 400 bad_json")
    resp = s.post(u, data=b"[1,2]")
    tap.eq(resp.status_code, 400, "a body that is not an object: 400")
    resp = s.post(u, json={"fields": {"a": 1}})
    tap.eq(resp.status_code, 400, "a number as a value: 400")
    resp = s.post(u, json={"fields": {}})
    tap.eq(resp.status_code, 400, "empty fields: 400")
    resp = s.post(u, json={"fields": {"a": "1"}, "colour": "red"})
    tap.ok(resp.status_code == 400 and "colour" in resp.text, "an unknown member: 400 naming it")
    resp = s.post(u, json={"fields": {"a": "1"}, "maxlen": "ten"})
    tap.eq(resp.status_code, 400, "maxlen as a string: 400")
    resp = s.post(u, json={"entries": [{"fields": {"a": "1"}}] * 51})
    tap.ok(resp.status_code == 413 and err_code(resp) == "payload_too_large",
           "more entries than http-api-max-batch: 413")
    resp = s.post(u, json={"fields": {"a": "x" * 100000}})
    tap.ok(resp.status_code == 413 and err_code(resp) == "payload_too_large" and
           resp.headers.get("Content-Type") == "application/json" and
           resp.headers.get("Connection") == "close",
           "a body above http-api-max-body: 413 payload_too_large as JSON, Connection: close",
           f"{resp.status_code} {resp.headers} {resp.text[:200]}")
    tap.ok('"message":"the body is larger than http-api-max-body"' in resp.text,
           "the 413's message is the API's", resp.text[:200])
    s = requests.Session()  # the connection is closed after a 413
    tap.eq(s.get(f"{B}/nothing").status_code, 404, "an unknown route: 404")
    resp = s.patch(u, json={})
    tap.ok(resp.status_code == 405 and "POST" in resp.headers.get("Allow", ""),
           "a wrong method: 405 with Allow")
    # HEAD is GET without the body, on every GET route but the event stream
    got = s.get(f"{B}/topics")
    resp = s.head(f"{B}/topics")
    tap.ok(resp.status_code == 200 and resp.content == b"" and
           resp.headers.get("Content-Length") == str(len(got.content)) and
           resp.headers.get("Content-Type") == "application/json",
           "HEAD /v1/topics: 200, GET's headers and length, no body",
           f"{resp.status_code} {resp.headers} {len(got.content)}")
    s.post(u, json={"fields": {"a": "1"}})
    resp = s.head(u)
    tap.ok(resp.status_code == 200 and resp.content == b"", "HEAD on a topic's entries: 200, no body",
           f"{resp.status_code}")
    resp = s.head(f"{B}/topics/k/tail")
    tap.ok(resp.status_code == 405 and resp.headers.get("Allow") == "GET",
           "HEAD on the event stream: 405, Allow: GET", f"{resp.status_code} {resp.headers}")
    tap.eq(s.get(f"http://127.0.0.1:{http_port}/health").status_code, 200,
           "/health still answers")

    # ---- request bodies above http-api-max-body (64kb here) ----
    limit = 65536
    pu = "/v1/topics/orders/entries"  # the path, for raw requests
    c = raw_conn()
    c.sendall(post_head(pu, 100000) + b"x" * 100000)
    st, hd, body, rest = read_answer(c)
    tap.ok(st == 413 and json_error(body) == "payload_too_large" and
           hd.get("content-type") == "application/json" and hd.get("connection") == "close",
           "Content-Length above the limit: 413 payload_too_large as JSON", f"{st} {hd} {body}")
    tap.ok(rest == b"" and ends_cleanly(c), "... and the server then closes the connection")
    c.close()
    c = raw_conn()
    c.sendall(post_head(pu, extra="Transfer-Encoding: chunked\r\n") +
              chunked(body_of(100000), 16384))
    st, hd, body, rest = read_answer(c)
    tap.ok(st == 413 and json_error(body) == "payload_too_large" and
           hd.get("content-type") == "application/json",
           "a chunked body above the limit: 413 payload_too_large as JSON", f"{st} {hd} {body}")
    tap.ok(rest == b"" and ends_cleanly(c), "... and the server then closes the connection")
    c.close()
    c = raw_conn()
    c.sendall(post_head(pu, limit) + body_of(limit))
    st, _, body, _ = read_answer(c)
    tap.eq(st, 201, "a body of exactly http-api-max-body: 201")
    c.sendall(post_head(pu, extra="Transfer-Encoding: chunked\r\n") +
              chunked(body_of(limit), 10000))
    st, _, body, _ = read_answer(c)
    tap.eq(st, 201, "a chunked body of exactly http-api-max-body, same connection: 201")
    c.sendall(post_head(pu, limit + 1) + body_of(limit + 1))
    st, _, body, _ = read_answer(c)
    tap.ok(st == 413 and json_error(body) == "payload_too_large",
           "one byte more than the limit: 413", f"{st} {body}")
    c.close()
    resp = requests.post(f"http://127.0.0.1:{http_port}/health", data=b"x" * 100000)
    tap.ok(resp.status_code == 413 and err_code(resp) == "payload_too_large",
           "a body above the limit on a path outside /v1: the same JSON 413",
           f"{resp.status_code} {resp.text[:200]}")
    try:
        resp = requests.post(u, data=b"y" * (16 << 20), timeout=20)
        st, code = resp.status_code, err_code(resp)
    except requests.ConnectionError as e:
        st, code = None, str(e)
    tap.ok(st == 413 and code == "payload_too_large",
           "a client that sends all of a 16 MB body before reading gets the 413 (no reset)",
           f"{st} {code}")
    c = raw_conn()
    c.sendall(post_head(pu, 100000, "Expect: 100-continue\r\n"))
    st, _, body, _ = read_answer(c)
    tap.ok(st == 413 and json_error(body) == "payload_too_large",
           "Expect: 100-continue above the limit: the 413 comes instead of 100 Continue",
           f"{st} {body}")
    c.close()
    c = raw_conn()
    one = b'{"fields":{"e":"1"}}'
    c.sendall(post_head(pu, len(one), "Expect: 100-continue\r\n"))
    st1, _, _, rest = read_answer(c)
    c.sendall(one)
    st2, _, _, _ = read_answer(c, rest)
    tap.eq((st1, st2), (100, 201), "Expect: 100-continue under the limit: 100 Continue, then 201")
    c.close()
    # a huge Content-Length, then nothing: the 413 comes at once, nothing is held for it
    c = raw_conn()
    t0 = time.time()
    c.sendall(post_head(pu, 10 ** 12) + b'{"fields":')
    st, _, body, _ = read_answer(c)
    tap.ok(st == 413 and json_error(body) == "payload_too_large" and time.time() - t0 < 1.0,
           "Content-Length of 1 TB and a stall: the JSON 413 at once",
           f"{st} {body} {time.time() - t0:.2f}s")
    tap.ok(ends_cleanly(c), "... and the server closes the connection")
    c.close()
    before = rss_kb(o.proc.pid)
    c = raw_conn(timeout=20)
    try:
        c.sendall(post_head(pu, 10 ** 9))
        c.sendall(b"z" * (32 << 20))
        st, _, body, _ = read_answer(c)
    except OSError as e:
        st, body = None, str(e)
    grown = rss_kb(o.proc.pid) - before
    with open(f"/proc/{o.proc.pid}/maps") as f:
        sanitized = "libasan" in f.read()  # ASan keeps freed memory in quarantine
    tap.ok(st == 413 and (grown < 8192 or sanitized),
           "32 MB sent after a refused head: the 413, and the server's memory does not grow",
           f"{st} grew {grown} kB")
    c.close()
    # chunked framing the server does not follow: JSON 400, not libevent's page
    c = raw_conn()
    c.sendall(post_head(pu, extra="Transfer-Encoding: chunked\r\n") + b"zz\r\n")
    st, hd, body, _ = read_answer(c)
    tap.ok(st == 400 and json_error(body) == "bad_request" and
           hd.get("content-type") == "application/json",
           "a chunk size that is not hex: 400 bad_request as JSON", f"{st} {body}")
    c.close()
    c = raw_conn()
    c.sendall(post_head(pu, extra="Transfer-Encoding: chunked\r\n") +
              chunked(b'{"fields":{"a":"1"}}', 100)[:-2] + b"X-Check: 1\r\n\r\n")
    st, _, body, _ = read_answer(c)
    tap.ok(st == 400 and json_error(body) == "bad_request",
           "trailer fields after a chunked body: 400 bad_request as JSON", f"{st} {body}")
    c.close()

    # ---- keep-alive and pipelining still work through the limit ----
    c = raw_conn()
    one = b'{"fields":{"p":"1"}}'
    c.sendall(post_head("/v1/topics/pipe/entries", len(one)) + one +
              b"GET /v1/topics/pipe/entries HTTP/1.1\r\nHost: x\r\n\r\n" +
              post_head("/v1/topics/pipe/entries", len(one)) + one)
    got, rest = [], b""
    for _ in range(3):
        st, _, body, rest = read_answer(c, rest)
        got.append(st)
    tap.eq(got, [201, 200, 201], "three requests in one write on one connection: all answered")
    c.close()
    c = raw_conn()
    c.sendall(post_head("/v1/topics/pipe/entries", len(one)) + one +
              post_head(pu, 100000) + b"x" * 1000)
    st1, _, _, rest = read_answer(c)
    st2, _, body2, rest = read_answer(c, rest)
    tap.ok(st1 == 201 and st2 == 413 and json_error(body2) == "payload_too_large",
           "a request, then one above the limit, in one write: 201, then the 413",
           f"{st1} {st2} {body2}")
    tap.ok(rest == b"" and ends_cleanly(c), "... then the connection closes")
    c.close()
    # the 413 waits for the answer before it: a produce held by the persist thread
    r.execute_command("DEBUG", "PERSIST-HOLD", "1")
    c = raw_conn()
    c.sendall(post_head("/v1/topics/pipe/entries", len(one)) + one + post_head(pu, 100000))
    c.settimeout(0.5)
    try:
        early = c.recv(65536)
    except socket.timeout:
        early = b""
    r.execute_command("DEBUG", "PERSIST-HOLD", "0")
    c.settimeout(5)
    st1, _, _, rest = read_answer(c, early)
    st2, _, body2, _ = read_answer(c, rest)
    tap.ok(early == b"" and st1 == 201 and st2 == 413,
           "the 413 is not sent before the answer to the request ahead of it",
           f"{early[:60]!r} {st1} {st2}")
    c.close()
    c = raw_conn()
    req = post_head("/v1/topics/pipe/entries", len(one))
    for i in range(len(req)):
        c.sendall(req[i:i + 1])
        time.sleep(0.002)
    c.sendall(one)
    st, _, body, _ = read_answer(c)
    tap.eq(st, 201, "a request whose head arrives byte by byte: 201")
    req = post_head("/v1/topics/pipe/entries", extra="Transfer-Encoding: chunked\r\n") + \
        chunked(one, 7)
    for i in range(len(req)):
        c.sendall(req[i:i + 1])
        time.sleep(0.001)
    st, _, body, _ = read_answer(c)
    tap.eq(st, 201, "a chunked request sent byte by byte on the same connection: 201")
    c.close()

    # ---- CONFIG SET http-api-max-body ----
    old = requests.Session()
    tap.eq(old.post(u, data=body_of(30000)).status_code, 201, "30 kB under the 64kb limit: 201")
    r.config_set("http-api-max-body", "16kb")
    resp = old.post(u, data=body_of(30000))
    tap.ok(resp.status_code == 413 and err_code(resp) == "payload_too_large" and
           resp.headers.get("Connection") == "close",
           "after CONFIG SET 16kb, 30 kB on a connection opened before: JSON 413, refused "
           "before the body was read (Connection: close)",
           f"{resp.status_code} {resp.headers} {resp.text[:100]}")
    resp = requests.post(u, data=body_of(30000))
    tap.ok(resp.status_code == 413 and err_code(resp) == "payload_too_large",
           "... and on a new connection", f"{resp.status_code} {resp.text[:100]}")
    c = raw_conn()
    c.sendall(post_head(pu, extra="Transfer-Encoding: chunked\r\n") +
              chunked(body_of(30000), 4096))
    st, _, body, _ = read_answer(c)
    tap.ok(st == 413 and json_error(body) == "payload_too_large",
           "... and chunked", f"{st} {body}")
    c.close()
    tap.eq(requests.post(u, data=body_of(16384)).status_code, 201,
           "16 kB, the new limit exactly: 201")
    old = requests.Session()
    old.get(f"{B}/topics")
    r.config_set("http-api-max-body", "128kb")
    resp = old.post(u, data=body_of(100000))
    tap.ok(resp.status_code == 413 and err_code(resp) == "payload_too_large",
           "raised to 128kb: a connection opened before keeps its 16kb, as JSON",
           f"{resp.status_code} {resp.text[:100]}")
    tap.eq(requests.post(u, data=body_of(100000)).status_code, 201,
           "raised to 128kb: 100 kB on a new connection is 201")
    r.config_set("http-api-max-body", "64kb")

    # ---- big answers on a connection the client closes (Connection: close, HTTP/1.0) ----
    for i in range(300):
        r.xadd("bigread", {"v": "w" * 10000})
    c = raw_conn(timeout=10)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    c.sendall(b"GET /v1/topics/bigread/entries?count=300 HTTP/1.1\r\nHost: x\r\n"
              b"Connection: close\r\n\r\n")
    time.sleep(0.5)
    st, _, body, rest = read_answer(c)
    n = len(json.loads(body).get("entries", [])) if st == 200 else 0
    tap.ok(st == 200 and n == 300 and rest == b"" and ends_cleanly(c),
           "a 3 MB answer to a slow reader that asked for Connection: close arrives whole",
           f"{st} {n} {len(body)}")
    c.close()
    c = raw_conn()
    c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
    got = b""
    try:
        while True:
            part = c.recv(65536)
            if not part:
                break
            got += part
    except (ConnectionError, socket.timeout):
        got = None
    tap.ok(got is not None and got.startswith(b"HTTP/1.0 200") and
           got.endswith(b"\n") and b"\nobelisk_http_api_tails " in got,
           "an HTTP/1.0 request (answered up to the close): the whole answer",
           repr(got[-200:]) if got else "reset")
    c.close()

    # ---- docs/openapi.yaml: every route and method it lists exists ----
    spec = yaml.safe_load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "..", "docs", "openapi.yaml")))
    missing = []
    for path, item in spec["paths"].items():
        for method in ("get", "post", "put", "delete"):
            if method not in item:
                continue
            url = f"http://127.0.0.1:{http_port}" + path.replace("{key}", "spec").replace(
                "{group}", "g")
            if path.endswith("/tail"):
                url += "?after=0"
                resp = requests.get(url, stream=True, timeout=5)
                resp.close()
            else:
                resp = s.request(method.upper(), url, data=b"{}", timeout=5)
            if resp.status_code == 405 or "no such route" in resp.text:
                missing.append(f"{method.upper()} {path}: {resp.status_code}")
    tap.ok(not missing, "every route of docs/openapi.yaml is served", "\n".join(missing))

    # ---- a slow tail reader is dropped, the server goes on ----
    sock = socket.create_connection(("127.0.0.1", http_port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /v1/topics/slow/tail HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    big = "y" * 60000
    for _ in range(40):
        r.xadd("slow", {"v": big})
        r.xadd("slow", {"v": big})
    for _ in range(200):
        r.xadd("slow", {"v": big})
    time.sleep(1.0)
    tap.ok(r.ping() and s.get(f"http://127.0.0.1:{http_port}/health").status_code == 200,
           "a tail that does not read: the server still answers")
    sock.close()

# ---- 503 while loading ----
lport, hport = servers.free_port(), servers.free_port()
tmp = tempfile.mkdtemp(prefix="rt-obelisk-loading-")
proc = subprocess.Popen([servers.OBELISK, "--port", str(lport), "--http-port", str(hport),
                         "--dir", os.path.join(tmp, "data"), "--debug-loading-delay-ms", "3000"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    status, body = None, ""
    end = time.time() + 5
    while time.time() < end:
        try:
            resp = requests.post(f"http://127.0.0.1:{hport}/v1/topics/k/entries",
                                 json={"fields": {"a": "1"}}, timeout=2)
            status, body = resp.status_code, resp.text
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    tap.ok(status == 503 and "LOADING" in body and '"unavailable"' in body,
           "produce while loading: 503 with the LOADING text", f"{status} {body}")
    # /health while loading: 503, and the load's progress as INFO persistence has it
    resp = requests.get(f"http://127.0.0.1:{hport}/health", timeout=2)
    rec = resp.json().get("components", {}).get("recovery", {}) if resp.status_code == 503 else {}
    tap.ok(rec.get("loading") is True and
           all(k in rec for k in ("loading_start_time", "loading_total_bytes",
                                  "loading_loaded_bytes", "loading_loaded_perc")) and
           abs(rec["loading_start_time"] - time.time()) < 30,
           "/health while loading: 503 with loading_start_time, loading_total_bytes, "
           "loading_loaded_bytes and loading_loaded_perc", f"{resp.status_code} {resp.text}")
finally:
    proc.kill()
    proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)

# ---- 503 when read-only after an I/O error ----
http_port = servers.free_port()
with servers.Obelisk(["--http-port", str(http_port), "--on-io-error", "readonly"]) as o:
    r = redis.Redis(port=o.port)
    B = f"http://127.0.0.1:{http_port}/v1"
    requests.post(f"{B}/topics/k/entries", json={"fields": {"a": "1"}})
    r.execute_command("DEBUG", "IO-FAULT", "FSYNC-EIO")
    first = requests.post(f"{B}/topics/k/entries", json={"fields": {"a": "2"}}, timeout=10)
    tap.ok(first.status_code == 503 and "MISCONF" in first.text,
           "a produce whose fsync fails: 503 MISCONF, never 201", first.text)
    r.execute_command("DEBUG", "IO-FAULT", "NONE")
    later = requests.post(f"{B}/topics/k/entries", json={"fields": {"a": "3"}}, timeout=10)
    tap.ok(later.status_code == 503 and err_code(later) == "unavailable",
           "read-only after the error: produce is 503", later.text)
    rd = requests.get(f"{B}/topics/k/entries")
    got = [e["fields"] for e in rd.json().get("entries", [])] if rd.status_code == 200 else None
    tap.ok(got == [{"a": "1"}],
           "a read of the topic whose last batch failed: 200 with the durable entry only", rd.text)

# ---- authentication: requirepass set, HTTP Basic or the bearer token ----
http_port = servers.free_port()
with servers.Obelisk(["--http-port", str(http_port), "--requirepass", "pw-9c",
                      "--http-auth-token", "tok-3b"]) as o:
    H = f"http://127.0.0.1:{http_port}"
    for path in ("/", "/metrics", "/v1/topics", "/v1/topics/k/entries", "/health"):
        resp = requests.get(H + path)
        tap.ok(resp.status_code == 401 and
               resp.headers.get("WWW-Authenticate") == 'Basic realm="obelisk", charset="UTF-8"',
               f"auth: {path} without credentials is 401 with a Basic challenge",
               f"{resp.status_code} {resp.headers}")
    tap.eq(err_code(requests.get(f"{H}/v1/topics")), "unauthorized",
           "auth: the API's 401 is its JSON error")
    tap.eq([requests.get(H + p).status_code for p in ("/health/live", "/health/ready")],
           [200, 200], "auth: the liveness and readiness probes need no credentials")
    s = requests.Session()
    s.auth = ("default", "pw-9c")
    made = s.post(f"{H}/v1/topics/authed/entries", json={"fields": {"a": "1"}})
    tap.ok(made.status_code == 201, "auth: a produce with Basic credentials", made.text)
    tap.eq(s.get(f"{H}/v1/topics/authed/entries").json()["entries"][0]["fields"], {"a": "1"},
           "auth: a read with Basic credentials")
    # the dashboard: the page, every asset it names, and the routes app.js fetches
    page = s.get(H + "/")
    assets = re.findall(r'(?:src|href)="(/[^"]*)"', page.text)
    got = {a: s.get(H + a).status_code for a in assets + ["/health", "/metrics", "/v1/topics"]}
    # (uPlot is embedded only when web/node_modules has it: 404 otherwise, never 401)
    tap.ok(page.status_code == 200 and assets and
           all(v == 200 or (v == 404 and "uPlot" in a) for a, v in got.items()),
           "auth: the dashboard and everything it loads, with the same credentials", repr(got))
    tail = s.get(f"{H}/v1/topics/authed/tail", stream=True, timeout=10)
    tap.ok(tail.status_code == 200 and tail.headers.get("Content-Type") == "text/event-stream",
           "auth: the live tail with Basic credentials", str(tail.status_code))
    s.post(f"{H}/v1/topics/authed/entries", json={"fields": {"a": "2"}})
    ev = sse_events(tail, 1)
    tap.ok(len(ev) == 1, "auth: the tail delivers a new entry", repr(ev))
    tail.close()
    tap.eq(requests.get(f"{H}/v1/topics/authed/tail", stream=True, timeout=10).status_code, 401,
           "auth: the live tail without credentials is 401")
    bearer = requests.get(f"{H}/metrics", headers={"Authorization": "Bearer tok-3b"})
    tap.eq(bearer.status_code, 200, "auth: the bearer token")
    wrong = requests.get(f"{H}/metrics", auth=("default", "nope"))
    r = redis.Redis(port=o.port, password="pw-9c")
    tap.ok(wrong.status_code == 401 and
           r.info("stats")["acl_access_denied_auth"] == 1,
           "auth: a wrong password is 401 and counted in INFO stats",
           f"{wrong.status_code} {r.info('stats').get('acl_access_denied_auth')}")
    tap.ok("\nobelisk_auth_failures_total 1\n" in s.get(f"{H}/metrics").text,
           "auth: and in /metrics")

tap.done()
