#!/usr/bin/python3
"""HTTPS on the HTTP face (http-tls yes) with curl: /health, /metrics, a /v1 produce read back,
a body near the limit and one over it (the API's 413 over TLS), a reply of about 1 MB, two
requests on one kept-alive connection, the live tail (SSE); the client certificate as tls-auth-clients says (yes:
refused without, optional: accepted); failed handshakes logged once each with the reason and
the address, and counted; plain HTTP sent to the HTTPS port fails cleanly and the server goes on; CONFIG SET http-tls switches the face between HTTP and HTTPS."""
import json
import os
import socket
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
certs.cert("server", "ca", "localhost")
certs.cert("client", "ca", "client", server=False)


def hs_lines(o):
    return [x for x in o.log().splitlines() if "Error accepting an HTTPS connection" in x]


def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def curl(url, *args, cert=True, ca="ca"):
    cmd = ["curl", "-s", "--max-time", "20", "-w", "\n%{http_code}"]
    if url.startswith("https"):
        cmd += ["--cacert", certs.p(f"{ca}.crt")]
        if cert:
            cmd += ["--cert", certs.p("client.crt"), "--key", certs.p("client.key")]
    r = subprocess.run(cmd + list(args) + [url], capture_output=True, timeout=30)
    out = r.stdout.decode(errors="replace")
    body, _, code = out.rpartition("\n")
    return r.returncode, code, body, r.stderr.decode(errors="replace")


hport = servers.free_port()
args = ["--tls-cert-file", certs.p("server.crt"), "--tls-key-file", certs.p("server.key"),
        "--tls-ca-cert-file", certs.p("ca.crt"), "--http-tls", "yes", "--http-port", str(hport),
        "--http-api-max-body", "1mb"]
