#!/usr/bin/python3
"""redis-py (Debian's, /usr/bin/python3) using consumer groups and committed offsets against
obelisk-server:

- the group API (xgroup_create/setid/createconsumer/delconsumer/destroy, xreadgroup, xack,
  xpending/xpending_range, xclaim, xautoclaim, xinfo_groups/consumers) gives the same results as
  against redis-server (idle times dropped);
- consumer-group polling (XREADGROUP/XACK loop) with a consumer restarted midway on a new
  connection (it first re-reads its own pending entries, then `>`), on both servers, and with
  the Obelisk server restarted midway (clean stop and kill -9): nothing lost, duplicates only
  of what was delivered but not acknowledged;
- the commit-offset polling pattern (XREAD COUNT n BLOCK t STREAMS key <committed> -> process ->
  XCOMMIT key group <last id>) with a writer thread adding entries meanwhile, a consumer
  restarted on a new connection, and the server restarted (clean and kill -9): every entry is
  processed, in order, re-processed only after the last commit;
- example_commit_polling.py run against the server, twice: the second run resumes at the commit.
"""
import os
import signal
import subprocess
import sys
import threading
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
# A polling loop that has not finished after this long reports a failure instead of spinning.
POLL_LIMIT_S = 60
tap.diag(f"redis-py {redis.__version__}")


def sid(s):
    """A stream ID as a sortable pair: "5-10" sorts after "5-9" (as text it would not)."""
    ms, _, seq = s.partition("-")
    return (int(ms), int(seq))


def connect(srv):
    return redis.Redis(host="127.0.0.1", port=srv.port, decode_responses=True,
                       socket_timeout=10)


def restart(srv, hard):
    """Restarts an Obelisk server in the same data directory (SIGTERM or SIGKILL by PID)."""
    if hard:
        srv.proc.send_signal(signal.SIGKILL)
    else:
        srv.proc.send_signal(signal.SIGTERM)
    rc = srv.proc.wait(timeout=15)
    srv.proc = None
    srv.port = None
    srv.start()
    return rc


def both(fn, desc, cmp=lambda x: x):
    res = []
    for c in clients:
        try:
            res.append(("ok", cmp(fn(c))))
        except Exception as e:  # noqa: BLE001 - the exception is what is compared
            res.append((type(e).__name__, str(e)))
    tap.eq(res[1], res[0], desc + " (same as redis-server)")
    return res[1]


def no_idle(x):
    """Drops idle / time values from xpending_range, xinfo_consumers and xclaim results."""
    if isinstance(x, list):
        return [no_idle(e) for e in x]
    if isinstance(x, dict):
        return {k: no_idle(v) for k, v in x.items()
                if k not in ("idle", "time_since_delivered", "inactive")}
    return x


