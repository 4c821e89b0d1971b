"""Runs redis-cli interactively on a pseudo-terminal and records everything it draws."""
import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time


def session(port, keys, cli="redis-cli", settle=0.4, home=None):
    """Starts `redis-cli -p port` on a pty (120x40), types each item of keys (bytes), waiting
    `settle` seconds after each, then Ctrl-D. Returns (bytes drawn, exit status)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        if home:
            os.environ["HOME"] = home
        os.execvp(cli, [cli, "-p", str(port)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    out = bytearray()

    def pump(seconds):
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

    try:
        pump(1.0)
        for k in keys:
            os.write(fd, k)
            pump(settle)
        os.write(fd, b"\x04")
        pump(1.0)
        status = None
        for _ in range(50):
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid:
                status = os.waitstatus_to_exitcode(st)
                break
            time.sleep(0.1)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = "killed (did not exit on Ctrl-D)"
    finally:
        os.close(fd)
    return bytes(out), status


def run_for(port, args, seconds, cli="redis-cli"):
    """Runs `redis-cli -p port ARGS` on a pty (modes that draw until interrupted: --stat,
    --latency-history) for `seconds`, then Ctrl-C. Returns (bytes drawn, exit status)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm"
        os.execvp(cli, [cli, "-p", str(port)] + list(args))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    out = bytearray()
    end = time.time() + seconds
    try:
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                out.extend(data)
        os.kill(pid, signal.SIGINT)
        status = None
        for _ in range(50):
            wpid, st = os.waitpid(pid, os.WNOHANG)
            if wpid:
                status = os.waitstatus_to_exitcode(st)
                break
            time.sleep(0.1)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = "killed (did not stop on Ctrl-C)"
    finally:
        os.close(fd)
    return bytes(out), status
