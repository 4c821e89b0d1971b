#!/usr/bin/python3
"""TLS on obelisk-server's tls-port, with certificates made here by the openssl tool: redis-cli
--tls with and without a client certificate (mutual TLS required, then optional), a client that
trusts another CA, plaintext sent to the TLS port, redis-py with ssl=True (pipelined writes, a
large reply, 40 MB of pipelined replies: more than the 32 MiB of waiting output at which the
server stops reading a client), redis-benchmark --tls, and a certificate replaced by CONFIG SET
without a restart
(a bad one refused, the old one kept). Then certificates that must be refused: a client
certificate signed by another CA, an expired client certificate, an expired server certificate
(the client refuses it), each beside a good connection."""
import os
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import redis  # noqa: E402
from lib import servers  # noqa: E402
from lib.certs import Certs  # noqa: E402
from lib.tap import Tap  # noqa: E402

tap = Tap()
certs = Certs().ca("ca").ca("otherca")
certs.cert("server", "ca", "localhost").cert("server2", "ca", "second.localhost")
certs.cert("client", "ca", "client", server=False)
p = certs.p


def cli(port, *args, cert=True, ca="ca"):
    tls = ["--tls", "--cacert", p(f"{ca}.crt")]
    if cert:
        tls += ["--cert", p("client.crt"), "--key", p("client.key")]
    r = subprocess.run(["redis-cli", "-p", str(port)] + tls + list(args), capture_output=True,
                       timeout=20)
    return r.returncode, r.stdout.decode(errors="replace").strip(), r.stderr.decode(errors="replace")


def peer_cn(port):
    ctx = ssl.create_default_context(cafile=p("ca.crt"))
    ctx.load_cert_chain(p("client.crt"), p("client.key"))
    with socket.create_connection(("127.0.0.1", port)) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            cert = t.getpeercert()
            return dict(x[0] for x in cert["subject"])["commonName"]


tls_port = servers.free_port()
args = ["--tls-port", str(tls_port), "--tls-cert-file", p("server.crt"), "--tls-key-file",
        p("server.key"), "--tls-ca-cert-file", p("ca.crt")]
