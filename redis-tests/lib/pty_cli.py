"""Runs redis-cli interactively on a pseudo-terminal and records everything it draws."""
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time


def _spawn(cli, args, home=None):
    """Starts cli ARGS on a 120x40 pty; returns (pid, fd)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        if home:
            os.environ["HOME"] = home
        os.execvp(cli, [cli] + list(args))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return pid, fd


def _pump(fd, out, seconds):
    """Appends what the pty draws for `seconds` to out; False once the pty is closed."""
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        out.extend(data)
        if b"\x1b[6n" in data:  # linenoise asks where the cursor is: answer like a terminal
            os.write(fd, b"\x1b[1;1R")
    return True


def _reap(pid, why):
    """The exit status of pid within 5 s, else kills it and returns `why`."""
    for _ in range(50):
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid:
            return os.waitstatus_to_exitcode(st)
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return why


def session(port, keys, cli="redis-cli", settle=0.4, home=None):
    """Starts `redis-cli -p port` on a pty (120x40), types each item of keys (bytes), waiting
    `settle` seconds after each, then Ctrl-D. Returns (bytes drawn, exit status)."""
    pid, fd = _spawn(cli, ["-p", str(port)], home)
    out = bytearray()
    try:
        _pump(fd, out, 1.0)
        for k in keys:
            os.write(fd, k)
            _pump(fd, out, settle)
        os.write(fd, b"\x04")
        _pump(fd, out, 1.0)
        status = _reap(pid, "killed (did not exit on Ctrl-D)")
    finally:
        os.close(fd)
    return bytes(out), status


def run_for(port, args, seconds, cli="redis-cli"):
    """Runs `redis-cli -p port ARGS` on a pty (modes that draw until interrupted: --stat,
    --latency-history) for `seconds`, then Ctrl-C. Returns (bytes drawn, exit status)."""
    pid, fd = _spawn(cli, ["-p", str(port)] + list(args))
    out = bytearray()
    try:
        _pump(fd, out, seconds)
        os.kill(pid, signal.SIGINT)
        status = _reap(pid, "killed (did not stop on Ctrl-C)")
    finally:
        os.close(fd)
    return bytes(out), status


def run_to_end(argv, timeout=30):
    """Runs argv (a program and its arguments) on a pty until it exits (or timeout seconds,
    then it is killed). Returns (bytes drawn, exit status)."""
    pid, fd = _spawn(argv[0], argv[1:])
    out = bytearray()
    try:
        end = time.time() + timeout
        while time.time() < end and _pump(fd, out, 0.2):
            pass
        status = _reap(pid, "killed (did not finish)")
    finally:
        os.close(fd)
    return bytes(out), status
