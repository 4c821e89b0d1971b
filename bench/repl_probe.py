#!/usr/bin/python3
"""bench/repl_probe.py PRIMARY_PORT REPLICA_PORT SECONDS - replication delay for
bench/replication.sh: every 20 ms one entry carrying the sender's clock goes to stream "probe" on
the primary; a reader blocked with XREAD on the replica notes when each arrives. Prints one
Markdown table row set: entries seen, p50 / p99 / max delay in ms. Both run in this process
(one clock)."""
import sys
import threading
import time

import redis

pport, rport, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
delays, sent = [], [0]
stop = threading.Event()


def reader():
    r = redis.Redis(port=rport, decode_responses=True)
    last = "$"
    while not stop.is_set():
        got = r.xread({"probe": last}, block=200)
        now = time.monotonic()
        for _, entries in got or []:
            for eid, fields in entries:
                delays.append((now - float(fields["t"])) * 1000)
                last = eid


t = threading.Thread(target=reader, daemon=True)
t.start()
time.sleep(0.2)
w = redis.Redis(port=pport)
end = time.monotonic() + secs
while time.monotonic() < end:
    w.xadd("probe", {"t": repr(time.monotonic())})
    sent[0] += 1
    time.sleep(0.02)
time.sleep(1)
stop.set()
t.join(timeout=2)
d = sorted(delays)
pick = lambda q: d[min(len(d) - 1, int(len(d) * q))] if d else float("nan")  # noqa: E731
print("| probe entries sent / seen on the replica | delay p50 (ms) | p99 (ms) | max (ms) |")
print("|---:|---:|---:|---:|")
print(f"| {sent[0]} / {len(d)} | {pick(0.5):.2f} | {pick(0.99):.2f} | {d[-1] if d else 0:.2f} |")
