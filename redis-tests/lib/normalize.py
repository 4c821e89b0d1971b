"""Named normalisation rules for the differential runner. A script asks for one with
`@norm NAME` before a command; the rule rewrites the raw reply bytes of BOTH servers the same
way, so only what the rule names is ignored and everything else still compares byte for byte.
Rules listed in GLOBAL_RULES apply only when allowlist.txt enables them (`rule NAME | reason`).
"""
import re

INFO_REQUIRED = {
    "Server": ["redis_version", "redis_mode", "os", "arch_bits", "process_id", "run_id",
               "tcp_port", "server_time_usec", "uptime_in_seconds", "uptime_in_days", "hz",
               "executable", "config_file"],
    "Clients": ["connected_clients", "maxclients", "blocked_clients"],
    "Memory": ["used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak",
               "maxmemory", "maxmemory_policy", "mem_allocator", "used_memory_overhead",
               "used_memory_dataset", "mem_fragmentation_bytes", "mem_clients_normal",
               "mem_clients_slaves", "used_memory_lua", "used_memory_scripts",
               "number_of_cached_scripts", "mem_not_counted_for_evict",
               "active_defrag_running", "lazyfree_pending_objects"],
    # The fields prometheus-redis-exporter reads: Obelisk gives them with its own meanings
    # (docs/operations.md), so the exporter finds every one.
    "Persistence": ["loading", "aof_enabled", "rdb_changes_since_last_save",
                    "rdb_last_save_time", "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
                    "rdb_current_bgsave_time_sec", "rdb_last_cow_size",
                    "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec",
                    "aof_last_bgrewrite_status", "aof_last_cow_size", "module_fork_in_progress",
                    "module_fork_last_cow_size"],
    "Stats": ["total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "total_net_input_bytes", "total_net_output_bytes",
              "rejected_connections", "total_error_replies", "sync_full", "sync_partial_ok",
              "sync_partial_err", "expired_stale_perc", "expired_time_cap_reached_count",
              "latest_fork_usec", "migrate_cached_sockets", "slave_expires_tracked_keys",
              "active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits",
              "active_defrag_key_misses", "tracking_total_keys", "tracking_total_items",
              "tracking_total_prefixes", "unexpected_error_replies",
              "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
              "io_threaded_reads_processed", "io_threaded_writes_processed"],
    "Replication": ["role", "connected_slaves", "master_replid", "master_repl_offset",
                    "repl_backlog_size", "repl_backlog_first_byte_offset", "repl_backlog_histlen"],
    "CPU": ["used_cpu_sys", "used_cpu_user"],
    "Cluster": ["cluster_enabled"],
}

# CLIENT LIST / CLIENT INFO fields whose values depend on the socket, timing or allocator.
CLIENT_VOLATILE = {"id", "addr", "laddr", "fd", "age", "idle", "qbuf", "qbuf-free", "argv-mem",
                   "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem"}


def _bulk(body, verbatim_prefix=None):
    if verbatim_prefix is not None:
        body = verbatim_prefix + body
        return b"=%d\r\n%s\r\n" % (len(body), body)
    return b"$%d\r\n%s\r\n" % (len(body), body)


def _rewrite_top_bulk(raw, fn):
    """Applies fn to the body of a top-level bulk ($) or verbatim (=) reply."""
    m = re.match(rb"^([$=])(\d+)\r\n", raw)
    if not m:
        return raw
    n = int(m.group(2))
    body = raw[m.end():m.end() + n]
    if m.group(1) == b"=":
        return _bulk(fn(body[4:]), body[:4])
    return _bulk(fn(body))


def rule_time(raw):
    """TIME: both elements must be decimal; their values are masked."""
    return re.sub(rb"^\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n$", b"*2\r\n$4\r\nSECS\r\n$4\r\nUSEC\r\n",
                  raw)


def rule_int(raw):
    """An integer reply whose value differs by nature (CLIENT ID): masked, type kept."""
    return re.sub(rb"^:\d+\r\n$", b":<int>\r\n", raw)


def rule_hello(raw):
    """HELLO: the client id value is masked (both servers' id counters differ)."""
    return re.sub(rb"(\$2\r\nid\r\n):\d+\r\n", rb"\1:<id>\r\n", raw)


def _client_line(line, drop=()):
    out = []
    for f in line.split(b" "):
        k, _, v = f.partition(b"=")
        if k.decode(errors="replace") in drop:
            continue
        if k.decode(errors="replace") in CLIENT_VOLATILE:
            v = b"*"
        out.append(k + b"=" + v)
    return b" ".join(out)


