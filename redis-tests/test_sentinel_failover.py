#!/usr/bin/python3
"""Automatic failover with the real redis-sentinel: a primary, two replicas and three sentinels
on loopback, fsync always and min-replicas-to-write 1. A writer (XADD) and a consumer group
(XREADGROUP, XACK, XCOMMIT) run through redis-py's Sentinel client the whole time, while the
primary is killed with kill -9 (twice) and frozen with SIGSTOP (once), and an ioredis client
with `sentinels: [...]` writes too: Sentinel promotes a replica, the clients find it through
Sentinel and go on (and so does redis-cli's SENTINEL get-master-addr-by-name), and the old
primary comes back as a replica. Then: every acknowledged XADD is on the final primary with its ID, no entry appears
twice, IDs increase, every acknowledged XACK left the pending list, the committed offset is at
least the last acknowledged XCOMMIT, and the three nodes hold the same stream."""
import json
import os
import subprocess
import sys
import threading
import time

import redis
from redis.sentinel import Sentinel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402
from lib.topology import Topology  # noqa: E402

tap = Tap()
NODE = ["fsync always", "min-replicas-to-write 1", "min-replicas-max-lag 3",
        "repl-ping-replica-period 1", "repl-timeout 5"]


def sid(s):
    ms, seq = s.split("-")
    return int(ms), int(seq)


class Load:
    """The writer and the consumer, each in its own thread, recording what was acknowledged."""

    def __init__(self, sentinel):
        self.sentinel = sentinel
        self.stop = threading.Event()
        self.acked = {}        # n -> ID of every XADD whose reply came
        self.unknown = set()   # n of XADDs whose outcome is unknown (no reply, or NOREPLICAS)
        self.refused = 0       # READONLY: not written
        self.acks = set()      # IDs whose XACK replied 1
        self.commit = None     # the last acknowledged XCOMMIT
        self.errors = []

    def client(self):
        return self.sentinel.master_for("mymaster", socket_timeout=2, socket_connect_timeout=1,
                                        decode_responses=True)

    def writer(self):
        m, n = self.client(), 0
        while not self.stop.is_set():
            n += 1
            try:
                self.acked[n] = m.xadd("orders", {"n": n})
            except redis.ReadOnlyError:
                self.refused += 1
                time.sleep(0.05)
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as e:
                self.unknown.add(n)  # NOREPLICAS from a demoted primary included
                if not isinstance(e, (redis.ConnectionError, redis.TimeoutError)) and \
                        "NOREPLICAS" not in str(e):
                    self.errors.append(str(e))
                time.sleep(0.05)

    def consumer(self):
        m = self.client()
        while not self.stop.is_set():
            try:
                got = m.xreadgroup("g", "c1", {"orders": ">"}, count=20, block=200)
                for _, entries in got or []:
                    last = None
                    for eid, _ in entries:
                        if m.xack("orders", "g", eid) == 1:
                            self.acks.add(eid)
                        last = eid
                    if last and m.execute_command("XCOMMIT", "orders", "g", last) == "OK":
                        self.commit = last
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                time.sleep(0.05)

    def start(self):
        self.threads = [threading.Thread(target=self.writer, daemon=True),
                        threading.Thread(target=self.consumer, daemon=True)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)


def primary_port(sentinel):
    return sentinel.discover_master("mymaster")[1]


def role(node):
    return redis.Redis(port=node.port, socket_timeout=2, decode_responses=True).execute_command(
        "ROLE")


def replica_of(node, port):
    r = role(node)
    return r[0] == "slave" and int(r[2]) == port and r[3] == "connected"


