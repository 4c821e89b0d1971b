#!/usr/bin/python3
"""prometheus-redis-exporter (Debian's prometheus-redis-exporter, scripts/install-deps.sh test)
against obelisk-server on loopback, with --check-streams: the exporter must scrape without an
error in its log or in redis_exporter_last_scrape_error, and report the streams, groups and
consumers, the slow log, the latency monitor's events and the save fields as Obelisk has them.
The same scrape of a redis-server 7.0 lists the families Obelisk must give too."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

EXPORTER = os.environ.get("REDIS_EXPORTER", "prometheus-redis-exporter")
tap = Tap()

# Families the exporter fills from what Obelisk has (INFO, SLOWLOG, LATENCY, XINFO).
REQUIRED = [
    "redis_up", "redis_uptime_in_seconds", "redis_connected_clients", "redis_memory_used_bytes",
    "redis_commands_processed_total", "redis_rdb_last_save_timestamp_seconds",
    "redis_rdb_changes_since_last_save", "redis_slowlog_length", "redis_slowlog_last_id",
    "redis_last_slow_execution_duration_seconds", "redis_latency_spike_last",
    "redis_latency_spike_duration_seconds", "redis_stream_length", "redis_stream_groups",
    "redis_stream_group_consumers", "redis_stream_group_messages_pending",
    "redis_stream_group_consumer_messages_pending", "redis_stream_group_consumer_idle_seconds",
    "redis_commands_total", "redis_db_keys",
]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def samples(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$", line)
        if m:
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def value(s, name, **labels):
    want = set(f'{k}="{v}"' for k, v in labels.items())
    for (n, lab), v in s.items():
        if n == name and want <= set(lab.strip("{}").split(",")):
            return v
    return None


def run_exporter(port, logpath):
    """Starts the exporter against port; returns (process, its HTTP port) once it answers."""
    for _ in range(5):
        http = servers.free_port()
        log = open(logpath, "w")
        p = subprocess.Popen([EXPORTER, "-redis.addr", f"redis://127.0.0.1:{port}",
                              "-web.listen-address", f"127.0.0.1:{http}",
                              "-check-streams", "orders*"], stdout=log, stderr=subprocess.STDOUT)
        end = time.time() + 10
        while time.time() < end and p.poll() is None:
            try:
                scrape(http)
                return p, http
            except OSError:
                time.sleep(0.1)
        p.kill()
        p.wait()
    raise RuntimeError("the exporter did not start: " + open(logpath).read())


def fill(port):
    """Streams with a group, slow-log entries and a latency event ("command", DEBUG SLEEP)."""
    import redis
    r = redis.Redis(port=port)
    r.config_set("slowlog-log-slower-than", "0")
    r.config_set("latency-monitor-threshold", "5")
    for i in range(10):
        r.xadd("orders", {"n": i})
    r.xgroup_create("orders", "billing", id="0")
    r.xreadgroup("billing", "alice", {"orders": ">"}, count=4)
    r.xadd("orders-eu", {"n": 1})
    r.execute_command("DEBUG", "SLEEP", "0.02")
    r.config_set("slowlog-log-slower-than", "10000")


if shutil.which(EXPORTER) is None:
    tap.ok(False, f"{EXPORTER} is installed (scripts/install-deps.sh test installs it)")
    tap.done()

tmp = tempfile.mkdtemp(prefix="rt-exporter-")
names = {}
try:
    with servers.Redis() as rd, servers.Obelisk() as o:
        for srv in (rd, o):
            fill(srv.port)
            logpath = os.path.join(tmp, f"{srv.kind}.log")
            p, http = run_exporter(srv.port, logpath)
            try:
                text = scrape(http)
                time.sleep(0.2)
                text = scrape(http)  # the second scrape: nothing cached from the first
            finally:
                p.terminate()
                p.wait(timeout=10)
            s = samples(text)
            names[srv.kind] = {n for n, _ in s}
            log = open(logpath).read()
            if srv.kind == "redis":
                continue
            bad = [l for l in log.splitlines() if re.search(r"level=(error|warning|fatal)", l)]
            tap.eq(bad, [], "no error or warning in the exporter's log")
            tap.eq(value(s, "redis_up"), 1.0, "redis_up 1")
            tap.eq(value(s, "redis_exporter_last_scrape_error"), 0.0,
                   "redis_exporter_last_scrape_error 0")
            errs = [lab for (n, lab) in s if n == "redis_exporter_last_scrape_error"]
            tap.eq(errs, ['{err=""}'], "the last scrape error is empty")
            missing = [n for n in REQUIRED if n not in names["obelisk"]]
            tap.eq(missing, [], "every family the exporter fills from Obelisk is there")
            tap.eq(value(s, "redis_stream_length", db="db0", stream="orders"), 10.0,
                   "stream length of orders")
            tap.eq(value(s, "redis_stream_length", db="db0", stream="orders-eu"), 1.0,
                   "stream length of orders-eu (found by SCAN with the pattern)")
            tap.eq(value(s, "redis_stream_groups", db="db0", stream="orders"), 1.0, "stream groups")
            tap.eq(value(s, "redis_stream_group_messages_pending", db="db0", stream="orders",
                         group="billing"), 4.0, "group pending entries")
            tap.eq(value(s, "redis_stream_group_consumers", db="db0", stream="orders",
                         group="billing"), 1.0, "group consumers")
            tap.eq(value(s, "redis_stream_group_consumer_messages_pending", db="db0",
                         stream="orders", group="billing", consumer="alice"), 4.0,
                   "consumer pending entries")
            tap.ok((value(s, "redis_slowlog_length") or 0) >= 10, "slow log length (every "
                   "command was logged while slowlog-log-slower-than was 0)")
            tap.ok(value(s, "redis_slowlog_last_id") is not None, "slow log last id")
            tap.ok((value(s, "redis_latency_spike_duration_seconds", event_name="command") or 0)
                   >= 0.02, "latency event 'command' from DEBUG SLEEP 0.02",
                   [k for k in s if k[0].startswith("redis_latency")])
            tap.ok((value(s, "redis_latency_spike_last", event_name="command") or 0)
                   > time.time() - 600, "latency event time is recent")
            saved = value(s, "redis_rdb_last_save_timestamp_seconds") or 0
            tap.ok(time.time() - 600 < saved <= time.time() + 1,
                   "rdb_last_save_time: the last data fsync, a recent time", saved)
            tap.eq(value(s, "redis_rdb_changes_since_last_save"), 0.0,
                   "nothing waits to be made durable")
    # What redis-server gives and Obelisk does not: only what Obelisk has nothing for.
    gap = sorted(names["redis"] - names["obelisk"])
    # jemalloc's allocator statistics (Obelisk uses libc's malloc), io-threads and maxmemory
    # (directives Obelisk has not), and the memory at start-up (not measured).
    allowed = re.compile(r"^redis_(allocator_\w+|config_(io_threads|maxmemory)|"
                         r"memory_used_startup_bytes)$")
    unexpected = [n for n in gap if not allowed.match(n)]
    tap.eq(unexpected, [], "families the exporter gives for redis-server 7.0 are there for "
           "Obelisk too (except jemalloc's, io-threads, maxmemory and start-up memory)")
    if gap:
        tap.diag("not given for Obelisk: " + " ".join(gap))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
tap.done()
