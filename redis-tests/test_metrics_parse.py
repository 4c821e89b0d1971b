#!/usr/bin/python3
"""GET /metrics read by a real Prometheus parser (prometheus_client's text parser, Debian's
python3-prometheus-client) after a workload with streams, a consumer group and keys that need
care in label values (quotes, backslash, newline, non-ASCII bytes). Checks the naming rules
(obelisk_ prefix, HELP and TYPE on every family, counters end in _total), histogram shape
(cumulative buckets, +Inf equals _count), that values match what the server says over RESP,
and that /health is JSON."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import servers  # noqa: E402
from lib.tap import Tap  # noqa: E402

import redis  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

tap = Tap()
ODD_KEY = b'we"ird\\key\nwith \xff bytes \xc3\xa9'
ODD_LABEL = "we%22ird%5Ckey%0Awith %FF bytes %C3%A9"


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type"), resp.read().decode()


http_port = servers.free_port()
with servers.Obelisk(["--http-port", str(http_port), "--metrics-max-topics", "3"]) as o:
    r = redis.Redis(port=o.port)
    for i in range(20):
        r.xadd("orders", {"n": i})
    r.xadd(ODD_KEY, {"f": "v"})
    for k in ("a", "b", "c"):
        r.xadd(k, {"f": "v"})
    r.xrange("orders")
    r.xgroup_create("orders", "billing", id="0")
    r.xreadgroup("billing", "alice", {"orders": ">"}, count=5)
    try:
        r.execute_command("NOPE")
    except redis.ResponseError:
        pass

    status, ctype, text = get(http_port, "/metrics")
    tap.eq(status, 200, "/metrics answers 200")
    tap.ok(ctype.startswith("text/plain; version=0.0.4"), "exposition content type", ctype)
    try:
        families = list(text_string_to_metric_families(text))
        parsed = True
    except Exception as e:  # the parser raises on any malformed line
        families, parsed = [], False
        tap.diag(f"parse error: {e}")
    tap.ok(parsed and len(families) >= 30, f"parser reads {len(families)} families", text[:2000])

    bad_names = [f.name for f in families if not f.name.startswith("obelisk_")]
    tap.eq(bad_names, [], "every family is prefixed obelisk_")
    no_help = [f.name for f in families if not f.documentation]
    tap.eq(no_help, [], "every family has HELP text")
    untyped = [f.name for f in families if f.type not in ("counter", "gauge", "histogram")]
    tap.eq(untyped, [], "every family has a TYPE")
    helps = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    types = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    tap.eq(helps, types, "a # HELP and a # TYPE line for each family")
    bad_counters = [s.name for f in families if f.type == "counter" for s in f.samples
                    if not s.name.endswith("_total")]
    tap.eq(bad_counters, [], "counter samples end in _total")

    samples = {}
    for f in families:
        for s in f.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value

    def value(name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))))

    for f in families:
        if f.type != "histogram":
            continue
        buckets = [(float(s.labels["le"]), s.value) for s in f.samples
                   if s.name.endswith("_bucket")]
        les = [b[0] for b in buckets]
        counts = [b[1] for b in buckets]
        tap.ok(les == sorted(les) and les[-1] == float("inf"), f"{f.name}: buckets ascend to +Inf")
        tap.ok(counts == sorted(counts), f"{f.name}: buckets are cumulative", counts)
        tap.eq(counts[-1], value(f.name + "_count"), f"{f.name}: +Inf bucket equals _count")
    tap.ok(value("obelisk_fsync_duration_seconds_count") > 0, "fsyncs were timed")
    tap.eq(value("obelisk_entries_appended_total"), 24.0, "entries appended = XADDs")
    tap.eq(value("obelisk_entries_served_total"), 25.0, "entries served = XRANGE + XREADGROUP")
    tap.eq(value("obelisk_command_calls_total", command="xadd"), 24.0, "xadd calls")
    tap.eq(value("obelisk_errors_total", type="ERR"), 1.0, "errors by type")
    tap.eq(value("obelisk_topics"), 5.0, "topics")
    topic_series = [k for k in samples if k[0] == "obelisk_topic_entries"]
    tap.eq(len(topic_series), 3, "per-topic series capped by metrics-max-topics 3")
    tap.eq(value("obelisk_metrics_omitted_series", kind="topic"), 2.0, "omitted topics counted")
    tap.eq(value("obelisk_group_pending_entries", db="0", topic="orders", group="billing"), 5.0,
           "group pending")
    tap.eq(value("obelisk_group_lag_entries", db="0", topic="orders", group="billing"), 15.0,
           "group lag as XINFO GROUPS reports it (20 entries, 5 delivered)")
    tap.eq(value("obelisk_group_lag_entries", db="0", topic="orders", group="billing"),
           float(r.xinfo_groups("orders")[0]["lag"]), "group lag equals XINFO GROUPS lag")
    tap.eq(value("obelisk_group_committed_lag_entries", db="0", topic="orders", group="billing"),
           None, "no committed lag for a group that never committed")
    r.execute_command("XCOMMIT", "orders", "billing", r.xrange("orders", count=2)[1][0])
    _, _, text = get(http_port, "/metrics")
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    clag = [s.value for s in fams["obelisk_group_committed_lag_entries"].samples
            if s.labels.get("group") == "billing"]
    tap.eq(clag, [18.0], "committed lag once the group committed (20 entries, 2 committed)")

    # The odd key, alone under the cap, shows up percent-encoded.
    r.config_set("metrics-max-topics", "1000")
    _, _, text = get(http_port, "/metrics")
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    odd = [s for s in fams["obelisk_topic_entries"].samples if s.labels.get("topic") == ODD_LABEL]
    tap.ok(len(odd) == 1 and odd[0].value == 1.0, "odd key label is percent-encoded",
           [s.labels for s in fams["obelisk_topic_entries"].samples])

    status, ctype, body = get(http_port, "/health")
    h = json.loads(body)
    tap.ok(status == 200 and h["status"] == "ok" and
           set(h["components"]) == {"listener", "persistence", "recovery", "backup", "cache"} and
           h["components"]["backup"]["status"] == "ok" and
           h["components"]["backup"]["in_progress"] is False,
           "/health is JSON with the five components (backup: none yet, ok)", body)

tap.done()
