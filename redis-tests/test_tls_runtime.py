#!/usr/bin/python3
"""TLS settings at runtime and under abuse, with redis-server 7.0 as the oracle where it has the
behaviour: session resumption (tls-session-caching yes: `openssl s_client -sess_in` shows
"Reused" over TLS 1.2 and 1.3; no: a new session every time), CONFIG SET tls-port (open, move,
a port in use refused with the reason and the old listener kept, close with 0), and handshake
failures (50 plaintext clients on the TLS port: the server keeps answering, each failure is
logged once with its address, the lines are bounded per second, the metric counts them)."""
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from lib import servers  # noqa: E402
from lib.certs import Certs  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
certs = Certs().ca("ca")
certs.cert("server", "ca", "localhost").cert("server2", "ca", "second.localhost")
certs.cert("client", "ca", "client", server=False)
BASE = ["--tls-cert-file", certs.p("server.crt"), "--tls-key-file", certs.p("server.key"),
        "--tls-ca-cert-file", certs.p("ca.crt")]


def s_client(port, version, *extra):
    cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", certs.p("ca.crt"),
           "-cert", certs.p("client.crt"), "-key", certs.p("client.key"), version] + list(extra)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(b"PING\r\n")
    p.stdin.flush()
    time.sleep(0.4)  # a TLS 1.3 ticket arrives after the handshake
    out, _ = p.communicate(b"", timeout=15)
    return out.decode(errors="replace")


def resumed(port, version):
    sess = certs.p("sess.pem")
    if os.path.exists(sess):
        os.unlink(sess)
    first = s_client(port, version, "-sess_out", sess)
    if "+PONG" not in first:
        return None
    if not os.path.exists(sess):
        return False
    return "Reused," in s_client(port, version, "-sess_in", sess)


def peer_cn(port):
    ctx = ssl.create_default_context(cafile=certs.p("ca.crt"))
    ctx.check_hostname = False
    ctx.load_cert_chain(certs.p("client.crt"), certs.p("client.key"))
    with socket.create_connection(("127.0.0.1", port)) as s:
        with ctx.wrap_socket(s) as t:
            return dict(x[0] for x in t.getpeercert()["subject"])["commonName"]


def tls_ping(port):
    r = subprocess.run(["redis-cli", "-p", str(port), "--tls", "--cacert", certs.p("ca.crt"),
                        "--cert", certs.p("client.crt"), "--key", certs.p("client.key"), "PING"],
                       capture_output=True, timeout=20)
    return r.stdout.decode().strip() == "PONG"


# ---- session caching, against redis-server ----
for caching in ("yes", "no"):
    for kind in (servers.Redis, servers.Obelisk):
        tp = servers.free_port()
        with kind(BASE + ["--tls-port", str(tp), "--tls-session-caching", caching]):
            for version in ("-tls1_2", "-tls1_3"):
                got = resumed(tp, version)
                want = caching == "yes"
                tap.eq(got, want, f"{kind.kind} tls-session-caching {caching}, {version[1:]}: "
                       f"session {'reused' if want else 'not reused'}")
tp = servers.free_port()
with servers.Obelisk(BASE + ["--tls-port", str(tp)]) as o:
    r = redis.Redis(port=o.port)
    tap.eq(r.config_get("tls-session-*"), {"tls-session-caching": "yes",
                                           "tls-session-cache-size": "20480",
                                           "tls-session-cache-timeout": "300"},
           "the session cache directives and Redis's defaults")
    r.config_set("tls-session-caching", "no")
    tap.eq(resumed(tp, "-tls1_3"), False, "CONFIG SET tls-session-caching no: not reused")
    r.config_set("tls-session-caching", "yes")
    tap.eq(resumed(tp, "-tls1_3"), True, "CONFIG SET tls-session-caching yes: reused again")

# ---- CONFIG SET tls-port ----
busy = socket.socket()
busy.bind(("127.0.0.1", 0))
busy.listen()
busy_port = busy.getsockname()[1]
with servers.Redis(BASE) as rs, servers.Obelisk(BASE) as o:
    rr, r = redis.Redis(port=rs.port), redis.Redis(port=o.port)
    for name, c in (("redis", rr), ("obelisk", r)):
        try:
            c.config_set("tls-port", busy_port)
            err = ""
        except redis.ResponseError as e:
            err = str(e)
        tap.ok(err.startswith("CONFIG SET failed (possibly related to argument 'tls-port')"),
               f"{name}: CONFIG SET tls-port of a port in use is refused", err)
        tap.eq(c.config_get("tls-port"), {"tls-port": "0"}, f"{name}: tls-port stays 0")
    tap.ok("Address already in use" in str(err), "Obelisk says why", err)
    p1 = servers.free_port()
    tap.eq(r.config_set("tls-port", p1), True, "CONFIG SET tls-port opens the TLS port")
    tap.ok(tls_ping(p1), "redis-cli --tls answers on it")
    old = redis.Redis(port=p1, ssl=True, ssl_ca_certs=certs.p("ca.crt"),
                      ssl_certfile=certs.p("client.crt"), ssl_keyfile=certs.p("client.key"))
    tap.eq(old.ping(), True, "a client connected to it")
    try:
        r.config_set("tls-port", busy_port)
        refused = False
    except redis.ResponseError:
        refused = True
    tap.ok(refused and tls_ping(p1), "a port in use is refused and the old TLS port still "
           "answers")
    tap.eq(r.config_get("tls-port"), {"tls-port": str(p1)}, "tls-port keeps its value")
    p2 = servers.free_port()
    tap.eq(r.config_set("tls-port", p2), True, "CONFIG SET tls-port moves it")
    tap.ok(tls_ping(p2), "the new port answers")
    try:
        socket.create_connection(("127.0.0.1", p1), timeout=2).close()
        closed = False
    except OSError:
        closed = True
    tap.ok(closed, "the old port is closed")
    tap.eq(old.ping(), True, "the client connected before the move goes on")
    tap.eq(r.config_set("tls-port", 0), True, "CONFIG SET tls-port 0")
    try:
        socket.create_connection(("127.0.0.1", p2), timeout=2).close()
        closed = False
    except OSError:
        closed = True
    tap.ok(closed and r.ping(), "closes the TLS port; the plain port goes on")
    r.execute_command("CONFIG", "SET", "tls-cert-file", certs.p("server2.crt"), "tls-key-file",
                      certs.p("server2.key"))
    p3 = servers.free_port()
    r.config_set("tls-port", p3)
    tap.eq(peer_cn(p3), "second.localhost", "a certificate set while the port was closed is the "
           "one presented when it opens again")
