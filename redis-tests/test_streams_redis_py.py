#!/usr/bin/python3
"""redis-py (Debian's, /usr/bin/python3) doing streams against obelisk-server, results compared
with the same calls against redis-server: xadd (explicit IDs, ms-*, *, maxlen/minid, approximate,
nomkstream), xrange/xrevrange (bounds, count), xlen, xdel, xtrim, xsetid, xinfo_stream (and
full=True), xread (several streams, count, $) in RESP2, pipelines and transactions, and
xread(block=...) woken by an xadd from a second connection in a thread, plus a block that times
out. Auto-generated IDs are compared by shape only."""
import os
import re
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
tap.diag(f"redis-py {redis.__version__}")
AUTO_ID = re.compile(rb"^\d{13,}-\d+$")


def both(fn, desc, cmp=lambda x: x):
    """Runs fn(client) on both servers; the results (or exception types and texts) must match."""
    res = []
    for cl in clients:
        try:
            res.append(("ok", cmp(fn(cl))))
        except Exception as e:  # noqa: BLE001 - the exception itself is compared
            res.append((type(e).__name__, str(e)))
    tap.eq(res[1], res[0], desc + " (same as redis-server)")
    return res[1]


def no_radix(d):
    """xinfo_stream without radix-tree-keys/-nodes (Obelisk's are documented stand-ins)."""
    return {k: v for k, v in d.items() if k not in ("radix-tree-keys", "radix-tree-nodes")}


def blocked_read(c, streams, block, adder=None, delay=0.2, **kw):
    """xread(block=...) on c; adder (if any) runs in a thread after delay seconds on another
    connection. Returns (result, elapsed seconds)."""
    th = None
    if adder:
        def later():
            time.sleep(delay)
            adder()
        th = threading.Thread(target=later)
        th.start()
    t0 = time.time()
    try:
        res = c.xread(streams, block=block, **kw)
    finally:
        if th:
            th.join()
    return res, time.time() - t0


