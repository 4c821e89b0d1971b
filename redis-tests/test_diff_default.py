#!/usr/bin/python3
"""Differential test: every script in scripts/default/ is played against redis-server 7.0 and
obelisk-server (both on their defaults) and the raw reply bytes are compared, normalised only by
the rules each script names, with differences accepted only through allowlist.txt."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import diff, servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
allow = diff.Allowlist()
with servers.Redis() as r, servers.Obelisk() as o:
    ran = diff.run_dir(tap, "default", r, o, allow)
    o_rc = o.stop()
    tap.eq(o_rc, 0, "obelisk-server exits 0 on SIGTERM after the scripts")
diff.check_allowlist(tap, allow, ran, rules=True)
tap.done()