with servers.Obelisk([]) as o:
    try:
        redis.Redis(port=o.port).config_set("tls-port", servers.free_port())
        err = ""
    except redis.ResponseError as e:
        err = str(e)
    tap.ok("tls-cert-file" in err, "CONFIG SET tls-port without certificates: refused with the "
           "reason", err)
busy.close()

# ---- handshake failures ----
tp, hp = servers.free_port(), servers.free_port()
with servers.Obelisk(BASE + ["--tls-port", str(tp), "--http-port", str(hp)]) as o:
    r = redis.Redis(port=o.port)

    def plaintext():
        try:
            with socket.create_connection(("127.0.0.1", tp), timeout=5) as s:
                s.sendall(b"PING\r\n")
                try:
                    s.recv(100)
                except OSError:
                    pass
        except OSError:
            pass

    t0 = time.time()
    threads = [threading.Thread(target=plaintext) for _ in range(50)]
    for t in threads:
        t.start()
    pings = 0
    while any(t.is_alive() for t in threads):
        pings += r.ping()
    for t in threads:
        t.join()
    spent = time.time() - t0
    tap.ok(spent < 10, f"50 plaintext clients on the TLS port are done in {spent:.1f} s")
    tap.ok(tls_ping(tp) and r.ping(), "the server answers over TLS and plain afterwards")
    time.sleep(0.3)
    lines = [line for line in o.log().splitlines() if "Error accepting a client connection" in line]
    tap.ok(lines and "wrong version number" in lines[0] and "addr=127.0.0.1:" in lines[0],
           "a failure is logged with OpenSSL's reason and the address", lines[:1])
    tap.ok(0 < len(lines) <= 10 * (int(spent) + 2), f"the lines are bounded ({len(lines)} for "
           "50 failures)", len(lines))
    # a silent health check is not a warning
    for _ in range(5):
        socket.create_connection(("127.0.0.1", tp)).close()
    time.sleep(0.3)
    later = [line for line in o.log().splitlines() if "Error accepting a client connection" in line]
    tap.eq(len(later), len(lines), "connect-and-close probes log no warning")
    # a client without a certificate is refused: one line with the reason
    subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tp}", "-CAfile",
                    certs.p("ca.crt")], input=b"", capture_output=True, timeout=15)
    time.sleep(1.2)  # out of the previous second's bound
    subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{tp}", "-CAfile",
                    certs.p("ca.crt"), "-tls1_2"], input=b"", capture_output=True, timeout=15)
    time.sleep(0.3)
    tap.ok("peer did not return a certificate" in o.log(), "no client certificate: the reason is "
           "logged")
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{hp}/metrics", timeout=10).read().decode()
    n = [int(line.split()[1]) for line in metrics.splitlines()
         if line.startswith("obelisk_tls_handshake_failures_total ")]
    tap.ok(n and n[0] >= 55, "obelisk_tls_handshake_failures_total counts them", n)
    # a client that connects and never starts its handshake is closed after
    # tls-handshake-timeout (the cron looks once a second); a finished handshake is not
    r.config_set("tls-handshake-timeout", 1)
    silent = socket.create_connection(("127.0.0.1", tp), timeout=10)
    t0 = time.time()
    try:
        got = silent.recv(100)
    except OSError:
        got = b""
    waited = time.time() - t0
    silent.close()
    tap.ok(got == b"" and 0.8 <= waited < 5, f"a silent TLS client is closed after {waited:.1f} s")
    kept = redis.Redis(port=tp, ssl=True, ssl_ca_certs=certs.p("ca.crt"),
                       ssl_certfile=certs.p("client.crt"), ssl_keyfile=certs.p("client.key"))
    kept.ping()
    time.sleep(2.2)
    tap.ok(kept.ping(), "a TLS client that finished its handshake stays past the timeout")
    kept.close()
tap.done()