with Topology(nreplicas=2, nsentinels=3, node_lines=NODE) as topo:
    sentinel = Sentinel([("127.0.0.1", s.port) for s in topo.sentinels], socket_timeout=1)
    first = topo.nodes[0].port
    tap.ok(topo.wait(lambda: all(replica_of(n, first) for n in topo.nodes[1:]), 20),
           "two replicas follow the primary", topo.logs())
    tap.ok(topo.wait(lambda: len(sentinel.discover_slaves("mymaster")) == 2, 20),
           "Sentinel discovers both replicas through INFO", topo.logs())
    tap.ok(topo.wait(lambda: len(redis.Redis(port=topo.sentinels[0].port).execute_command(
        "SENTINEL", "SENTINELS", "mymaster")) == 2, 20),
           "the sentinels find each other through pub/sub on __sentinel__:hello", topo.logs())
    redis.Redis(port=first).xgroup_create("orders", "g", id="$", mkstream=True)
    load = Load(sentinel)
    load.start()
    node = subprocess.Popen(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "lib", "sentinel_writer.mjs")] +
                            [str(s.port) for s in topo.sentinels], stdout=subprocess.PIPE,
                            text=True)
    node.stop = lambda: node.kill() if node.poll() is None else None
    servers._live.append(node)  # killed by its pid if the test dies
    time.sleep(2)

    rounds = [("kill -9", "kill"), ("kill -9", "kill"), ("SIGSTOP", "freeze")]
    for i, (what, how) in enumerate(rounds):
        old = topo.node_on(primary_port(sentinel))
        before = len(load.acked)
        if how == "kill":
            old.kill9()
        else:
            old.freeze()
        moved = topo.wait(lambda: primary_port(sentinel) != old.port, 30)
        new = primary_port(sentinel)
        tap.ok(moved, f"round {i + 1} ({what}): Sentinel promotes a replica", topo.logs())
        # another Sentinel learns of the failover from the hello messages (every 2 s): ask it
        # until it knows, as a client that finds a stale answer asks again
        def ask_cli():
            return subprocess.run(["redis-cli", "-p", str(topo.sentinels[1].port), "SENTINEL",
                                   "get-master-addr-by-name", "mymaster"], capture_output=True,
                                  text=True, timeout=10).stdout.split()
        topo.wait(lambda: ask_cli() == ["127.0.0.1", str(new)], 15)
        cli = ask_cli()
        tap.eq(cli, ["127.0.0.1", str(new)],
               f"round {i + 1}: redis-cli SENTINEL get-master-addr-by-name names it")
        if how == "kill":
            old.start()
        else:
            time.sleep(1)
            old.thaw()
        # (of whichever node is primary by then: on a loaded machine Sentinel may fail over
        # once more before the round settles)
        if not tap.ok(topo.wait(lambda: replica_of(old, primary_port(sentinel)), 40),
                      f"round {i + 1}: the old primary rejoins as a replica of the new one",
                      topo.logs()) and os.environ.get("OBELISK_DEBUG_STACKS"):
            tap.diag(subprocess.run(["gdb", "-p", str(old.proc.pid), "-batch", "-ex",
                                     "thread apply all bt"], capture_output=True,
                                    text=True).stdout[-6000:])
        tap.ok(topo.wait(lambda: len(load.acked) > before + 20, 30),
               f"round {i + 1}: the clients write through Sentinel to the new primary",
               f"acked {len(load.acked)} before {before}\n{topo.logs()}")
        time.sleep(9)  # Sentinel starts no second failover of a master within 2 x its timeout

    load.finish()
    node.terminate()
    js = json.loads(node.communicate(timeout=30)[0] or "{}")
    final = redis.Redis(port=primary_port(sentinel), decode_responses=True)
    tap.ok(final.wait(2, 10000) == 2, "both replicas acknowledge everything at the end")
    entries = final.xrange("orders")
    ids = [e[0] for e in entries]
    ns = [int(e[1]["n"]) for e in entries]
    tap.ok(all(sid(a) < sid(b) for a, b in zip(ids, ids[1:])), "IDs strictly increase")
    tap.eq(len(set(ns)), len(ns), "no entry appears twice")
    present = dict(zip(ns, ids))
    lost = [n for n, i in load.acked.items() if present.get(n) != i]
    tap.ok(not lost, f"every acknowledged XADD is on the new primary ({len(load.acked)} of them)",
           f"lost: {lost[:20]}")
    strays = [n for n in ns if n not in load.acked and n not in load.unknown]
    tap.ok(not strays, "nothing refused appears", strays[:20])
    pending = {p["message_id"] for p in final.xpending_range("orders", "g", "-", "+", 100000)}
    tap.ok(not (load.acks & pending),
           f"every acknowledged XACK holds ({len(load.acks)} of them)",
           sorted(load.acks & pending)[:20])
    committed = final.execute_command("XCOMMITTED", "orders", "g")
    tap.ok(load.commit is not None and committed is not None and
           sid(committed) >= sid(load.commit),
           "the committed offset is at least the last acknowledged XCOMMIT",
           f"{committed} < {load.commit}")
    tap.eq(load.errors, [], "no unexpected error replies")
    js_present = {int(e[1]["n"]): e[0] for e in final.xrange("orders-js")}
    js_lost = [n for n, i in js.get("acked", []) if js_present.get(n) != i]
    tap.ok(len(js.get("acked", [])) > 100 and not js_lost,
           f"ioredis through Sentinel: every acknowledged XADD is there "
           f"({len(js.get('acked', []))} of them)", f"lost {js_lost[:20]}")
    tap.eq(js.get("errors"), [], "ioredis saw no unexpected errors")
    for n in topo.nodes:
        r = redis.Redis(port=n.port, decode_responses=True)
        tap.eq([e[0] for e in r.xrange("orders")], ids, f"{n.name} holds the same stream")
    tap.diag(f"acknowledged {len(load.acked)}, unknown {len(load.unknown)}, refused "
             f"{load.refused}, acks {len(load.acks)}")
tap.done()