# ---- the group API, same results as redis-server ------------------------------------------
def api_checks():
    both(lambda c: c.xgroup_create("api", "g", id="$", mkstream=True), "xgroup_create mkstream")
    both(lambda c: c.xgroup_create("api", "g", id="$"), "xgroup_create BUSYGROUP")
    both(lambda c: c.xgroup_create("nokey", "g"), "xgroup_create without the key")
    for i in range(1, 7):
        both(lambda c, i=i: c.xadd("api", {"n": i}, id=f"{i}-0"), f"xadd {i}-0")
    both(lambda c: c.xgroup_setid("api", "g", "0"), "xgroup_setid")
    both(lambda c: c.xgroup_createconsumer("api", "g", "alice"), "xgroup_createconsumer")
    both(lambda c: c.xreadgroup("g", "alice", {"api": ">"}, count=2), "xreadgroup count 2")
    both(lambda c: c.xreadgroup("g", "bob", {"api": ">"}, count=3), "xreadgroup bob")
    both(lambda c: c.xreadgroup("g", "bob", {"api": "0"}), "xreadgroup history")
    both(lambda c: c.xreadgroup("g", "carol", {"api": ">"}, noack=True), "xreadgroup noack")
    both(lambda c: c.xreadgroup("g", "carol", {"api": ">"}, block=100), "xreadgroup block timeout")
    both(lambda c: c.xreadgroup("nog", "x", {"api": ">"}), "xreadgroup NOGROUP")
    both(lambda c: c.xack("api", "g", "1-0", "3-0", "9-0"), "xack")
    both(lambda c: c.xpending("api", "g"), "xpending summary")
    both(lambda c: c.xpending_range("api", "g", "-", "+", 10), "xpending_range", no_idle)
    both(lambda c: c.xpending_range("api", "g", "-", "+", 10, consumername="bob"),
         "xpending_range consumer", no_idle)
    both(lambda c: c.xpending_range("api", "g", "-", "+", 10, idle=100000),
         "xpending_range idle", no_idle)
    both(lambda c: c.xclaim("api", "g", "alice", 0, ["4-0"]), "xclaim")
    both(lambda c: c.xclaim("api", "g", "alice", 0, ["5-0"], justid=True, retrycount=4),
         "xclaim justid retrycount")
    both(lambda c: c.xclaim("api", "g", "dave", 0, ["1-0"], force=True), "xclaim force")
    both(lambda c: c.xclaim("api", "g", "dave", 100000, ["2-0"]), "xclaim min idle not reached")
    both(lambda c: c.xautoclaim("api", "g", "erin", 0, "0-0", count=2), "xautoclaim")
    both(lambda c: c.xautoclaim("api", "g", "erin", 0, "0-0", justid=True), "xautoclaim justid")
    both(lambda c: c.xinfo_groups("api"), "xinfo_groups")
    both(lambda c: c.xinfo_consumers("api", "g"), "xinfo_consumers", no_idle)
    both(lambda c: c.xgroup_delconsumer("api", "g", "erin"), "xgroup_delconsumer")
    both(lambda c: c.xpending("api", "g"), "xpending after delconsumer")
    pipe_res = both(lambda c: c.pipeline().xreadgroup("g", "p", {"api": "0"}).xack("api", "g", "4-0")
                    .xpending("api", "g").execute(), "pipeline xreadgroup/xack/xpending")
    tap.ok(isinstance(pipe_res, tuple) and pipe_res[0] == "ok", "pipeline ran")
    both(lambda c: c.xgroup_destroy("api", "g"), "xgroup_destroy")
    both(lambda c: c.xinfo_groups("api"), "xinfo_groups after destroy")


# ---- consumer-group polling ----------------------------------------------------------------
def group_poll(c, key, group, name, processed, stop_after=None, ack_until=None):
    """An XREADGROUP/XACK loop: first this consumer's pending history (from 0), then `>`.
    Processed IDs are appended to `processed`. Stops when nothing new comes, or after
    stop_after entries; entries past ack_until processed entries are not acknowledged (the
    consumer "dies" before XACK)."""
    n = 0
    deadline = time.monotonic() + POLL_LIMIT_S
    for start in ("0", ">"):
        while True:
            if time.monotonic() > deadline:
                tap.ok(False, f"{name}: group polling ended within {POLL_LIMIT_S} s")
                return
            reply = c.xreadgroup(group, name, {key: start}, count=7, block=200 if start == ">" else None)
            entries = reply[0][1] if reply else []
            if not entries:
                break
            ids = []
            for eid, _fields in entries:
                processed.append(eid)
                n += 1
                if ack_until is None or n <= ack_until:
                    ids.append(eid)
                if stop_after and n >= stop_after:
                    break
            if ids:
                c.xack(key, group, *ids)
            if stop_after and n >= stop_after:
                return
            if start == "0":
                # the history read continues after the last ID it returned
                start = entries[-1][0]
        # `0` history exhausted (no more pending): now new entries


