#!/usr/bin/python3
"""Differential test with a password: scripts/requirepass/ against redis-server and
obelisk-server both started with --requirepass (NOAUTH, WRONGPASS, HELLO AUTH, and the
stricter request limits before authentication)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import diff, servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

PASSWORD = "s3cret"
tap = Tap()
allow = diff.Allowlist()
with servers.Redis(["--requirepass", PASSWORD]) as r, \
        servers.Obelisk(["--requirepass", PASSWORD]) as o:
    ran = diff.run_dir(tap, "requirepass", r, o, allow)
diff.check_allowlist(tap, allow, ran, rules=False)
tap.done()
