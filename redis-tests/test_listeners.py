#!/usr/bin/python3
"""The listening ports and what `port 0` means. Without a TLS port, port 0 is Obelisk's "a free
port, logged at start", and a refused CONFIG SET port keeps the port that was bound (it does not
move the listener to another free port). With a TLS port, port 0 is Redis's "no plain port": a
TLS-only server, at start and by CONFIG SET port 0; closing its last listener (CONFIG SET
tls-port 0) is refused. redis-server 7.0 is the oracle for INFO tcp_port and CONFIG GET port of
a TLS-only server, for CONFIG SET port 0 beside a TLS port, and for CONFIG SET bind moving both
ports' listeners (and refusing an address it cannot bind, the old ones staying)."""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from lib import servers  # noqa: E402
from lib.certs import Certs  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
certs = Certs().ca("ca")
certs.cert("server", "ca", "localhost").cert("client", "ca", "client", server=False)
TLS_FILES = ["--tls-cert-file", certs.p("server.crt"), "--tls-key-file", certs.p("server.key"),
             "--tls-ca-cert-file", certs.p("ca.crt")]


def plain_answers(port, host="127.0.0.1"):
    """A plaintext PING on the port gets +PONG (False when nothing listens or no answer)."""
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(2)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def refused(port, host="127.0.0.1"):
    """Nothing listens on the port (connection refused)."""
    try:
        socket.create_connection((host, port), timeout=2).close()
        return False
    except OSError:
        return True


def tls_client(port):
    return redis.Redis(port=port, ssl=True, ssl_ca_certs=certs.p("ca.crt"),
                       ssl_certfile=certs.p("client.crt"), ssl_keyfile=certs.p("client.key"),
                       socket_timeout=5)


def tls_cli(port, *args, host="127.0.0.1"):
    out = subprocess.run(["redis-cli", "-h", host, "-p", str(port), "--tls", "--cacert", certs.p("ca.crt"),
                          "--cert", certs.p("client.crt"), "--key", certs.p("client.key")]
                         + list(args), capture_output=True, text=True, timeout=15)
    return out.stdout.strip()


def info_server(r):
    return r.info("server")


def config_set_error(r, *args):
    try:
        r.execute_command("CONFIG", "SET", *args)
        return ""
    except redis.ResponseError as e:
        return str(e)


