#!/usr/bin/python3
"""redis-cli against obelisk-server, each output compared with the same against redis-server:
one-shot commands, piped input, RESP3 (-3) formatting, and an interactive session on a pty
(prompt, replies, and the argument hints redis-cli 7 builds from COMMAND DOCS)."""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import pty_cli, servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()


def cli(port, *args, stdin=None):
    p = subprocess.run(["redis-cli", "-p", str(port)] + list(args), input=stdin,
                       capture_output=True, timeout=20)
    return p.returncode, p.stdout, p.stderr


ONESHOT = [
    ["PING"], ["ping", "hello"], ["ECHO", "hello world"], ["ECHO", ""], ["PING", "a", "b"],
    ["FOO", "bar"], ["CLIENT", "GETNAME"], ["CONFIG", "GET", "maxclients"],
["SELECT", "16"], ["DBSIZE"], ["HELLO", "4"],
    ["CLIENT", "NOSUCH"], ["MULTI"], ["FUNCTION", "FLUSH"], ["DEBUG", "SLEEP", "0"],
]
PIPED = b"""PING
ECHO "hello world"
CLIENT SETNAME piped
CLIENT GETNAME
CONFIG GET maxclients
FOO bar
SELECT 3
DBSIZE
SELECT 99
MULTI
PING
ECHO queued
EXEC
MULTI
NOSUCH
EXEC
CLIENT GETNAME
"""

with servers.Redis() as r, servers.Obelisk() as o, tempfile.TemporaryDirectory() as home:
    # One-shot, plain (non-tty: raw output) and --no-raw (the formatted output a tty gets).
    for mode in ([], ["--no-raw"]):
        for args in ONESHOT:
            want, got = cli(r.port, *mode, *args), cli(o.port, *mode, *args)
            tap.eq(got, want, f"one-shot {' '.join(mode + args)!r} same as redis-server")
    rc, out, _ = cli(o.port, "INFO", "server")
    tap.ok(rc == 0 and re.search(rb"^redis_version:7\.0\.\d+\r?$", out, re.M),
           "one-shot INFO server has redis_version:7.0.x", out[:300])
    tap.ok(re.search(rb"^tcp_port:%d\r?$" % o.port, out, re.M), "INFO server has the real tcp_port")

    # RESP3 output formatting (-3), raw and formatted.
    for mode in (["-3"], ["-3", "--no-raw"]):
        for args in (["PING"], ["ECHO", "x y"], ["CLIENT", "GETNAME"], ["CONFIG", "GET", "maxclients"],
                     ["FOO"], ["HELLO", "4"],
                     ["CONFIG", "GET", "nosuch"], ["SELECT", "1"]):
            want, got = cli(r.port, *mode, *args), cli(o.port, *mode, *args)
            tap.eq(got, want, f"{' '.join(mode + args)!r} same as redis-server")

    # Piped input, in both protocols and both output styles.
    for mode in ([], ["--no-raw"], ["-3"], ["-3", "--no-raw"]):
        want, got = cli(r.port, *mode, stdin=PIPED), cli(o.port, *mode, stdin=PIPED)
        tap.ok(got[0] == 0 and b"hello world" in got[1], f"piped {mode} runs", got)
        tap.eq(got, want, f"piped {mode} output same as redis-server")

    # Interactive, on a pty. redis-cli 7 calls COMMAND DOCS at start for its hints and help.
    keys = [b"PING\r", b"ECHO hello\r", b"PING", b"\x15", b"ECHO ", b"\x15", b"help ECHO\r",
            b"FOO bar\r"]
    sess = {}
    for s in (r, o):
        out, status = pty_cli.session(s.port, keys, home=home)
        sess[s.kind] = out.replace(str(s.port).encode(), b"PORT")
        tap.eq(status, 0, f"interactive redis-cli on {s.kind} exits 0 on Ctrl-D")
    ob, rd = sess["obelisk"], sess["redis"]
    start = ob.split(b"127.0.0.1:PORT>", 1)[0]
    tap.ok(b"127.0.0.1:PORT>" in ob, "interactive: prompt shown", ob[:300])
    tap.ok(not re.search(rb"(?i)err|error|docs", start), "interactive: no error before the first prompt",
           start)
    tap.ok(b"\r\nPONG\r\n" in ob, "interactive: PING answered PONG", ob[-500:])
    tap.ok(b'\r\n"hello"\r\n' in ob, "interactive: ECHO hello answered \"hello\"", ob[-500:])
    tap.ok(b"(error) ERR unknown command 'FOO', with args beginning with: 'bar' " in ob,
           "interactive: unknown command shown as (error)")
    hint = re.compile(rb"PORT> (PING|ECHO ?)\x1b\[0;90;49m([^\x1b]*)\x1b\[0m")
    tap.eq(hint.findall(ob), hint.findall(rd),
           "interactive: argument hints (from COMMAND DOCS arguments) same as with redis-server")
    usage = re.compile(rb"\x1b\[1mECHO\x1b\[0m ([^\r]*)\r")
    tap.eq(usage.findall(ob), usage.findall(rd), "interactive: 'help ECHO' usage line same as redis-server")
    # The one-line summary `help` prints is documentation in each server's own words (Obelisk
    # does not copy Redis's docs); everything else the session draws must be identical.
    summary = re.compile(rb"(summary:\x1b\[0m )[^\r]*")
    tap.eq(summary.sub(rb"\1<summary>", ob), summary.sub(rb"\1<summary>", rd),
           "interactive: whole session draws the same bytes as with redis-server (summary text aside)")
tap.done()