with servers.Obelisk(args) as o:
    rc, out, err = cli(tls_port, "PING")
    tap.ok(rc == 0 and out == "PONG", "redis-cli --tls with a client certificate: PONG", err)
    rc, out, err = cli(tls_port, "PING", cert=False)
    tap.ok(rc != 0 or out != "PONG", "without a client certificate the handshake is refused "
           "(tls-auth-clients yes)", out + err)
    rc, out, err = cli(tls_port, "PING", ca="otherca")
    tap.ok(rc != 0 or out != "PONG", "a client that trusts another CA refuses the server", out + err)
    # plaintext to the TLS port: the connection ends, the server goes on
    with socket.create_connection(("127.0.0.1", tls_port)) as s:
        s.sendall(b"PING\r\n")
        s.settimeout(5)
        try:
            data = s.recv(100)
        except OSError:
            data = b""
    tap.ok(b"PONG" not in data, "plaintext to the TLS port gets no reply", repr(data))
    tap.eq(cli(tls_port, "PING")[1], "PONG", "the server still answers over TLS")
    plain = redis.Redis(port=o.port)
    tap.eq(plain.ping(), True, "the plain port works beside the TLS port")
    # redis-py over TLS: pipelined writes, a large reply
    r = redis.Redis(port=tls_port, ssl=True, ssl_ca_certs=p("ca.crt"), ssl_certfile=p("client.crt"),
                    ssl_keyfile=p("client.key"))
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.xadd("s", {"n": i, "payload": "x" * 200})
    ids = pipe.execute()
    tap.eq(len(ids), 2000, "redis-py ssl=True: 2000 pipelined XADDs answered")
    entries = r.xrange("s")
    tap.ok(len(entries) == 2000 and entries[-1][1][b"n"] == b"1999",
           "a 450 KB XRANGE reply over TLS is whole")
    # 90 of those replies pipelined (about 40 MB, more than the 32 MiB of waiting output at
    # which the server stops reading a client until its replies have gone out)
    pipe = r.pipeline(transaction=False)
    for _ in range(90):
        pipe.xrange("s")
    many = pipe.execute()
    tap.ok(len(many) == 90 and all(len(e) == 2000 for e in many),
           "90 pipelined 450 KB replies over TLS (40 MB): all whole")
    tap.eq(r.ping(), True, "and the connection goes on")
    # optional client certificates
    tap.eq(plain.config_set("tls-auth-clients", "optional"), True, "CONFIG SET tls-auth-clients optional")
    rc, out, err = cli(tls_port, "PING", cert=False)
    tap.ok(rc == 0 and out == "PONG", "optional: a client without a certificate gets in", err)
    # redis-benchmark --tls
    b = subprocess.run(["redis-benchmark", "-p", str(tls_port), "--tls", "--cacert", p("ca.crt"),
                        "--cert", p("client.crt"), "--key", p("client.key"), "-t", "ping", "-n",
                        "5000", "-q"], capture_output=True, timeout=60)
    text = b.stdout.decode(errors="replace")
    tap.ok(b.returncode == 0 and "PING_MBULK" in text and "requests per second" in text,
           "redis-benchmark --tls runs", text + b.stderr.decode(errors="replace"))
    # a new certificate without a restart; a bad one is refused and the old one stays
    tap.eq(peer_cn(tls_port), "localhost", "the server presents its certificate")
    try:
        plain.config_set("tls-cert-file", p("missing.crt"))
        refused = False
    except redis.ResponseError as e:
        refused = "tls-cert-file" in str(e)
    tap.ok(refused, "CONFIG SET of a missing certificate is refused with the reason")
    tap.eq(peer_cn(tls_port), "localhost", "the old certificate stays in use")
    plain.execute_command("CONFIG", "SET", "tls-cert-file", p("server2.crt"), "tls-key-file",
                          p("server2.key"))
    tap.eq(peer_cn(tls_port), "second.localhost", "CONFIG SET tls-cert-file/tls-key-file: new "
           "connections get the new certificate")
    tap.eq(r.ping(), True, "a connection opened before the reload goes on")
    log = o.log()
    tap.ok("Ready to accept connections tls" in log, "the log says the TLS port is ready")

# certificates to refuse
c = Certs().ca("ca").ca("otherca")
c.cert("server", "ca", "localhost").cert("oldserver", "ca", "localhost", expired=True)
c.cert("client", "ca", "client", server=False).cert("stranger", "otherca", "client", server=False)
c.cert("oldclient", "ca", "client", server=False, expired=True)


def ping_as(port, client, ca="ca"):
    r = subprocess.run(["redis-cli", "-p", str(port), "--tls", "--cacert", c.p(f"{ca}.crt"),
                        "--cert", c.p(f"{client}.crt"), "--key", c.p(f"{client}.key"), "PING"],
                       capture_output=True, timeout=20)
    return r.stdout.decode(errors="replace").strip() == "PONG"


tls_port = servers.free_port()
with servers.Obelisk(c.server_args(tls_port)) as o:
    tap.ok(ping_as(tls_port, "client"), "a client certificate the CA signed: PONG")
    tap.ok(not ping_as(tls_port, "stranger"), "a client certificate another CA signed is refused")
    tap.ok(not ping_as(tls_port, "oldclient"), "an expired client certificate is refused")
    time.sleep(0.3)
    tap.ok("certificate has expired" in o.log() or "certificate verify failed" in o.log(),
           "the server logs why", o.log()[-600:])
    tap.ok(ping_as(tls_port, "client"), "a good client still gets in")
tls_port = servers.free_port()
with servers.Obelisk(c.server_args(tls_port, cert="oldserver")) as o:
    tap.ok(not ping_as(tls_port, "client"), "a client refuses a server whose certificate expired")
    tap.eq(redis.Redis(port=o.port).ping(), True, "that server's plain port answers")
tap.done()