def group_polling_with_consumer_restart(srv, label):
    c = connect(srv)
    key = "gpoll"
    c.delete(key)
    ids = [c.xadd(key, {"n": i}) for i in range(200)]
    c.xgroup_create(key, "workers", id="0")
    first = []
    # the consumer processes 70 entries but dies after acknowledging only 65
    group_poll(c, key, "workers", "w1", first, stop_after=70, ack_until=65)
    c.close()
    c2 = connect(srv)   # the restarted consumer, a new connection, same consumer name
    second = []
    group_poll(c2, key, "workers", "w1", second)
    seen = first + second
    tap.eq(sorted(set(seen), key=sid), sorted(ids, key=sid),
           f"{label}: group polling with a restarted consumer processed every entry")
    dups = sorted((x for x in set(seen) if seen.count(x) > 1), key=sid)
    tap.eq(dups, ids[65:70], f"{label}: re-processed only the 5 entries delivered but not acked")
    tap.eq(c2.xpending(key, "workers")["pending"], 0, f"{label}: nothing left pending")
    c2.close()
    return seen


def group_polling_with_server_restart(srv, hard):
    label = "kill -9" if hard else "clean restart"
    c = connect(srv)
    key = "gpoll2"
    ids = [c.xadd(key, {"n": i}) for i in range(150)]
    c.xgroup_create(key, "workers", id="0")
    first = []
    group_poll(c, key, "workers", "w1", first, stop_after=60, ack_until=52)
    c.close()
    restart(srv, hard)
    c = connect(srv)
    second = []
    group_poll(c, key, "workers", "w1", second)
    seen = first + second
    tap.eq(sorted(set(seen), key=sid), sorted(ids, key=sid),
           f"group polling across a server {label}: every entry")
    dups = sorted((x for x in set(seen) if seen.count(x) > 1), key=sid)
    tap.eq(dups, ids[52:60], f"group polling across a server {label}: re-processed only the "
           "unacknowledged deliveries")
    tap.eq(c.xpending(key, "workers")["pending"], 0, f"{label}: nothing left pending")
    c.delete(key)
    c.close()


# ---- commit-offset polling ------------------------------------------------------------------
def commit_poll(c, key, group, processed, until_n, die_after=None):
    """XREAD COUNT 5 BLOCK 200 STREAMS key <committed> -> process -> XCOMMIT <last id>, until
    until_n distinct entries were processed (or die_after entries in this run: it returns
    without committing the last batch)."""
    pos = c.execute_command("XCOMMITTED", key, group) or "0-0"
    n = 0
    deadline = time.monotonic() + POLL_LIMIT_S
    while len(set(processed)) < until_n:
        if time.monotonic() > deadline:
            tap.ok(False, f"{group}: commit polling reached {until_n} entries within "
                   f"{POLL_LIMIT_S} s (got {len(set(processed))})")
            return
        reply = c.xread({key: pos}, count=5, block=200)
        if not reply:
            continue
        entries = reply[0][1]
        for eid, _f in entries:
            processed.append(eid)
            n += 1
        if die_after and n >= die_after:
            return   # processed but not committed
        tap_ok = c.execute_command("XCOMMIT", key, group, entries[-1][0])
        assert tap_ok in ("OK", True, b"OK"), tap_ok
        pos = entries[-1][0]


