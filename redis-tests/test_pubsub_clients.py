#!/usr/bin/python3
"""Pub/sub through redis-py (Debian's 4.3): a PubSub object subscribes to channels and patterns
on obelisk-server, another client publishes, and the messages, subscription counts and
PUBSUB introspection must equal what the same calls give against redis-server."""
import os
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
tap.diag(f"redis-py {redis.__version__}")


def drain(ps, want, timeout=3.0):
    """Messages until `want` arrived (or the timeout), without the volatile fields."""
    got, end = [], time.time() + timeout
    while len(got) < want and time.time() < end:
        m = ps.get_message(timeout=0.1)
        if m:
            got.append((m["type"], m["pattern"], m["channel"], m["data"]))
    return got


def scenario(port):
    out = []
    pub = redis.Redis(port=port)
    ps = redis.Redis(port=port).pubsub()
    ps.subscribe("news", "sport")
    ps.psubscribe("weather.*")
    out.append(drain(ps, 3))
    out.append(pub.publish("news", "hello"))
    out.append(pub.publish("weather.paris", "rain"))
    out.append(pub.publish("nobody", "x"))
    out.append(drain(ps, 2))
    out.append(sorted(pub.pubsub_channels()))
    out.append(pub.pubsub_numsub("news", "sport", "none"))
    out.append(pub.pubsub_numpat())
    ps.unsubscribe("news")
    ps.punsubscribe()
    out.append(drain(ps, 2))
    out.append(pub.publish("news", "gone"))
    out.append(pub.publish("sport", "goal"))
    out.append(drain(ps, 1))
    # a callback-driven subscriber in a thread, as applications use it
    seen = []
    ps2 = redis.Redis(port=port).pubsub()
    ps2.subscribe(**{"alerts": lambda m: seen.append(m["data"])})
    th = ps2.run_in_thread(sleep_time=0.01, daemon=True)
    time.sleep(0.2)
    for i in range(5):
        pub.publish("alerts", f"a{i}")
    end = time.time() + 3
    while len(seen) < 5 and time.time() < end:
        time.sleep(0.02)
    th.stop()
    th.join(timeout=3)
    out.append(seen)
    ps.close()

    return out


with servers.Redis() as r, servers.Obelisk() as o:
    want = scenario(r.port)
    got = scenario(o.port)
    names = ["subscribe confirmations", "publish to a channel", "publish to a pattern",
             "publish to nobody", "messages received", "PUBSUB CHANNELS", "PUBSUB NUMSUB",
             "PUBSUB NUMPAT", "unsubscribe confirmations", "publish after unsubscribe",
             "publish to the remaining channel", "only the remaining channel delivers",
             "callback subscriber in a thread"]
    for name, g, w in zip(names, got, want):
        tap.eq(g, w, name + " (same as redis-server)")
    tap.ok(got[4] and got[4][0][3] == b"hello", "the message body arrives", repr(got[4]))
tap.done()
