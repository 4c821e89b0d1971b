"""A replicated Obelisk topology on loopback for failover tests: obelisk-server nodes that keep
their port, config file and data directory across kill -9 and restarts (Sentinel rewrites their
config files), and redis-sentinel processes watching them. Every process is started here and
stopped by its own PID; the temp dir is removed at the end (servers.py's atexit hook included).
"""
import os
import shutil
import signal
import subprocess
import tempfile
import time

from . import servers

SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"


class Process:
    def __init__(self, root, name, port):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.port = port
        self.conf = os.path.join(self.dir, "node.conf")
        self.logfile = os.path.join(self.dir, "log")
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in servers._live:
            servers._live.remove(self)

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _spawn(self, cmd):
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self not in servers._live:
            servers._live.append(self)
        if not servers._wait_port(self.port, self.proc, 15):
            raise RuntimeError(f"{self.name} did not start:\n{self.log()[-2000:]}")


class Node(Process):
    """An obelisk-server with a config file (CONFIG REWRITE, as Sentinel uses it)."""

    def __init__(self, root, name, lines):
        super().__init__(root, name, servers.free_port())
        with open(self.conf, "w") as f:
            f.write(f"port {self.port}\ndir {os.path.join(self.dir, 'data')}\n"
                    f"logfile {self.logfile}\n" + "".join(line + "\n" for line in lines))
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)

    def start(self):
        self._spawn([servers.OBELISK, self.conf])
        return self


class Sentinel(Process):
    def __init__(self, root, name, primary_port, quorum=2, down_ms=1000, failover_ms=4000):
        super().__init__(root, name, servers.free_port())
        with open(self.conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\nlogfile {self.logfile}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {primary_port} {quorum}\n"
                    f"sentinel down-after-milliseconds mymaster {down_ms}\n"
                    f"sentinel failover-timeout mymaster {failover_ms}\n"
                    "sentinel parallel-syncs mymaster 2\n")

    def start(self):
        self._spawn([SENTINEL, self.conf])
        return self


class Topology:
    """A primary, replicas and sentinels; use as a context manager."""

    def __init__(self, nreplicas=2, nsentinels=3, node_lines=()):
        self.root = tempfile.mkdtemp(prefix="rt-topology-")
        self.nodes = [Node(self.root, "node0", list(node_lines))]
        for i in range(nreplicas):
            self.nodes.append(Node(self.root, f"node{i + 1}", list(node_lines) +
                                   [f"replicaof 127.0.0.1 {self.nodes[0].port}"]))
        self.sentinels = [Sentinel(self.root, f"sentinel{i}", self.nodes[0].port)
                          for i in range(nsentinels)]

    def __enter__(self):
        for n in self.nodes:
            n.start()
        for s in self.sentinels:
            s.start()
        return self

    def __exit__(self, *exc):
        for p in self.sentinels + self.nodes:
            p.stop()
        if not os.environ.get("OBELISK_KEEP_TEST_DIRS"):
            shutil.rmtree(self.root, ignore_errors=True)

    def node_on(self, port):
        return next(n for n in self.nodes if n.port == port)

    def logs(self):
        return "\n".join(f"==== {p.name}\n{p.log()[-3000:]}" for p in self.nodes + self.sentinels)

    def wait(self, cond, timeout, step=0.1):
        return wait_until(cond, timeout, step)


def wait_until(cond, timeout, step=0.1):
    """True once cond() is true within timeout seconds; an exception counts as not yet (a node
    restarting or cut off answers nothing)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return True
        except Exception:
            pass
        time.sleep(step)
    return False
