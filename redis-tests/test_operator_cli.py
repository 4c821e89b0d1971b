#!/usr/bin/python3
"""The operator's redis-cli modes against obelisk-server, next to redis-server 7.0: MONITOR and
SLOWLOG GET print the same (times, ids and client ports masked), --memkeys finds the streams
with MEMORY USAGE, and --stat and --latency-history (on a pty, as an operator runs them) draw
their lines without an error."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import pty_cli, servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()


def cli(port, *args):
    p = subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


def mask(out, port):
    out = re.sub(rb"\d{10}\.\d{6} \[(\d+) 127\.0\.0\.1:\d+\]", rb"TIME [\1 ADDR]", out)
    return out.replace(str(port).encode(), b"PORT")


WORKLOAD = [
    ["XADD", "cli-s", "1-1", "f", "a b"],
    ["XLEN", "cli-s"],
    ["AUTH", "nosuchpass"],
    ["CONFIG", "GET", "maxclients"],
    ["XRANGE", "cli-s", "-", "+"],
    ["SELECT", "2"],
]


def monitor(port):
    """redis-cli monitor while the workload runs through other redis-cli calls."""
    p = subprocess.Popen(["redis-cli", "-p", str(port), "monitor"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    time.sleep(0.5)
    for args in WORKLOAD:
        cli(port, *args)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out = p.communicate(timeout=10)[0]
    return mask(out, port)


def slowlog(port):
    cli(port, "SLOWLOG", "RESET")
    cli(port, "CONFIG", "SET", "slowlog-log-slower-than", "0")
    for args in WORKLOAD:
        cli(port, *args)
    cli(port, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
    rc, out, err = cli(port, "SLOWLOG", "GET", "4")
    rc2, plain, _ = cli(port, "--no-raw", "SLOWLOG", "GET", "2")
    # ids, unix times, durations and client ports are each server's own
    out = re.sub(rb"(?m)^\d+$", b"N", out)
    out = re.sub(rb"127\.0\.0\.1:\d+", b"ADDR", out)
    plain = re.sub(rb"\(integer\) \d+", b"(integer) N", plain)
    plain = re.sub(rb"127\.0\.0\.1:\d+", b"ADDR", plain)
    return rc, out, err, rc2, plain


with servers.Redis() as r, servers.Obelisk() as o:
    want, got = monitor(r.port), monitor(o.port)
    tap.ok(got.startswith(b"OK\n") and b'"XADD" "cli-s" "1-1" "f" "a b"' in got,
           "redis-cli monitor shows the commands", got)
    tap.ok(b'"AUTH" "(redacted)"' in got and b"nosuchpass" not in got,
           "redis-cli monitor never shows AUTH's arguments", got)
    tap.ok(b"CONFIG" not in got, "redis-cli monitor does not show admin commands", got)
    tap.eq(got, want, "redis-cli monitor prints the same as with redis-server (times, ports masked)")

    want, got = slowlog(r.port), slowlog(o.port)
    tap.eq(got[0], 0, "redis-cli SLOWLOG GET exits 0")
    tap.ok(b"XRANGE" in got[1] and b"(redacted)" in got[1], "SLOWLOG GET lists the commands",
           got[1])
    tap.eq(got, want, "redis-cli SLOWLOG GET (raw and --no-raw) prints the same as with "
           "redis-server (ids, times, durations, ports masked)")

    # --memkeys: MEMORY USAGE of every key found by SCAN
    for i in range(3):
        cli(o.port, "XADD", f"mem-{i}", "*", "f", "v" * (100 * (i + 1)))
    rc, out, err = cli(o.port, "--memkeys")
    tap.eq(rc, 0, "redis-cli --memkeys exits 0")
    tap.ok(re.search(rb"Biggest stream found '\"?mem-2\"?' has \d+ bytes", out),
           "--memkeys names the biggest stream", out)
    tap.ok(re.search(rb"\n4 streams with \d+ bytes", out), "--memkeys counts 4 streams", out)
    tap.ok(not re.search(rb"(?i)error", out + err), "--memkeys shows no error", out + err)

    # --stat: a header and lines of keys, memory, clients, requests, connections
    out, status = pty_cli.run_for(o.port, ["--stat", "-i", "0.5"], 2.5)
    tap.ok(re.search(rb"keys\s+mem\s+clients", out), "redis-cli --stat draws its header", out[-600:])
    tap.ok(len(re.findall(rb"\n\d+\s+\S+\s+\d+\s+\d+\s+\d+ \(\+\d+\)", out)) >= 2,
           "redis-cli --stat draws its lines", out[-600:])
    tap.ok(not re.search(rb"(?i)error", out), "redis-cli --stat shows no error", out[-600:])

    # --latency-history: "min: .., max: .., avg: .. (N samples) -- 1.00 seconds range"
    out, status = pty_cli.run_for(o.port, ["--latency-history", "-i", "1"], 2.8)
    tap.ok(re.search(rb"min: \d+, max: \d+, avg: [\d.]+ \(\d+ samples\) -- [\d.]+ seconds range",
                     out), "redis-cli --latency-history draws its ranges", out[-600:])
    tap.ok(not re.search(rb"(?i)error", out), "redis-cli --latency-history shows no error", out[-600:])
tap.done()
