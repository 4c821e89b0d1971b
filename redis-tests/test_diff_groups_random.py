#!/usr/bin/python3
"""Differential test with seeded random sequences of consumer-group commands.

Each sequence mixes XGROUP (CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER), XREADGROUP
(non-blocking: `>`, history IDs, COUNT, NOACK), XACK, XPENDING (summary, extended, IDLE,
consumer), XCLAIM (IDLE/TIME/RETRYCOUNT/FORCE/JUSTID/LASTID), XAUTOCLAIM (COUNT, JUSTID),
XINFO GROUPS/CONSUMERS with XADD (explicit IDs), XDEL and XTRIM over two keys, against
redis-server 7.0 and obelisk-server, and compares the raw reply bytes of every command.
Sequences alternate RESP2 and RESP3. Idle times and delivery times are masked with the rules
of lib/normalize.py (xpending-idle, xinfo-idle); min-idle arguments are 0 or far above any idle
time, and DEBUG SLEEP 0.05 now and then makes IDLE 20 filters deterministic.

OBELISK_SEED=N replays a run; OBELISK_RANDOM_STEPS=N changes the commands per sequence.
On the first difference of a sequence the command, both replies and the seed are printed and
the rest of that sequence is skipped.
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import normalize, resp, servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

KEYS = ["gs0", "gs1"]
GROUPS = ["ga", "gb", "gc"]
CONSUMERS = ["c1", "c2", "c3", "c4"]
FAR = "100000000"   # a min-idle no entry reaches within a run


class Gen:
    def __init__(self, rnd):
        self.r = rnd
        self.ids = {k: [] for k in KEYS}
        self.last = {k: (0, 0) for k in KEYS}
        self.queue = []
        self.slept = False   # the previous command was DEBUG SLEEP 0.05

    def idle(self):
        """A min-idle/IDLE argument whose outcome does not depend on timing: 0, far above any
        idle time, or 20 right after a DEBUG SLEEP 0.05 (everything is idle for >= 50 ms)."""
        return self.r.choice(["0", FAR] + (["20", "20"] if self.slept else []))

    def some_id(self, key):
        r = self.r
        ids = self.ids[key]
        c = r.random()
        if ids and c < 0.7:
            ms, seq = r.choice(ids)
            return f"{ms}-{seq}"
        if c < 0.8:
            return r.choice(["0", "0-0", "-", "+"]) if r.random() < 0.5 else "0"
        return f"{r.randint(0, self.last[key][0] + 2)}-{r.randint(0, 3)}"

    def plain_id(self, key):
        s = self.some_id(key)
        return "0" if s in ("-", "+") else s

    def group_id(self, key):
        r = self.r
        c = r.random()
        if c < 0.3:
            return "$"
        if c < 0.5:
            return "0"
        return self.plain_id(key)

    def command(self):
        if self.queue:
            args = self.queue.pop(0)
        else:
            args = self.draw()
        self.slept = args[:2] == ["DEBUG", "SLEEP"]
        return args

    def draw(self):
        r = self.r
        key = r.choice(KEYS)
        g = r.choice(GROUPS)
        cons = r.choice(CONSUMERS)
        c = r.random()
        if c < 0.20:
            ms, seq = self.last[key]
            if r.random() < 0.6:
                nid = f"{ms}-{seq + r.randint(1, 3)}"
            else:
                nid = f"{ms + r.randint(1, 3)}-{r.randint(0, 2)}"
            return ["XADD", key, nid, "f", str(r.randint(0, 99))]
        if c < 0.27:
            sub = r.random()
            if sub < 0.5:
                args = ["XGROUP", "CREATE", key, g, self.group_id(key)]
                if r.random() < 0.3:
                    args.append("MKSTREAM")
                if r.random() < 0.2:
                    args += ["ENTRIESREAD", str(r.randint(-1, 8))]
                return args
            if sub < 0.75:
                args = ["XGROUP", "SETID", key, g, self.group_id(key)]
                if r.random() < 0.2:
                    args += ["ENTRIESREAD", str(r.randint(-1, 8))]
                return args
            if sub < 0.85:
                return ["XGROUP", "CREATECONSUMER", key, g, cons]
            if sub < 0.95:
                return ["XGROUP", "DELCONSUMER", key, g, cons]
            return ["XGROUP", "DESTROY", key, g]
        if c < 0.47:
            args = ["XREADGROUP", "GROUP", g, cons]
            if r.random() < 0.5:
                args += ["COUNT", str(r.choice([1, 2, 3, 10]))]
            if r.random() < 0.15:
                args.append("NOACK")
            keys = [key] if r.random() < 0.8 else KEYS[:]
            ids = [">" if r.random() < 0.7 else r.choice(["0", self.plain_id(k)]) for k in keys]
            return args + ["STREAMS"] + keys + ids
        if c < 0.57:
            n = r.choice([1, 1, 2, 3])
            return ["XACK", key, g] + [self.plain_id(key) for _ in range(n)]
        if c < 0.67:
            if r.random() < 0.3:
                return ["XPENDING", key, g]
            args = ["XPENDING", key, g]
            if r.random() < 0.3:
                args += ["IDLE", self.idle()]
            args += [r.choice(["-", self.plain_id(key)]), r.choice(["+", self.plain_id(key)]),
                     str(r.choice([1, 2, 5, 100]))]
            if r.random() < 0.3:
                args.append(cons)
            return args
        if c < 0.75:
            args = ["XCLAIM", key, g, cons, self.idle()]
            args += [self.plain_id(key) for _ in range(r.choice([1, 1, 2, 3]))]
            for opt in ("IDLE", "TIME", "RETRYCOUNT", "FORCE", "JUSTID", "LASTID"):
                if r.random() < 0.15:
                    if opt == "IDLE":
                        args += ["IDLE", r.choice(["0", FAR])]
                    elif opt == "TIME":
                        args += ["TIME", "1000"]
                    elif opt == "RETRYCOUNT":
                        args += ["RETRYCOUNT", str(r.randint(0, 5))]
                    elif opt == "LASTID":
                        args += ["LASTID", self.plain_id(key)]
                    else:
                        args.append(opt)
            return args
        if c < 0.82:
            args = ["XAUTOCLAIM", key, g, cons, self.idle(),
                    r.choice(["0", "-", self.plain_id(key)])]
            if r.random() < 0.5:
                args += ["COUNT", str(r.choice([1, 2, 5, 100]))]
            if r.random() < 0.3:
                args.append("JUSTID")
            return args
        if c < 0.86:
            return ["XDEL", key] + [self.plain_id(key) for _ in range(r.choice([1, 2]))]
        if c < 0.88:
            return ["XTRIM", key, "MAXLEN", str(max(0, len(self.ids[key]) - r.randint(0, 4)))]
        if c < 0.92:
            return ["XINFO", "GROUPS", key]
        if c < 0.96:
            return ["XINFO", "CONSUMERS", key, g]
        if c < 0.98:
            # a sleep, then an idle-filtered command that can use 20 ms deterministically
            self.slept = True
            self.queue.append(self.draw_idle_cmd())
            return ["DEBUG", "SLEEP", "0.05"]
        return ["XLEN", key]

    def draw_idle_cmd(self):
        while True:
            args = self.draw()
            if args[0] in ("XPENDING", "XCLAIM", "XAUTOCLAIM"):
                return args

    def learn(self, args, raw):
        if args[0] == "XADD" and raw.startswith(b"$"):
            v = resp.decode(raw).decode()
            ms, seq = v.split("-")
            t = (int(ms), int(seq))
            self.ids[args[1]].append(t)
            self.last[args[1]] = t


NORM = {"XPENDING": ["xpending-idle"], "XINFO": ["xinfo-idle"]}


def show(raw):
    return repr(raw) if len(raw) <= 600 else f"({len(raw)} bytes) {raw[:600]!r}..."


def fmt(args):
    return " ".join(args)


def main():
    seed = int(os.environ.get("OBELISK_SEED") or random.SystemRandom().randrange(1, 2 ** 31))
    steps = int(os.environ.get("OBELISK_RANDOM_STEPS") or 300)
    print(f"# seed {seed}", flush=True)
    tap = Tap()
    rnd = random.Random(seed)
    t0 = time.time()
    with servers.Redis() as rs, servers.Obelisk() as ob:
        for seq_no in range(6):
            proto = 3 if seq_no % 2 else 2
            conns = [resp.Conn(rs.port), resp.Conn(ob.port)]
            setup = [["FLUSHALL"]] + ([["HELLO", "3"]] if proto == 3 else [])
            for cmd in setup:
                for c in conns:
                    c.call(*cmd)
            gen = Gen(rnd)
            history = []
            diff = None
            done = 0
            for i in range(steps):
                args = gen.command()
                replies = resp.call_each(conns, args)
                gen.learn(args, replies[0])
                history.append((args, replies[0]))
                shown = [normalize.apply(NORM.get(args[0], []), x) for x in replies]
                done += 1
                if shown[0] != shown[1]:
                    diff = (i, args, shown)
                    break
            desc = f"sequence {seq_no} (RESP{proto}): {done} commands compare equal"
            if diff:
                i, args, shown = diff
                tap.ok(False, f"sequence {seq_no} (RESP{proto}): difference at command {i + 1}",
                       f"seed {seed} (replay with OBELISK_SEED={seed})\n"
                       f"command: {fmt(args)}\n"
                       f"redis:   {show(shown[0])}\nobelisk: {show(shown[1])}\n"
                       f"earlier commands (with Redis's replies):\n" +
                       "\n".join(f"  {fmt(a)}  -> {show(x)}" for a, x in history[:-1][-30:]))
            else:
                tap.ok(True, desc)
            for c in conns:
                c.close()
        rc = ob.stop()
        tap.eq(rc, 0, "obelisk-server exits 0 on SIGTERM after the sequences")
    tap.diag(f"seed {seed}, {time.time() - t0:.1f}s")
    tap.done()


if __name__ == "__main__":
    main()
