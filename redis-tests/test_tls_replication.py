#!/usr/bin/python3
"""Replication over TLS (tls-replication yes): an Obelisk primary and replica that talk to each
other only through their TLS ports, with mutual TLS. The full sync (the snapshot's files read in
chunks into the TLS connection, several MB of them), the stream after it, and a dropped link that
continues (+CONTINUE) instead of syncing again; the data compared on both. A replica that trusts
another CA refuses the primary's certificate: its link stays down and its log says why. A replica
presenting tls-client-cert-file syncs; one whose client certificate another CA signed is refused
by the primary, and both logs say so."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from lib import servers  # noqa: E402
from lib.certs import Certs  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
certs = Certs().ca("ca").ca("otherca")
certs.cert("server", "ca", "localhost")
certs.cert("client", "ca", "replica", server=False)
certs.cert("stranger", "otherca", "replica", server=False)


def info(r):
    return r.info("replication")


def wait_for(cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def dump(r, keys):
    return {k: r.xrange(k) for k in keys}


KEYS = [f"s{i}" for i in range(3)]
p_tls = servers.free_port()
r_tls = servers.free_port()
with servers.Obelisk(certs.server_args(p_tls) + ["--repl-ping-replica-period", "1"]) as po:
    prim = redis.Redis(port=po.port)
    pipe = prim.pipeline(transaction=False)
    for i in range(2500):
        for k in KEYS:
            pipe.xadd(k, {"n": i, "payload": "p" * 500})
    pipe.execute()
    rargs = certs.server_args(r_tls) + ["--tls-replication", "yes", "--replicaof", "127.0.0.1",
                                        str(p_tls)]
    with servers.Obelisk(rargs) as ro:
        rep = redis.Redis(port=ro.port)
        tap.ok(wait_for(lambda: info(rep).get("master_link_status") == "up"),
               "the replica's TLS link comes up", ro.log())
        tap.ok("Starting a full sync" in po.log(), "the primary sent a full sync over TLS")
        tap.ok(wait_for(lambda: rep.xlen("s2") == 2500), "the replica has every entry after "
               "the full sync (about 4 MB of files)")
        tap.eq(dump(rep, KEYS), dump(prim, KEYS), "the full sync: the same entries on both")
        replicas = [c for c in prim.client_list() if "S" in c["flags"]]
        tap.ok(len(replicas) == 1 and replicas[0]["laddr"].endswith(f":{p_tls}"),
               "the replica's connection is on the primary's TLS port", replicas)
        tap.eq(info(prim)["slave0"]["port"], r_tls, "the replica announces its TLS port")
        # the stream
        for i in range(200):
            prim.xadd("s0", {"n": f"live{i}"})
        prim.xadd("fresh", {"a": "b"})
        tap.ok(wait_for(lambda: rep.xlen("s0") == 2700 and rep.exists("fresh")),
               "entries written after the sync are streamed over TLS")
        tap.eq(dump(rep, KEYS + ["fresh"]), dump(prim, KEYS + ["fresh"]),
               "streaming: the same entries on both")
        tap.eq(prim.execute_command("WAIT", 1, 5000), 1, "WAIT 1: the replica acknowledges over TLS")
        # a dropped link continues
        killed = prim.execute_command("CLIENT", "KILL", "TYPE", "replica")
        tap.eq(killed, 1, "CLIENT KILL TYPE replica on the primary drops the link")
        prim.xadd("s1", {"after": "kill"})
        tap.ok(wait_for(lambda: ro.log().count("Successful partial resynchronization") >= 1 and
                        info(rep).get("master_link_status") == "up"),
               "the replica reconnects with +CONTINUE", ro.log())
        tap.ok("Partial resynchronization request" in po.log() and
               po.log().count("Starting a full sync") == 1, "no second full sync")
        tap.ok(wait_for(lambda: rep.xlen("s1") == 2501), "the entry written while the link was "
               "down arrives")
        tap.eq(dump(rep, KEYS + ["fresh"]), dump(prim, KEYS + ["fresh"]),
               "after the reconnection: the same entries on both")
    # a replica that trusts another CA
    bad = certs.server_args(servers.free_port(), ca="otherca") + [
        "--tls-replication", "yes", "--replicaof", "127.0.0.1", str(p_tls)]
    with servers.Obelisk(bad) as bo:
        b = redis.Redis(port=bo.port)
        tap.ok(wait_for(lambda: "certificate verify failed" in bo.log(), 15),
               "a replica with the wrong CA logs why its link fails", bo.log())
        time.sleep(1)
        tap.eq(info(b).get("master_link_status"), "down", "its link stays down")
        tap.eq(b.xlen("s0"), 0, "and it has no data")
        tap.eq(prim.ping(), True, "the primary goes on")
    # tls-client-cert-file: the certificate the replica presents instead of its server one
    for name, good in (("client", True), ("stranger", False)):
        args = certs.server_args(servers.free_port()) + [
            "--tls-replication", "yes", "--tls-client-cert-file", certs.p(f"{name}.crt"),
            "--tls-client-key-file", certs.p(f"{name}.key"), "--replicaof", "127.0.0.1",
            str(p_tls)]
        with servers.Obelisk(args) as co:
            c = redis.Redis(port=co.port)
            if good:
                tap.ok(wait_for(lambda: info(c).get("master_link_status") == "up" and
                                c.xlen("s0") == 2700),
                       "a replica presenting tls-client-cert-file syncs", co.log())
            else:
                tap.ok(wait_for(lambda: "TLS error" in co.log(), 15),
                       "a client certificate the primary's CA did not sign: the replica logs the "
                       "TLS error", co.log()[-800:])
                tap.eq(info(c).get("master_link_status"), "down", "and its link stays down")
                tap.ok(wait_for(lambda: "Error accepting a client connection" in po.log(), 5),
                       "the primary logs the refused handshake", po.log()[-800:])
    # tls-replication on a server without certificates is refused with the reason
    try:
        with servers.Obelisk(["--tls-replication", "yes"]) as no:
            tap.ok(False, "tls-replication without certificates is refused")
    except RuntimeError as e:
        tap.ok("tls-cert-file" in str(e), "tls-replication without certificates is refused at start",
               str(e))
tap.done()