with servers.Obelisk(args) as o:
    r = redis.Redis(port=o.port)
    H = f"https://localhost:{hport}"
    rc, code, body, err = curl(f"{H}/health")
    tap.ok(rc == 0 and code == "200" and '"status"' in body, "https /health: 200", err + body)
    rc, code, body, err = curl(f"{H}/metrics")
    tap.ok(rc == 0 and code == "200" and "obelisk_" in body, "https /metrics: 200 with metrics",
           err)
    rc, code, body, err = curl(f"{H}/v1/topics/orders/entries", "-H",
                               "Content-Type: application/json", "-d",
                               '{"fields":{"sku":"a1","qty":"2"}}')
    tap.ok(rc == 0 and code == "201" and '"ids"' in body, "https produce: 201", err + body)
    tap.eq(r.xlen("orders"), 1, "the entry is in the stream (read over RESP)")
    big = os.path.join(certs.dir, "big.json")
    with open(big, "w") as f:
        json.dump({"fields": {"blob": "x" * 900_000}}, f)
    rc, code, body, err = curl(f"{H}/v1/topics/big/entries", "-H",
                               "Content-Type: application/json", "--data-binary", "@" + big)
    tap.ok(rc == 0 and code == "201", "a 900 KB body under the limit: 201", err + body[:200])
    over = os.path.join(certs.dir, "over.json")
    with open(over, "w") as f:
        json.dump({"fields": {"blob": "x" * 1_500_000}}, f)
    rc, code, body, err = curl(f"{H}/v1/topics/big/entries", "-H",
                               "Content-Type: application/json", "--data-binary", "@" + over)
    tap.ok(code == "413" and '"code"' in body, "a body over http-api-max-body: the API's 413 over "
           "TLS", f"rc={rc} code={code} {err} {body[:200]}")
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.xadd("many", {"n": i, "pad": "p" * 400})
    pipe.execute()
    rc, code, body, err = curl(f"{H}/v1/topics/many/entries?count=2000")
    ok = rc == 0 and code == "200" and len(json.loads(body)["entries"]) == 2000
    tap.ok(ok, f"a reply of {len(body) // 1024} KB over TLS is whole", err)
    rc, code, body, err = curl(f"{H}/health", "-v", "--next", "--cacert", certs.p("ca.crt"),
                               "--cert", certs.p("client.crt"), "--key", certs.p("client.key"),
                               f"{H}/health/live")
    tap.ok(rc == 0 and "Re-using existing connection" in err, "two requests on one kept-alive "
           "TLS connection", err[-500:])
    tail = subprocess.Popen(["curl", "-sN", "--max-time", "4", "--cacert", certs.p("ca.crt"),
                             "--cert", certs.p("client.crt"), "--key", certs.p("client.key"),
                             f"{H}/v1/topics/orders/tail"], stdout=subprocess.PIPE)
    time.sleep(1)
    r.xadd("orders", {"live": "yes"})
    sse = tail.communicate(timeout=20)[0].decode(errors="replace")
    tap.ok('"live":"yes"' in sse and "event: entry" in sse, "the live tail (SSE) over TLS", sse)
    tap.eq(hs_lines(o), [], "HTTPS requests that succeed log no handshake error")
    # client certificates follow tls-auth-clients
    rc, code, body, err = curl(f"{H}/health", cert=False)
    tap.ok(rc != 0 and code != "200", "tls-auth-clients yes: no client certificate, no answer",
           f"rc={rc} code={code}")
    tap.ok(wait_for(lambda: any("certificate" in x and "(addr=127.0.0.1:" in x
                                for x in hs_lines(o)), 5),
           "the refused handshake is logged once, with OpenSSL's reason and the address",
           "\n".join(hs_lines(o)))
    before = len(hs_lines(o))
    socket.create_connection(("127.0.0.1", hport)).close()
    time.sleep(0.5)
    tap.eq(len(hs_lines(o)), before, "a peer that connects and leaves is no warning (a health "
           "check)")
    rc, code, body, err = curl(f"{H}/health", ca="otherca")
    tap.ok(rc != 0, "a client that trusts another CA refuses the server", f"rc={rc}")
    r.config_set("tls-auth-clients", "optional")
    rc, code, body, err = curl(f"{H}/health", cert=False)
    tap.ok(rc == 0 and code == "200", "tls-auth-clients optional: curl without a certificate gets "
           "200", err)
    # plain HTTP to the HTTPS port
    rc, code, body, err = curl(f"http://127.0.0.1:{hport}/health")
    tap.ok(code != "200", "plain http to the HTTPS port gets no answer", f"rc={rc} code={code}")
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", hport)) as s:
            s.settimeout(5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(1000)
            except OSError:
                data = b""
    tap.ok(b"HTTP/1.1 200" not in data, "20 plaintext requests on raw sockets: none answered",
           repr(data))
    tap.ok(wait_for(lambda: any("http request" in x for x in hs_lines(o)), 5),
           "plaintext on the HTTPS port is logged with OpenSSL's reason", "\n".join(hs_lines(o)))
    tap.ok(len(hs_lines(o)) <= before + 20, "at most one line per failed handshake",
           "\n".join(hs_lines(o)))
    rc, code, body, err = curl(f"{H}/metrics")
    fails = [ln for ln in body.splitlines() if ln.startswith("obelisk_tls_handshake_failures_total")]
    tap.ok(fails and float(fails[0].split()[-1]) >= 22,
           "every failed HTTPS handshake is counted (obelisk_tls_handshake_failures_total)",
           repr(fails))
    tap.ok(curl(f"{H}/health")[1] == "200" and r.ping(), "the server goes on: https and RESP "
           "answer")
    # switching at runtime
    r.config_set("http-tls", "no")
    rc, code, body, err = curl(f"http://127.0.0.1:{hport}/health")
    tap.eq(code, "200", "CONFIG SET http-tls no: plain HTTP on the same port")
    r.config_set("http-tls", "yes")
    rc, code, body, err = curl(f"{H}/health")
    tap.eq(code, "200", "CONFIG SET http-tls yes: HTTPS again")
    tap.ok(o.proc.poll() is None, "the server is still running")
# http-tls without certificates is refused at start
try:
    with servers.Obelisk(["--http-tls", "yes", "--http-port", str(servers.free_port())]):
        tap.ok(False, "http-tls without certificates is refused at start")
except RuntimeError as e:
    tap.ok("tls-cert-file" in str(e), "http-tls without certificates is refused at start", str(e))
tap.done()
