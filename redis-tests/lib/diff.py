"""The differential runner: plays script files against redis-server and obelisk-server over
raw sockets and compares the raw reply bytes of every command.

Script format (one step per line; see scripts/README.md):
  COMMAND arg "quoted arg" ...   sent as a RESP multibulk (redis-cli quoting), one reply read
  # ...                          comment
  @norm RULE[,RULE]              normalisation rules (lib/normalize.py) for the next reply only
  @conn NAME                     switch to connection NAME (opened on both servers on first use)
  @raw "bytes"                   send raw bytes (quoted like an argument), read one reply
  @send "bytes"                  send raw bytes, read nothing
  @recv                          send nothing, read one reply (a pub/sub message)
  @closed                        both servers must have closed the current connection
  @open                          both servers must keep the current connection open
  @let VAR [FIELD]               store the next reply per server (an integer, a bulk, or FIELD=
                                 taken from a CLIENT INFO body); later {VAR} in args expands
  @timeout SECS                  reply timeout for the next step

A reply that does not arrive is recorded as <timeout>, a closed connection as <closed>.
Differences are accepted only through allowlist.txt:
  diff SCRIPT | COMMAND LINE | any|type | reason   the reply of that line may differ (type:
                                                   the RESP type byte must still match)
  rule NAME | reason                               enable a global rule of lib/normalize.py
"""
import os
import re

from . import normalize, resp

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Allowlist:
    def __init__(self, path=os.path.join(HERE, "allowlist.txt")):
        self.diffs = {}   # (script, line) -> [kind, reason, used]
        self.rules = {}   # name -> [reason, used]
        self.errors = []
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                parts = [p.strip() for p in line.split(" | ")]
                if parts[0].startswith("diff ") and len(parts) == 4 and parts[2] in ("any", "type") and parts[3]:
                    self.diffs[(parts[0][5:].strip(), parts[1])] = [parts[2], parts[3], False]
                elif parts[0].startswith("rule ") and len(parts) == 2 and parts[1]:
                    name = parts[0][5:].strip()
                    if name not in normalize.GLOBAL_RULES:
                        self.errors.append(f"allowlist.txt:{n}: unknown rule {name}")
                    self.rules[name] = [parts[1], False]
                else:
                    self.errors.append(f"allowlist.txt:{n}: malformed line: {line}")


def _global(allow, raw):
    for name, ent in allow.rules.items():
        fn = normalize.GLOBAL_RULES.get(name)
        if fn:
            new = fn(raw)
            if new != raw:
                ent[1] = True
            raw = new
    return raw


def _show(raw, other=None):
    """The reply for a diagnostic; a long one is cut around its first difference from other."""
    if isinstance(raw, str):
        return raw
    if len(raw) <= 400:
        return repr(raw)
    at = 0
    if isinstance(other, bytes):
        while at < min(len(raw), len(other)) and raw[at] == other[at]:
            at += 1
    lo = max(0, at - 150)
    return f"({len(raw)} bytes, first difference at byte {at}) ...{raw[lo:lo + 400]!r}..."


class Side:
    """The state of one server while a script runs: its connections and variables."""

    def __init__(self, server):
        self.server = server
        self.conns = {}
        self.vars = {}

    def conn(self, name):
        if name not in self.conns:
            self.conns[name] = resp.Conn(self.server.port)
        return self.conns[name]

    def close_all(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}

    def expand(self, args):
        out = []
        for a in args:
            for k, v in self.vars.items():
                a = a.replace(b"{" + k.encode() + b"}", v)
            out.append(a)
        return out


def _read(conn, timeout):
    try:
        return conn.read_reply(timeout)
    except resp.Timeout:
        return "<timeout>"
    except resp.Closed as e:
        return "<closed>" if not e.partial else "<closed after partial %r>" % e.partial


def _let(raw, field):
    if isinstance(raw, str):
        return b""
    try:
        v = resp.decode(raw)
    except Exception:
        return b""
    if field:
        m = re.search(rb"(?:^|[ :])" + field.encode() + rb"=(\S*)", v if isinstance(v, bytes) else b"")
        return m.group(1) if m else b""
    return str(v).encode() if isinstance(v, int) else (v if isinstance(v, bytes) else str(v).encode())


