#!/usr/bin/python3
"""redis-py (Debian's 4.3, /usr/bin/python3) against obelisk-server, results compared with the
same calls against redis-server where they are comparable: ping, echo, HELLO, client
setname/getname/list/info/id, config get/set, info parsing, pipelines (transaction and not),
select, errors, and AUTH with a password."""
import os
import sys

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
tap.diag(f"redis-py {redis.__version__}")
VOLATILE = {"id", "addr", "laddr", "fd", "age", "idle", "qbuf", "qbuf-free", "argv-mem",
            "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "lib-name", "lib-ver"}


def stable_client(d):
    # redis-py keeps the text's final "\n" on the last field's value: strip it.
    return {k: v.strip() if isinstance(v, str) else v for k, v in d.items() if k not in VOLATILE}


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


def hello_map(reply):
    d = dict(zip(reply[0::2], reply[1::2]))
    d.pop(b"id", None)
    return d


with servers.Redis() as rs, servers.Obelisk() as os_:
    clients = [redis.Redis(port=s.port, socket_timeout=5) for s in (rs, os_)]
    o = clients[1]
    both(lambda c: c.ping(), "ping")
    both(lambda c: c.echo("hello"), "echo")
    both(lambda c: c.echo(b"\x00\xff"), "echo binary")
    both(lambda c: hello_map(c.execute_command("HELLO", "2")), "HELLO 2 (id left out)")
    both(lambda c: c.execute_command("HELLO", "4"), "HELLO 4 error")
    both(lambda c: c.execute_command("FOO", "a"), "unknown command raises the same ResponseError")
    tap.ok(isinstance(o.client_id(), int), "client_id is an int")
    both(lambda c: c.client_getname(), "client_getname before a name")
    both(lambda c: c.client_setname("py-client"), "client_setname")
    both(lambda c: c.client_getname(), "client_getname")
    both(lambda c: c.client_setname("bad name"), "client_setname with a space")
    both(lambda c: stable_client(c.client_info()), "client_info (volatile fields left out)")
    both(lambda c: [stable_client(x) for x in c.client_list(client_id=[c.client_id()])],
         "client_list(client_id=...)")
    lst = o.client_list()
    tap.ok(any(x.get("name") == "py-client" for x in lst), "client_list holds our named client", lst)
    both(lambda c: c.config_get("maxclients"), "config_get maxclients")
    both(lambda c: c.config_get("nosuch*"), "config_get of nothing")
    both(lambda c: c.config_set("timeout", 7), "config_set timeout")
    both(lambda c: c.config_get("timeout"), "config_get timeout after set")
    both(lambda c: c.config_set("timeout", "abc"), "config_set with a bad value")
    both(lambda c: c.config_set("timeout", 0), "config_set timeout back")
    both(lambda c: c.config_resetstat(), "config_resetstat")
    info = o.info()
    tap.ok(info.get("redis_version", "").startswith("7.0"), "info() parses, redis_version 7.0",
           info.get("redis_version"))
    tap.eq(info.get("tcp_port"), os_.port, "info() tcp_port is an int and the real port")
    for sec in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                "keyspace", "all", "everything"):
        both(lambda c: type(c.info(sec)).__name__, f"info({sec!r}) parses")
    tap.eq(o.info("persistence").get("loading"), 0, "info persistence loading is 0")
    tap.eq(o.info("replication").get("role"), "master", "info replication role is master")
    tap.ok("total_error_replies" in o.info("stats"), "info stats has total_error_replies")
    both(lambda c: sorted(k for k in c.info("server") if k in (
        "redis_version", "process_id", "tcp_port", "run_id", "uptime_in_seconds")),
         "info server key fields present")
    both(lambda c: type(c.time()).__name__ + str(len(c.time())), "time() is a 2-tuple")
    both(lambda c: c.dbsize(), "dbsize")
    both(lambda c: c.flushdb(), "flushdb")
    both(lambda c: c.flushall(), "flushall")
    both(lambda c: c.flushdb(asynchronous=True), "flushdb async")
    both(lambda c: c.execute_command("FUNCTION", "FLUSH"), "function flush")
    both(lambda c: c.select(3) if hasattr(c, "select") else c.execute_command("SELECT", 3),
         "select 3")
    both(lambda c: c.execute_command("SELECT", 16), "select 16 error")

    def pipe(c, tx):
        p = c.pipeline(transaction=tx)
        p.ping().echo("a").client_getname().config_get("maxclients").dbsize()
        return p.execute()
    both(lambda c: pipe(c, True), "pipeline(transaction=True)")
    both(lambda c: pipe(c, False), "pipeline(transaction=False)")

    def bad_pipe(c, tx):
        p = c.pipeline(transaction=tx)
        p.ping().execute_command("FOO")
        return p.execute(raise_on_error=False)
    both(lambda c: [repr(x) for x in bad_pipe(c, False)], "pipeline without MULTI, with an error")
    both(lambda c: [repr(x) for x in bad_pipe(c, True)], "transaction with an unknown command (EXECABORT)")

    dbs = [redis.Redis(port=s.port, db=5, socket_timeout=5) for s in (rs, os_)]
    res = [d.client_info().get("db") for d in dbs]
    tap.eq(res, [5, 5], "Redis(db=5) selects db 5 on both")
    for c in clients + dbs:
        c.close()

with servers.Redis(["--requirepass", "pw"]) as rs, servers.Obelisk(["--requirepass", "pw"]) as os_:
    clients = [redis.Redis(port=s.port, password="pw", socket_timeout=5) for s in (rs, os_)]
    both(lambda c: c.ping(), "with password: ping after AUTH")
    both(lambda c: c.client_getname(), "with password: client_getname")
    clients = [redis.Redis(port=s.port, password="wrong", socket_timeout=5) for s in (rs, os_)]
    both(lambda c: c.ping(), "wrong password raises the same error")
    clients = [redis.Redis(port=s.port, socket_timeout=5) for s in (rs, os_)]
    both(lambda c: c.ping(), "no password raises the same error")
    both(lambda c: (c.execute_command("AUTH", "pw"), c.ping()), "AUTH then ping")
    clients = [redis.Redis(port=s.port, username="default", password="pw", socket_timeout=5)
               for s in (rs, os_)]
    both(lambda c: c.ping(), "username default + password")
    both(lambda c: hello_map(c.execute_command("HELLO", "2", "AUTH", "default", "pw")),
         "HELLO 2 AUTH default pw")
tap.done()