with servers.Redis() as rs, servers.Obelisk() as ob:
    clients = [redis.Redis(port=s.port, socket_timeout=10) for s in (rs, ob)]
    writers = [redis.Redis(port=s.port, socket_timeout=10) for s in (rs, ob)]
    o = clients[1]
    both(lambda c: c.flushall(), "flushall")
    both(lambda c: c.xadd("s", {"f": "v"}, id="1-1"), "xadd explicit id")
    both(lambda c: c.xadd("s", {"a": "1", "b": b"\x00\xff"}, id="1-2"), "xadd two fields, binary value")
    both(lambda c: c.xadd("s", {"f": "v"}, id="2-*"), "xadd ms-*")
    both(lambda c: c.xadd("s", {"f": "v"}, id="2-*"), "xadd ms-* again")
    both(lambda c: c.xadd("s", {"f": "v"}, id="1-5"), "xadd smaller id: ResponseError")
    both(lambda c: c.xadd("s", {"f": "v"}, id="0-0"), "xadd 0-0: ResponseError")
    both(lambda c: c.xadd("s", {"f": "v"}, id="1-2-3"), "xadd invalid id: ResponseError")
    both(lambda c: c.xadd("nomk", {"f": "v"}, nomkstream=True), "xadd nomkstream on a missing key: None")
    both(lambda c: c.exists("nomk"), "nomkstream created nothing")
    autos = [c.xadd("s", {"auto": "1"}) for c in clients]
    auto = autos[1]
    tap.ok(all(AUTO_ID.match(a) for a in autos), "xadd * returns a <ms>-<seq> id on both", autos)
    tap.ok(abs(int(auto.split(b"-")[0]) - time.time() * 1000) < 60000, "auto id ms is the clock", auto)
    both(lambda c: c.xadd("s", {"auto": "2"}) > c.xrange("s", "-", "+")[-2][0], "next auto id is greater")
    both(lambda c: c.xlen("s"), "xlen")
    both(lambda c: c.xrange("s", "-", "1-5"), "xrange - 1-5")
    both(lambda c: c.xrange("s", min="1", max="2"), "xrange incomplete ids")
    both(lambda c: c.xrange("s", min="(1-1", max="2-1"), "xrange exclusive start")
    both(lambda c: c.xrange("s", count=2), "xrange count=2")
    both(lambda c: c.xrevrange("s", "2-1", "-", count=2), "xrevrange count=2")
    both(lambda c: c.xrevrange("s", max="(2-1", min="-"), "xrevrange exclusive end")
    both(lambda c: c.xrange("nokey"), "xrange missing key: []")
    both(lambda c: c.xrange("s", "abc", "+"), "xrange invalid id: ResponseError")
    both(lambda c: c.xdel("s", "1-1", "9-9"), "xdel one present, one missing")
    both(lambda c: c.xdel("nokey", "1-1"), "xdel missing key")
    both(lambda c: [x for x in c.xrange("s", "-", "2-1")], "xrange after xdel")
    # trimming
    for cl in clients:
        cl.delete("t")
        for i in range(1, 11):
            cl.xadd("t", {"n": str(i)}, id=f"{i}-0")
    both(lambda c: c.xtrim("t", maxlen=8), "xtrim maxlen=8 (exact)")
    both(lambda c: c.xtrim("t", maxlen=5, approximate=True), "xtrim maxlen=5 approximate (one node)")
    both(lambda c: c.xtrim("t", minid="5-0"), "xtrim minid")
    both(lambda c: c.xtrim("t", maxlen=2, approximate=False), "xtrim maxlen=2 approximate=False")
    both(lambda c: c.xtrim("t", maxlen=1, approximate=True, limit=10), "xtrim with limit")
    both(lambda c: c.xtrim("t", maxlen=1, approximate=False, limit=10), "xtrim limit without ~: error")
    both(lambda c: c.xadd("t", {"n": "11"}, id="11-0", maxlen=1, approximate=False), "xadd maxlen=1 exact")
    both(lambda c: c.xadd("t", {"n": "12"}, id="12-0", minid="12", approximate=False), "xadd minid")
    both(lambda c: c.xrange("t"), "xrange after trims")
    both(lambda c: c.xadd("t", {"n": "13"}, id="13-0", maxlen=1, minid="1"), "xadd maxlen and minid: DataError")
    both(lambda c: c.xlen("t"), "xlen after trims")
    # xsetid and xinfo
    both(lambda c: c.execute_command("XSETID", "t", "20-0", "ENTRIESADDED", "50", "MAXDELETEDID", "15-0"),
         "XSETID with ENTRIESADDED and MAXDELETEDID")
    both(lambda c: c.execute_command("XSETID", "t", "1-0"), "XSETID smaller: error")
    both(lambda c: no_radix(c.xinfo_stream("t")), "xinfo_stream (radix fields left out)")
    both(lambda c: c.xinfo_stream("t")["radix-tree-keys"], "xinfo_stream radix-tree-keys (one node)")
    both(lambda c: no_radix(c.xinfo_stream("t", full=True)), "xinfo_stream full=True")
    both(lambda c: c.xinfo_stream("nokey"), "xinfo_stream missing key: ResponseError")
    both(lambda c: c.delete("t", "nokey"), "delete a stream")
    both(lambda c: c.type("s"), "type is stream")
    # xread, non-blocking
    for cl in clients:
        cl.delete("a", "b")
        cl.xadd("a", {"f": "1"}, id="1-0")
        cl.xadd("a", {"f": "2"}, id="2-0")
        cl.xadd("b", {"g": "1"}, id="5-0")
    both(lambda c: c.xread({"a": "0", "b": "0"}), "xread two streams from 0")
    both(lambda c: c.xread({"a": "1-0", "b": "5"}), "xread one with news")
    both(lambda c: c.xread({"a": "$"}), "xread $ without block: []")
    both(lambda c: c.xread({"a": 0, "b": 0}, count=1), "xread count=1")
    both(lambda c: c.xread({"nokey": 0}), "xread missing key")
    both(lambda c: c.xread({"a": "abc"}), "xread invalid id: ResponseError")
    # pipelines and transactions
    both(lambda c: c.pipeline(transaction=False).xadd("p", {"f": "1"}, id="1-0").xadd("p", {"f": "2"}, id="1-0")
         .xlen("p").execute(raise_on_error=False), "pipeline with an error inside",
         lambda r: [x if not isinstance(x, Exception) else str(x) for x in r])
    both(lambda c: c.pipeline().xadd("m", {"f": "1"}, id="1-0").xrange("m").xread({"m": 0}).delete("m").execute(),
         "transaction with stream commands")
    # blocking
    res, took = blocked_read(o, {"a": "$"}, block=150)
    tap.ok(res == [] and took >= 0.14, f"xread block=150 with no data returns [] after the timeout ({took:.3f}s)", res)
    both(lambda c: c.xread({"a": "$"}, block=100), "xread block times out (same as redis-server)")
    for n, (cl, w) in enumerate(zip(clients, writers)):
        res, took = blocked_read(cl, {"a": "$", "b": "$"}, block=5000,
                                 adder=lambda w=w: w.xadd("b", {"woke": "yes"}, id="6-0"))
        tap.eq(res, [[b"b", [(b"6-0", {b"woke": b"yes"})]]],
               f"{'redis' if n == 0 else 'obelisk'}: xread block woken by xadd from another connection")
        tap.ok(0.15 <= took < 4, f"{'redis' if n == 0 else 'obelisk'}: woke after the xadd ({took:.3f}s)")
    for n, (cl, w) in enumerate(zip(clients, writers)):
        res, _ = blocked_read(cl, {"fresh": "$"}, block=0, count=1,
                              adder=lambda w=w: w.pipeline().xadd("fresh", {"x": "1"}, id="1-0")
                              .xadd("fresh", {"x": "2"}, id="1-1").execute())
        tap.eq(res, [[b"fresh", [(b"1-0", {b"x": b"1"})]]],
               f"{'redis' if n == 0 else 'obelisk'}: block=0 on a missing key, count=1, woken by a new stream")
    for n, (cl, w) in enumerate(zip(clients, writers)):
        res, _ = blocked_read(cl, {"auto": "$"}, block=5000, adder=lambda w=w: w.xadd("auto", {"k": "v"}))
        ok = (len(res) == 1 and res[0][0] == b"auto" and len(res[0][1]) == 1
              and AUTO_ID.match(res[0][1][0][0]) and res[0][1][0][1] == {b"k": b"v"})
        tap.ok(ok, f"{'redis' if n == 0 else 'obelisk'}: block woken by an auto-id xadd", res)
    both(lambda c: c.xlen("fresh"), "both entries of the pipeline were added")
    for c in clients + writers:
        c.close()
    rc = ob.stop()
    tap.eq(rc, 0, "obelisk-server exits 0 on SIGTERM")
tap.done()