def run_script(tap, path, redis, obelisk, allow, name=None):
    """Plays one script; one TAP line per command and per @closed/@open check."""
    name = name or os.path.relpath(path, os.path.join(HERE, "scripts"))
    sides = [Side(redis), Side(obelisk)]
    cur = "main"
    norm, let, timeout = [], None, 5.0
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    try:
        for lineno, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{name}:{lineno}"
            if text.startswith("@"):
                word, _, rest = text.partition(" ")
                rest = rest.strip()
                if word == "@norm":
                    norm = [r.strip() for r in rest.split(",") if r.strip()]
                    unknown = [r for r in norm if r not in normalize.RULES]
                    if unknown:
                        tap.ok(False, f"{where} unknown normalisation rule {unknown}")
                        norm = []
                    continue
                if word == "@conn":
                    cur = rest
                    continue
                if word == "@let":
                    let = rest.split()
                    continue
                if word == "@timeout":
                    timeout = float(rest)
                    continue
                if word in ("@closed", "@open"):
                    want = word == "@closed"
                    states = [s.conn(cur).is_closed(wait=2.0 if want else 0.3) for s in sides]
                    tap.ok(states == [want, want], f"{where} {text} ({cur})",
                           f"redis closed={states[0]} obelisk closed={states[1]}")
                    if want:
                        for s in sides:
                            s.conns.pop(cur).close()
                    continue
                if word in ("@raw", "@send"):
                    data = b"".join(resp.split_args(rest))
                    payloads = [data, data]
                elif word == "@recv":
                    payloads = [None, None]
                else:
                    tap.ok(False, f"{where} unknown directive {word}")
                    continue
            else:
                args = resp.split_args(text)
                payloads = [resp.encode(*s.expand(args)) for s in sides]
                word = None
            replies = []
            for s, p in zip(sides, payloads):
                c = s.conn(cur)
                try:
                    if p is not None:
                        c.send(p)
                except OSError:
                    replies.append("<send failed>")
                    continue
                replies.append(None if word == "@send" else _read(c, timeout))
            if word == "@send":
                norm, let, timeout = [], None, 5.0
                continue
            if let:
                for s, r in zip(sides, replies):
                    s.vars[let[0]] = _let(r, let[1] if len(let) > 1 else None)
            shown = [normalize.apply(norm, _global(allow, r)) if isinstance(r, bytes) else r
                     for r in replies]
            desc = f"{where} {text}" + (f"  [norm {','.join(norm)}]" if norm else "")
            if shown[0] == shown[1]:
                tap.ok(True, desc)
            else:
                ent = allow.diffs.get((name, text))
                if ent and (ent[0] == "any" or (isinstance(shown[0], bytes) and isinstance(shown[1], bytes)
                                                and shown[0][:1] == shown[1][:1])):
                    ent[2] = True
                    tap.ok(True, desc + f"  (allowed difference: {ent[1]})")
                else:
                    tap.ok(False, desc, f"redis:   {_show(shown[0], shown[1])}\nobelisk: {_show(shown[1], shown[0])}")
            norm, let, timeout = [], None, 5.0
    finally:
        for s in sides:
            s.close_all()


def check_allowlist(tap, allow, scripts, rules):
    """Every allow-list entry must be well formed and still needed by a script that ran."""
    for e in allow.errors:
        tap.ok(False, e)
    for (script, line), ent in allow.diffs.items():
        if script in scripts:
            tap.ok(ent[2], f"allow-list entry still needed: {script} | {line}",
                   "this difference no longer occurs: remove the entry")
    for name, ent in allow.rules.items() if rules else ():
        tap.ok(ent[1], f"allow-list rule still needed: {name}",
               "no reply was changed by this rule: remove the entry")


def run_dir(tap, subdir, redis, obelisk, allow):
    d = os.path.join(HERE, "scripts", subdir)
    names = sorted(f for f in os.listdir(d) if f.endswith(".txt"))
    tap.ok(len(names) > 0, f"scripts found in scripts/{subdir}")
    ran = []
    for f in names:
        rel = f"{subdir}/{f}"
        ran.append(rel)
        run_script(tap, os.path.join(d, f), redis, obelisk, allow, rel)
    return ran
