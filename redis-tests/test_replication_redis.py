#!/usr/bin/python3
"""Replication as Redis answers it: a redis-server 7.0 primary/replica pair next to an Obelisk
pair, both synced. INFO replication has the same fields in the same order on each side (values
are each server's own: IDs, offsets), ROLE the same shapes, and the replication commands the
same replies and error texts, byte for byte (READONLY, WAIT on a replica, REPLICAOF's port
check and "Already connected", REPLCONF's unknown option, WAIT's timeout checks). A replica
whose primary cannot be reached reports the same fields too."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import resp, servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()


def raw(port, *args):
    """One command on a new connection: the raw bytes of its complete reply."""
    c = resp.Conn(port)
    try:
        return c.call(*args, timeout=10)
    finally:
        c.close()


def info_fields(port):
    text = raw(port, "INFO", "replication").decode()
    return [line.split(":", 1)[0] for line in text.split("\r\n")[1:] if ":" in line]


def info(port):
    text = raw(port, "INFO", "replication").decode()
    return dict(line.split(":", 1) for line in text.split("\r\n")[1:] if ":" in line)


def wait_up(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if info(port).get("master_link_status") == "up":
            return True
        time.sleep(0.05)
    return False


def role_types(port):
    r = raw(port, "ROLE")
    # the type markers at the start of each line say the shape
    return [line[:1] for line in r.split(b"\r\n") if line[:1] in (b"*", b"$", b":", b"+")]


REDIS_ARGS = ["--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1"]
with servers.Redis(REDIS_ARGS) as rp, servers.Obelisk(["--repl-ping-replica-period", "1"]) as op:
    with servers.Redis(REDIS_ARGS + ["--replicaof", "127.0.0.1", str(rp.port)]) as rr, \
            servers.Obelisk(["--replicaof", "127.0.0.1", str(op.port)]) as orr:
        tap.ok(wait_up(rr.port) and wait_up(orr.port), "both replicas come up")
        for p in (rp.port, op.port):
            raw(p, "XADD", "s", "1-1", "a", "b")
        tap.eq(raw(op.port, "WAIT", "1", "5000"), raw(rp.port, "WAIT", "1", "5000"),
               "WAIT 1 after a write: both replicas acknowledge (:1)")
        time.sleep(1.5)  # a replica ACKs once a second: lag and offsets settle
        tap.eq(info_fields(op.port), info_fields(rp.port),
               "INFO replication of a primary with a replica: the same fields in order")
        tap.eq(info_fields(orr.port), info_fields(rr.port),
               "INFO replication of a replica: the same fields in order")
        for name, o, r in (("primary", info(op.port), info(rp.port)),
                           ("replica", info(orr.port), info(rr.port))):
            same = ["role", "connected_slaves", "master_host", "master_link_status",
                    "master_sync_in_progress", "slave_priority", "slave_read_only",
                    "replica_announced", "master_failover_state", "second_repl_offset",
                    "repl_backlog_active", "repl_backlog_size"]
            tap.eq({k: o.get(k) for k in same}, {k: r.get(k) for k in same},
                   f"INFO replication of the {name}: the same values where they are not ids, "
                   "offsets or ports")
        oi, ri = info(op.port)["slave0"], info(rp.port)["slave0"]
        tap.eq([kv.split("=")[0] for kv in oi.split(",")], [kv.split("=")[0] for kv in ri.split(",")],
               "slave0: the same keys (ip, port, state, offset, lag)")
        tap.ok("state=online" in oi and "state=online" in ri, "slave0: online on both", oi + " " + ri)
        tap.eq(role_types(op.port), role_types(rp.port), "ROLE of a primary: the same shape")
        tap.eq(role_types(orr.port), role_types(rr.port), "ROLE of a replica: the same shape")
        def masked_role(port):  # the primary's port and the offset differ by design
            lines = raw(port, "ROLE").split(b"\r\n")
            return lines[:5] + lines[6:8]
        tap.eq(masked_role(orr.port), masked_role(rr.port),
               "ROLE of a replica: slave, host and state 'connected' as Redis")
        for args in (["XADD", "s", "*", "a", "b"], ["WAIT", "1", "10"],
                     ["REPLICAOF", "127.0.0.1", str(op.port)], ["XGROUP", "CREATE", "s", "g", "$"]):
            if args[0] == "REPLICAOF":
                got, want = raw(orr.port, *args), raw(rr.port, "REPLICAOF", "127.0.0.1", str(rp.port))
            else:
                got, want = raw(orr.port, *args), raw(rr.port, *args)
            tap.eq(got, want, f"replica: {' '.join(args[:2])} answers as Redis")
        for port in (op.port, rp.port):  # REPLCONF ACK from a client: no reply at all
            c = resp.Conn(port)
            c.send(resp.encode("REPLCONF", "ACK", "5") + resp.encode("PING"))
            tap.eq(c.read_reply(), b"+PONG\r\n",
                   f"REPLCONF ACK gets no reply ({'Obelisk' if port == op.port else 'Redis'})")
            c.close()
        for args in (["REPLCONF", "foo", "bar"], ["REPLICAOF", "127.0.0.1", "notaport"],
                     ["REPLICAOF", "127.0.0.1", "70000"], ["WAIT", "1", "-1"],
                     ["WAIT", "x", "10"], ["WAIT", "1"]):
            tap.eq(raw(op.port, *args), raw(rp.port, *args),
                   f"primary: {' '.join(args)} answers as Redis")
    # a replica of a primary that is not there
    nowhere = servers.free_port()
    with servers.Redis(REDIS_ARGS + ["--replicaof", "127.0.0.1", str(nowhere)]) as rr, \
            servers.Obelisk(["--replicaof", "127.0.0.1", str(nowhere)]) as orr:
        time.sleep(1.5)
        tap.eq(info_fields(orr.port), info_fields(rr.port),
               "a replica that never reached its primary: the same fields")
        keys = ["master_link_status", "master_last_io_seconds_ago", "master_link_down_since_seconds",
                "slave_repl_offset", "master_sync_in_progress"]
        tap.eq({k: info(orr.port).get(k) for k in keys}, {k: info(rr.port).get(k) for k in keys},
               "and the same values (down, -1, -1, 1, 0)")
tap.done()