def busy_socket():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def listening_ports(pid):
    """The TCP ports the process listens on (ss -ltnp)."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    ports = set()
    for line in out.splitlines():
        if f"pid={pid}," in line:
            ports.add(int(line.split()[3].rsplit(":", 1)[1]))
    return ports


class TlsOnly(servers.Server):
    """obelisk-server started with `--port 0 --tls-port N` (servers.Obelisk gives TLS servers
    a plain port); self.port is the port its start line names."""
    kind = "obelisk-tls-only"

    def start(self):
        data = os.path.join(self.tmp, "data")
        os.makedirs(data, exist_ok=True)
        cmd = [servers.OBELISK, "--dir", data, "--port", "0"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        servers._live.append(self)
        end = time.time() + 15
        while time.time() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            m = re.search(r"Running mode=standalone, port=(\d+)", line)
            if m:
                self.port = int(m.group(1))
            if "Ready to accept connections" in line:
                return self
        self.stop()
        raise RuntimeError(f"obelisk-server did not start: {cmd}\n{self.log()}")


# ---- port 0 without a TLS port: a free port ----
busy = busy_socket()
busy_port = busy.getsockname()[1]
with servers.Obelisk([]) as o:
    r = redis.Redis(port=o.port)
    tap.ok(o.port > 0 and plain_answers(o.port), "port 0 without a TLS port: a free port, "
           "logged at start, answers in plaintext")
    tap.eq(r.config_get("port"), {"port": "0"}, "CONFIG GET port says 0")
    tap.eq(info_server(r)["tcp_port"], o.port, "INFO tcp_port is the port bound")
    err = config_set_error(r, "port", str(busy_port))
    tap.ok(err.startswith("CONFIG SET failed (possibly related to argument 'port')")
           and "Address already in use" in err, "CONFIG SET port of a port in use is refused",
           err)
    tap.ok(plain_answers(o.port), "the refused CONFIG SET port keeps the port that was bound")
    tap.eq(info_server(r)["tcp_port"], o.port, "INFO tcp_port still names it")
    tap.eq(listening_ports(o.proc.pid), {o.port}, "no other port was opened")
    tap.eq(r.config_get("port"), {"port": "0"}, "port stays 0")
    tap.eq(config_set_error(r, "port", "0"), "", "CONFIG SET port 0 again is accepted")
    tap.ok(plain_answers(o.port), "and keeps the free port bound")
    p1 = servers.free_port()
    tap.eq(config_set_error(r, "port", str(p1)), "", "CONFIG SET port to a free port")
    tap.ok(plain_answers(p1) and refused(o.port), "moves the plain listener")
    tap.eq(config_set_error(r, "port", "0"), "", "CONFIG SET port 0 without a TLS port")
    now = info_server(r)["tcp_port"]
    tap.ok(now > 0 and now != p1 and plain_answers(now) and refused(p1),
           "binds a free port (port 0 keeps its meaning without TLS)", now)
busy.close()

# ---- a TLS-only server: --port 0 --tls-port N ----
tls_port = servers.free_port()
redis_tls = servers.free_port()
rs_dir = tempfile.mkdtemp(prefix="rt-redis-tls-only-")
rs = subprocess.Popen(["redis-server", "--port", "0", "--tls-port", str(redis_tls), "--save", "",
                       "--appendonly", "no", "--dir", rs_dir, "--bind", "127.0.0.1 -::1",
                       "--daemonize", "no"] + TLS_FILES,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    if tls_cli(redis_tls, "PING") == "PONG":
        break
    time.sleep(0.1)
try:
    rr = tls_client(redis_tls)
    redis_info = info_server(rr)
    redis_port = rr.config_get("port")
finally:
    rs.terminate()
    rs.wait()
    shutil.rmtree(rs_dir, ignore_errors=True)

with TlsOnly(TLS_FILES + ["--tls-port", str(tls_port)]) as o:
    log = o.log()
    tap.ok("no plain TCP port" in log and f"TLS port {tls_port}" in log,
           "the start log says TLS only, no plain port", log)
    tap.ok("Ready to accept connections tls" in log and "connections tcp" not in log,
           "ready: tls only, no tcp")
    tap.eq(o.port, tls_port, "the start line names the TLS port (as redis-server's does)")
    tap.eq(tls_cli(tls_port, "PING"), "PONG", "redis-cli --tls: PONG")
    t = tls_client(tls_port)
    tap.eq(t.xadd("s", {"f": "v"}, id="1-1"), b"1-1", "redis-py over TLS: XADD")
    info = info_server(t)
    tap.eq(info["tcp_port"], tls_port, "INFO tcp_port is the TLS port")
    tap.eq(info["tcp_port"] == tls_port, redis_info["tcp_port"] == redis_tls,
           "as redis-server's INFO tcp_port on a TLS-only server")
    tap.eq(t.config_get("port"), {"port": "0"}, "CONFIG GET port: 0")
    tap.eq(redis_port, {"port": "0"}, "as redis-server's")
    ports = listening_ports(o.proc.pid)
    tap.eq(ports, {tls_port}, "the server listens on the TLS port only")
    tap.ok(all(not plain_answers(p) for p in ports | {o.port, info["tcp_port"]}),
           "no port it logs, reports or listens on answers plaintext")
    err = config_set_error(t, "tls-port", "0")
    tap.ok(err.startswith("CONFIG SET failed (possibly related to argument 'tls-port')")
           and "no listener" in err, "CONFIG SET tls-port 0 on a TLS-only server is refused",
           err)
    tap.eq(t.config_get("tls-port"), {"tls-port": str(tls_port)}, "tls-port keeps its value")
    tap.eq(tls_cli(tls_port, "PING"), "PONG", "the TLS port still answers")
    tap.eq(listening_ports(o.proc.pid), {tls_port}, "and no plain port was opened")
    p1 = servers.free_port()
    tap.eq(config_set_error(t, "port", str(p1)), "", "CONFIG SET port opens a plain port")
    tap.ok(plain_answers(p1), "which answers in plaintext")
    tap.eq(info_server(t)["tcp_port"], p1, "INFO tcp_port is now the plain port")
    tap.eq(config_set_error(t, "port", "0"), "", "CONFIG SET port 0 beside the TLS port")
    tap.ok(refused(p1), "closes the plain port")
    tap.eq(listening_ports(o.proc.pid), {tls_port}, "the TLS port is left")
    tap.eq(tls_cli(tls_port, "PING"), "PONG", "and answers")
    p2 = servers.free_port()
    tap.eq(config_set_error(t, "port", str(p2), "tls-port", "0"), "",
           "CONFIG SET port N tls-port 0 together: accepted")
    tap.ok(plain_answers(p2) and refused(tls_port), "a plain port only")

# ---- CONFIG SET port 0 on a server with both ports, with redis-server as the oracle ----
for kind in (servers.Redis, servers.Obelisk):
    tp = servers.free_port()
    with kind(TLS_FILES + ["--tls-port", str(tp)]) as o:
        name = kind.kind
        r = redis.Redis(port=o.port)
        tap.ok(plain_answers(o.port), f"{name}: a TLS server started by the test harness has a "
               "plain port")
        tap.eq(r.config_set("port", 0), True, f"{name}: CONFIG SET port 0 beside a TLS port: OK")
        tap.ok(refused(o.port), f"{name}: the plain port is closed")
        t = tls_client(tp)
        tap.eq(info_server(t)["tcp_port"], tp, f"{name}: INFO tcp_port is the TLS port")
        tap.eq(t.config_get("port"), {"port": "0"}, f"{name}: CONFIG GET port: 0")
        tap.eq(t.ping(), True, f"{name}: the TLS port answers")
        if kind is servers.Obelisk:
            tap.ok("no listener" in config_set_error(t, "tls-port", "0"),
                   "obelisk: then closing the TLS port is refused")

# ---- CONFIG SET bind moves the plain and the TLS listeners, with redis-server as the oracle ----
for kind in (servers.Redis, servers.Obelisk):
    tp = servers.free_port()
    with kind(TLS_FILES + ["--tls-port", str(tp), "--bind", "127.0.0.1"]) as o:
        name = kind.kind
        r = redis.Redis(port=o.port)
        tap.ok(refused(o.port, "::1") and refused(tp, "::1"), f"{name}: bound to 127.0.0.1 only")
        tap.eq(config_set_error(r, "bind", "127.0.0.1 ::1"), "",
               f"{name}: CONFIG SET bind adding ::1 to the address it listens on: OK")
        tap.ok(plain_answers(o.port, "::1") and tls_cli(tp, "PING", host="::1") == "PONG",
               f"{name}: the plain and the TLS port answer on ::1")
        tap.ok(plain_answers(o.port) and tls_cli(tp, "PING") == "PONG",
               f"{name}: and still on 127.0.0.1")
        err = config_set_error(r, "bind", "127.0.0.1 192.0.2.1")
        tap.ok(err != "", f"{name}: CONFIG SET bind to an address not on the machine: refused",
               err)
        tap.ok(plain_answers(o.port, "::1") and tls_cli(tp, "PING", host="::1") == "PONG" and
               plain_answers(o.port) and tls_cli(tp, "PING") == "PONG",
               f"{name}: both ports answer on the old addresses after the refusal")
        tap.eq(config_set_error(r, "bind", "127.0.0.1"), "", f"{name}: CONFIG SET bind back")
        tap.ok(refused(o.port, "::1") and refused(tp, "::1") and plain_answers(o.port) and
               tls_cli(tp, "PING") == "PONG",
               f"{name}: ::1 closed on both ports, 127.0.0.1 answers on both")
        tap.eq(r.ping(), True, f"{name}: the connection already open goes on")

# ---- a free-port server that opens a TLS port becomes TLS-only ----
with servers.Obelisk([]) as o:
    r = redis.Redis(port=o.port)
    tp = servers.free_port()
    err = config_set_error(r, "tls-port", str(tp))
    tap.ok("tls-cert-file" in err and plain_answers(o.port),
           "CONFIG SET tls-port without certificates: refused, the plain port stays", err)
    r.execute_command("CONFIG", "SET", "tls-cert-file", certs.p("server.crt"), "tls-key-file",
                      certs.p("server.key"), "tls-ca-cert-file", certs.p("ca.crt"))
    tap.eq(config_set_error(r, "tls-port", str(tp)), "", "CONFIG SET tls-port on a port 0 server")
    tap.ok(refused(o.port) and tls_cli(tp, "PING") == "PONG",
           "port 0 with a TLS port: the free plain port is closed, TLS answers")
    tap.eq(r.ping(), True, "the connection already open goes on")

tap.done()
