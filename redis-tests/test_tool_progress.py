#!/usr/bin/python3
"""The tools' progress on a terminal and off it: obelisk-check and obelisk-backup draw a bar
(bytes, rate, topics or files done, ETA) when stderr is a terminal (run here on a pty), and
keep stdout's report unchanged and print no bar when it is not (a pipe)."""
import os
import subprocess
import sys
import tempfile

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import pty_cli, servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
TOP = servers.TOP
CHECK = os.environ.get("OBELISK_CHECK") or os.path.join(TOP, "obelisk-check")
BACKUP = os.environ.get("OBELISK_BACKUP") or os.path.join(TOP, "obelisk-backup")

with servers.Obelisk() as s, tempfile.TemporaryDirectory(prefix="rt-progress-") as tmp:
    r = redis.Redis(port=s.port)
    for k in ("a", "b", "c"):
        p = r.pipeline(transaction=False)
        for i in range(2000):
            p.xadd(k, {"n": i, "payload": "x" * 100})
        p.execute()
    target = os.path.join(tmp, "b1")
    out, status = pty_cli.run_to_end([BACKUP, "-p", str(s.port), target])
    text = out.decode(errors="replace")
    tap.eq(status, 0, "obelisk-backup on a terminal completes")
    tap.ok("100%" in text and "] 100% " in text and "files " in text and "ETA" in text,
           "obelisk-backup draws a bar on a terminal", text[-400:])
    out, status = pty_cli.run_to_end([CHECK, target])
    text = out.decode(errors="replace")
    tap.eq(status, 0, "obelisk-check of the backup on a terminal: clean")
    tap.ok("] 100% " in text and "topics 3/3" in text and "result: clean" in text,
           "obelisk-check draws a bar on a terminal (3 topics)", text[-600:])
    p = subprocess.run([CHECK, target], capture_output=True, text=True, timeout=60)
    tap.eq(p.returncode, 0, "obelisk-check off a terminal: clean")
    tap.ok("[" not in p.stderr and "result: clean" in p.stdout and "topics 3," in p.stdout,
           "off a terminal: no bar, the report on stdout as before", p.stderr + p.stdout)
tap.done()