def commit_polling(srv, mode):
    """mode: 'connection' (a new connection), 'clean' or 'kill' (the server restarted)."""
    c = connect(srv)
    key = f"cpoll-{mode}"
    c.xgroup_create(key, "billing", id="0", mkstream=True)
    total = 120
    added = []
    port_holder = {"srv": srv}
    stop = threading.Event()

    def writer():
        w = None
        i = 0
        while i < total and not stop.is_set():
            try:
                if w is None:
                    w = connect(port_holder["srv"])
                added.append(w.xadd(key, {"n": i}, id=f"{i + 1}-0"))
                i += 1
            except redis.ResponseError as e:
                # the XADD sent before a restart was applied but its reply was lost
                if "equal or smaller" not in str(e):
                    raise
                added.append(f"{i + 1}-0")
                i += 1
            except (redis.ConnectionError, redis.TimeoutError, TypeError):
                # TypeError: the server is between stop and start (no port yet); slow builds
                # (ASan) make that window long enough to hit
                w = None
                time.sleep(0.05)
            time.sleep(0.002)

    th = threading.Thread(target=writer)
    th.start()
    processed = []
    try:
        commit_poll(c, key, "billing", processed, total, die_after=33)
        committed_before = c.execute_command("XCOMMITTED", key, "billing")
        first_run = len(processed)
        c.close()
        if mode != "connection":
            restart(srv, mode == "kill")
        c = connect(srv)
        tap.eq(c.execute_command("XCOMMITTED", key, "billing"), committed_before,
               f"commit polling ({mode}): the committed ID survives")
        commit_poll(c, key, "billing", processed, total)
    finally:
        th.join(timeout=30)
        stop.set()
    tap.eq(len(added), total, f"commit polling ({mode}): the writer added {total} entries")
    uniq = list(dict.fromkeys(processed))
    tap.eq(sorted(uniq, key=sid), sorted(added, key=sid),
           f"commit polling ({mode}): every entry processed")
    tap.eq(uniq, sorted(uniq, key=sid),
           f"commit polling ({mode}): in order")
    dups = [x for x in uniq if processed.count(x) > 1]
    # only what came after the last commit before the consumer died is read again
    after_commit = [x for x in processed[:first_run] if sid(x) > sid(committed_before or "0-0")]
    tap.eq(dups, after_commit, f"commit polling ({mode}): re-processed only the entries after the "
           "last commit")
    lag = c.execute_command("XLAG", key, "billing")[0]
    info = dict(zip(lag[0::2], lag[1::2]))
    tap.eq((info["lag"], info["committed"]), (0, max(added, key=sid)),
           f"commit polling ({mode}): XLAG lag 0 at the end")
    c.close()


def example_program(srv):
    c = connect(srv)
    ids = [c.xadd("events", {"order": i, "amount": i * 10}) for i in range(30)]
    cmd = ["/usr/bin/python3", os.path.join(HERE, "example_commit_polling.py"),
           "--port", str(srv.port), "--count", "5", "--block-ms", "200"]
    p1 = subprocess.run(cmd + ["--max", "12"], capture_output=True, text=True, timeout=30)
    tap.eq(p1.returncode, 0, "example_commit_polling.py --max 12 exits 0")
    got1 = [l.split()[1] for l in p1.stdout.splitlines() if l.startswith("processed ")]
    tap.eq(got1, ids[:12], "the example processed the first 12 entries in order")
    tap.ok("processed %s order=0 amount=0" % ids[0] in p1.stdout, "the example prints the fields",
           p1.stdout + p1.stderr)
    tap.eq(c.execute_command("XCOMMITTED", "events", "billing"), ids[11],
           "the example committed the last ID it processed")
    p2 = subprocess.run(cmd + ["--idle-exit", "0.5"], capture_output=True, text=True, timeout=30)
    tap.eq(p2.returncode, 0, "example_commit_polling.py, second run, exits 0")
    tap.ok(p2.stdout.startswith(f"starting after {ids[11]}"), "the second run starts at the commit",
           p2.stdout)
    got2 = [l.split()[1] for l in p2.stdout.splitlines() if l.startswith("processed ")]
    tap.eq(got2, ids[12:], "the second run processed the rest, no duplicates")
    tap.ok(p2.stdout.rstrip().endswith(f"committed {ids[-1]}, lag 0"), "the example reports lag 0",
           p2.stdout)
    c.close()


with servers.Redis() as rs, servers.Obelisk() as ob:
    clients = [connect(rs), connect(ob)]
    api_checks()
    r_seen = group_polling_with_consumer_restart(rs, "redis-server")
    o_seen = group_polling_with_consumer_restart(ob, "obelisk")
    tap.eq(len(o_seen), len(r_seen), "group polling: as many deliveries as with redis-server")
    for cl in clients:
        cl.close()
    group_polling_with_server_restart(ob, hard=False)
    group_polling_with_server_restart(ob, hard=True)
    commit_polling(ob, "connection")
    commit_polling(ob, "clean")
    commit_polling(ob, "kill")
    example_program(ob)
    tap.eq(ob.stop(), 0, "obelisk-server exits 0 on SIGTERM")
tap.done()
