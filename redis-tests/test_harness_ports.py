#!/usr/bin/python3
"""The ports the Python and Node.js tests hand to servers (servers.free_port, harness.mjs's
freePort): outside the kernel's ephemeral range, so a client's outgoing connection never takes one
between the test choosing it and the server binding it; never the same twice in one process.
Prints TAP."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

t = Tap()
FLOOR = 20000  # FLOOR and harness.mjs's PORT_FLOOR
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    lo, hi = (int(x) for x in f.read().split())


def check(ports, who):
    t.eq(len(ports), 300, f"{who}: 300 ports")
    bad = [p for p in ports if p < FLOOR or lo <= p <= hi or p > 65535]
    t.eq(bad, [], f"{who}: every port at or above {FLOOR} and outside {lo}-{hi}")
    t.eq(len(set(ports)), len(ports), f"{who}: no port twice")


check([servers.free_port() for _ in range(300)], "servers.free_port")

# A port that is taken is skipped: hold the next one the walk would give, then ask.
nxt = getattr(servers, "_next_port", None)
nxt = FLOOR + nxt if nxt is not None and lo - 1 - FLOOR >= 1000 else None
if nxt is not None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", nxt))
        held.listen(1)
        got = servers.free_port()
        t.ok(got != nxt, "a port a listener holds is skipped", f"got {got}, held {nxt}")

node = subprocess.run(
    ["node", "--input-type=module", "-e",
     "import { freePort } from './harness.mjs';"
     "const ps = []; for (let i = 0; i < 300; i++) ps.push(await freePort());"
     "console.log(ps.join(' ')); process.exit(0);"],
    cwd=os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"),
    capture_output=True, text=True, timeout=60)
t.eq(node.returncode, 0, "harness.mjs freePort runs")
check([int(x) for x in node.stdout.split()], "harness.mjs freePort")
t.done()
