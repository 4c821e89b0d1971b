#!/usr/bin/python3
"""redis-benchmark -t ping (PING_INLINE and PING_MBULK) against obelisk-server, plain and with
-P 16 pipelining: every request must complete with a throughput line and no error or warning.
No timing assertions (performance is never a test); redis-server runs the same for reference."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()


def bench(port, *extra):
    p = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "ping", "-n", "20000", "-q"] +
                       list(extra), capture_output=True, timeout=60)
    # -q redraws progress with \r; the final result of each test is the last \r-separated part.
    lines = [l.split("\r")[-1].strip() for l in p.stdout.decode(errors="replace").split("\n")]
    return p.returncode, [l for l in lines if l], p.stderr.decode(errors="replace")


with servers.Redis() as r, servers.Obelisk() as o:
    for extra in ([], ["-P", "16"]):
        name = " ".join(["-t ping -n 20000 -q"] + extra)
        rc, lines, err = bench(o.port, *extra)
        rrc, rlines, _ = bench(r.port, *extra)
        tap.eq(rrc, 0, f"reference: redis-benchmark {name} against redis-server exits 0")
        tap.eq(rc, 0, f"redis-benchmark {name} exits 0")
        diag = "\n".join(lines) + "\n" + err
        for test in ("PING_INLINE", "PING_MBULK"):
            tap.ok(any(re.match(rf"^{test}: [0-9.]+ requests per second", l) for l in lines),
                   f"{name}: {test} reports requests per second", diag)
        tap.ok(not re.search(r"(?i)error|warning|could not", diag), f"{name}: no error or warning",
               diag)
        tap.eq(len(lines), len(rlines), f"{name}: as many result lines as against redis-server")
tap.done()