def _client_body(body, drop=()):
    lines = body.split(b"\n")
    return b"\n".join(_client_line(l, drop) if l else l for l in lines)


def rule_client_fields(raw, drop=()):
    """CLIENT LIST / CLIENT INFO: values of CLIENT_VOLATILE fields are masked; names, order and
    the other values (name, flags, db, multi, cmd, user, resp, ...) still compare."""
    return _rewrite_top_bulk(raw, lambda b: _client_body(b, drop))


def rule_info(raw):
    """INFO: compared by section headers (in order) and by the presence of the fields listed
    in INFO_REQUIRED (values ignored). Fields outside that list are not compared here, and a
    "# Obelisk" section (Obelisk's own fields) is left out."""
    def fn(body):
        out = []
        section = None
        have = {}
        order = []
        for line in body.decode(errors="replace").split("\r\n"):
            if line.startswith("# "):
                section = line[2:]
                if section == "Obelisk":  # Obelisk's own section (design: INFO extras go there)
                    section = None
                    continue
                order.append(section)
                have[section] = set()
            elif ":" in line and section:
                have[section].add(line.split(":", 1)[0])
        for s in order:
            out.append("# " + s)
            for f in INFO_REQUIRED.get(s, []):
                out.append(f + (" present" if f in have[s] else " MISSING"))
        return "\n".join(out).encode()
    return _rewrite_top_bulk(raw, fn)


def rule_bulk_len(raw):
    """A bulk whose content differs by nature (e.g. a run id): only its type is kept."""
    return re.sub(rb"^\$\d+\r\n.*\r\n$", b"$<bulk>\r\n", raw, flags=re.S)


def rule_sort_pairs(raw):
    """A flat key/value array or a map whose pair order is not defined (Redis 7.0's CONFIG GET
    with several parameters follows its dict's randomly seeded hash order): pairs sorted by key."""
    from .resp import split_aggregate
    if raw[:1] not in (b"*", b"%") or raw.startswith(b"*-"):
        return raw
    head, el = split_aggregate(raw)
    pairs = sorted(zip(el[0::2], el[1::2]))
    return head + b"".join(k + v for k, v in pairs)


# Stream rules (stream scripts, random stream sequences).
def rule_stream_id(raw):
    """Stream IDs generated by the server (XADD with `*`, a time-based `ms-*`): every bulk that
    is an ID `<ms>-<seq>` is replaced by `<id>`, so the reply's shape (type, nesting, the other
    elements) still compares while the clock-dependent value does not."""
    return re.sub(rb"\$\d+\r\n\d+-\d+\r\n", b"$4\r\n<id>\r\n", raw)


def rule_xinfo_radix(raw):
    """XINFO STREAM [FULL]: the values of radix-tree-keys and radix-tree-nodes are masked (names,
    order and types kept). Redis's values depend on its internal radix tree; Obelisk's are
    documented stand-ins (ceil(length / stream-node-max-entries) and that + 1) that agree with
    Redis's in the common cases but not when deletions or partial node trims leave Redis's nodes
    partly filled."""
    return re.sub(rb"(\$15\r\nradix-tree-keys\r\n|\$16\r\nradix-tree-nodes\r\n):-?\d+\r\n",
                  rb"\1:<n>\r\n", raw)


def rule_sort_keys(raw):
    """KEYS / SCAN, whose order follows each server's hash table: the elements of a top-level
    array (KEYS) or of SCAN's second element (the cursor is still compared) are sorted."""
    from .resp import split_aggregate
    if raw[:1] != b"*" or raw.startswith(b"*-"):
        return raw
    head, el = split_aggregate(raw)
    if len(el) == 2 and el[0][:1] == b"$" and el[1][:1] == b"*" and not el[1].startswith(b"*-"):
        ihead, iel = split_aggregate(el[1])
        return head + el[0] + ihead + b"".join(sorted(iel))
    return head + b"".join(sorted(el))


# Consumer-group rules (group scripts, random group sequences). Each masks only a clock value.
_PEL4 = rb"(\*4\r\n\$\d+\r\n\d+-\d+\r\n\$(\d+)\r\n)"


def _mask_pel4(raw):
    """A 4-element PEL entry [id, consumer, <ms>, delivery-count]: the integer after the
    consumer name (idle ms in XPENDING, delivery time in XINFO STREAM FULL) is masked."""
    out, pos = [], 0
    for m in re.finditer(_PEL4, raw):
        if m.start() < pos:
            continue
        n = int(m.group(2))
        name_end = m.end() + n + 2
        t = re.match(rb":\d+\r\n(?=:\d+\r\n)", raw[name_end:])
        if not t:
            continue
        out.append(raw[pos:name_end] + b":<ms>\r\n")
        pos = name_end + t.end()
    out.append(raw[pos:])
    return b"".join(out)


