"""Start and stop obelisk-server and redis-server on free loopback ports in temporary dirs.

Each server is killed by its own PID only (never by name) and its temp dir removed, also when
a test fails: use the servers as context managers, and every live server is also stopped by an
atexit hook.
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

TOP = os.environ.get("OBELISK_TOP") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OBELISK = os.environ.get("OBELISK_SERVER") or os.path.join(TOP, "obelisk-server")
REDIS = shutil.which("redis-server") or "redis-server"

_live = []


PORT_FLOOR = 20000  # the lowest port free_port hands out
_next_port = None


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _port_binds(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    """A loopback port that is free now and outside the kernel's ephemeral range.

    Not port 0: the kernel would answer with an ephemeral port, and any outgoing connection
    (a client of the test itself) may take it as its source port before the server binds it.
    The walk starts at a random place and steps on, so one process never gets a port twice.
    """
    global _next_port
    lo, hi = _ephemeral_range()
    first, last = PORT_FLOOR, lo - 1
    if last - first < 1000:
        first, last = hi + 1, 65535
    span = last - first + 1
    if _next_port is None:
        _next_port = (os.getpid() * 2654435761 ^ time.time_ns()) % span
    for _ in range(span):
        port = first + _next_port
        _next_port = (_next_port + 1) % span
        if _port_binds(port):
            return port
    raise RuntimeError("no free loopback port outside the ephemeral range")


def _wait_port(port, proc, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    kind = "?"

    def __init__(self, args=()):
        self.args = list(args)
        self.tmp = tempfile.mkdtemp(prefix=f"rt-{self.kind}-")
        self.proc = None
        self.port = None
        self.output = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        return "".join(self.output)

    def _reader(self, stream):
        for line in iter(stream.readline, ""):
            self.output.append(line)

    def stop(self):
        """SIGTERM, wait, SIGKILL if it hangs; returns the exit code."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc is not None:
            rc = self.proc.returncode
        if self in _live:
            _live.remove(self)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


class Obelisk(Server):
    kind = "obelisk"

    def start(self):
        """Port 0 (a free port, read from the start log); with TLS options, where port 0 would
        mean no plain port (a TLS-only server), a port that was free a moment ago, tried up to
        three times."""
        tls = any(a.startswith("--tls-") for a in self.args)
        for attempt in range(3 if tls else 1):
            try:
                return self._start(str(free_port()) if tls else "0")
            except RuntimeError:
                if attempt == 2 or "Address already in use" not in self.log():
                    raise
                self.output = []
                self.port = None

    def _start(self, port):
        data = os.path.join(self.tmp, "data")
        os.makedirs(data, exist_ok=True)
        cmd = [OBELISK, "--port", port, "--dir", data, "--enable-debug-command",
               "local"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        _live.append(self)
        end = time.time() + 15
        ready = False
        while time.time() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            m = re.search(r"port=(\d+)", line)
            if m and self.port is None:
                self.port = int(m.group(1))
            if "Ready to accept connections" in line:
                ready = True
                break
        if not ready or not self.port:
            self.stop()
            raise RuntimeError(f"obelisk-server did not start: {cmd}\n{self.log()}")
        threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True).start()
        return self


class Redis(Server):
    kind = "redis"

    def start(self):
        for _ in range(5):
            self.port = free_port()
            cmd = [REDIS, "--port", str(self.port),
                   # Obelisk's default bind, so CONFIG GET bind compares equal.
                   "--bind", "127.0.0.1 -::1", "--save", "",
                   "--appendonly", "no", "--dir", self.tmp, "--enable-debug-command", "local",
                   "--daemonize", "no"] + self.args
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, errors="replace")
            _live.append(self)
            threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True).start()
            if _wait_port(self.port, self.proc, 10):
                return self
            self.proc.kill() if self.proc.poll() is None else None
            self.proc.wait()
            _live.remove(self)
        raise RuntimeError(f"redis-server did not start\n{self.log()}")


def _cleanup():
    for s in list(_live):
        s.stop()


atexit.register(_cleanup)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, lambda *a: (_cleanup(), os._exit(2)))