def rule_xpending_idle(raw):
    """XPENDING extended: each entry's idle time is masked (the ID, consumer and delivery
    count still compare)."""
    return _mask_pel4(raw)


def rule_xinfo_idle(raw):
    """XINFO CONSUMERS: the value of each consumer's `idle` field is masked."""
    return re.sub(rb"(\$4\r\nidle\r\n):\d+\r\n", rb"\1:<ms>\r\n", raw)


def rule_xinfo_full_times(raw):
    """XINFO STREAM FULL groups: consumers' seen-time and the delivery-time of the group's
    PEL entries [id, consumer, time, count] and of the consumers' [id, time, count] are masked."""
    raw = re.sub(rb"(\$9\r\nseen-time\r\n):\d+\r\n", rb"\1:<ms>\r\n", raw)
    raw = _mask_pel4(raw)
    return re.sub(rb"(\*3\r\n\$\d+\r\n\d+-\d+\r\n):\d+\r\n(:\d+\r\n)", rb"\1:<ms>\r\n\2",
                  raw)


def rule_slowlog(raw):
    """SLOWLOG GET: each entry's id, unix time, duration and client address are masked; the
    arguments (cut and redacted as Redis does) and the client name still compare."""
    raw = re.sub(rb"\*6\r\n:\d+\r\n:\d+\r\n:\d+\r\n", b"*6\r\n:<id>\r\n:<time>\r\n:<us>\r\n", raw)
    return re.sub(rb"\$\d+\r\n127\.0\.0\.1:\d+\r\n", b"$6\r\n<peer>\r\n", raw)


def rule_latency(raw):
    """LATENCY LATEST / HISTORY: sample times and latencies are masked; the event names and the
    number and shape of the samples still compare."""
    raw = re.sub(rb"(\*4\r\n\$\d+\r\n[a-z-]+\r\n):\d+\r\n:\d+\r\n:\d+\r\n",
                 rb"\1:<time>\r\n:<ms>\r\n:<max>\r\n", raw)
    return re.sub(rb"\*2\r\n:\d+\r\n:\d+\r\n", b"*2\r\n:<time>\r\n:<ms>\r\n", raw)


def rule_monitor(raw):
    """A MONITOR line: its time and client address are masked; the database and the quoted
    arguments still compare."""
    return re.sub(rb"^\+\d+\.\d{6} \[(\d+) [^\]]+\]", rb"+<time> [\1 <addr>]", raw)


def rule_avg_ttl(raw):
    """INFO keyspace: avg_ttl= masked. Redis estimates it from its expiry cycle's samples (0 until
    a cycle has sampled the key); Obelisk counts it exactly. keys= and expires= still compare."""
    return _rewrite_top_bulk(raw, lambda b: re.sub(rb"avg_ttl=\d+", b"avg_ttl=<ms>", b))


RULES = {
    "avg-ttl": rule_avg_ttl,
    "monitor": rule_monitor,
    "slowlog": rule_slowlog,
    "latency": rule_latency,
    "sort-pairs": rule_sort_pairs,
    "time": rule_time,
    "int": rule_int,
    "hello": rule_hello,
    "client-fields": rule_client_fields,
    "info": rule_info,
    "bulk": rule_bulk_len,
    "stream-id": rule_stream_id,
    "xinfo-radix": rule_xinfo_radix,
    "sort-keys": rule_sort_keys,
    "xpending-idle": rule_xpending_idle,
    "xinfo-idle": rule_xinfo_idle,
    "xinfo-full-times": rule_xinfo_full_times,
}


# Rules only the allow-list can switch on: they hide a known, accepted difference everywhere.
def rule_client_lib_fields(raw):
    """Drops lib-name= and lib-ver= (Redis 7.2 fields, paired with CLIENT SETINFO) from CLIENT
    LIST/INFO bodies, so the remaining fields still compare with Redis 7.0."""
    if not re.match(rb"^[$=]\d+\r\n(txt:)?id=", raw):
        return raw
    return _rewrite_top_bulk(raw, lambda b: re.sub(rb" lib-name=[^ \n]* lib-ver=[^ \n]*", b"", b))


GLOBAL_RULES = {
    "client-lib-fields": rule_client_lib_fields,
}


def apply(names, raw):
    for n in names:
        raw = RULES[n](raw)
    return raw
