"""Raw RESP over a socket: encode commands, read exactly one complete RESP2/RESP3 reply and
return its raw bytes, decode raw bytes to Python values, and split command lines the way
redis-cli does (sdssplitargs quoting).
"""
import socket
import time


class RespError(Exception):
    pass


class Timeout(Exception):
    pass


class Closed(Exception):
    """The peer closed the connection; .partial holds bytes of an unfinished reply."""

    def __init__(self, partial=b""):
        super().__init__("connection closed")
        self.partial = partial


def encode(*args):
    """Encodes a command as a RESP multibulk; str args are UTF-8, bytes kept as is."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def split_args(line):
    """redis-cli's sdssplitargs: whitespace-separated words, "..." with \\n \\r \\t \\b \\a \\xHH
    escapes, '...' with only \\' escaped; a closing quote must be followed by a space."""
    out = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t\r\n\v\f":
            i += 1
        if i >= n:
            return out
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    raise ValueError("unbalanced quotes: " + line)
                c = line[i]
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and _ishex(line[i + 2:i + 4]):
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    cur += {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b",
                            "a": b"\a"}.get(line[i], line[i].encode())
                elif c == '"':
                    if i + 1 < n and line[i + 1] not in " \t\r\n\v\f":
                        raise ValueError("closing quote must be followed by a space: " + line)
                    i += 1
                    break
                else:
                    cur += c.encode()
            elif insq:
                if i >= n:
                    raise ValueError("unbalanced quotes: " + line)
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    i += 1
                    cur += b"'"
                elif c == "'":
                    if i + 1 < n and line[i + 1] not in " \t\r\n\v\f":
                        raise ValueError("closing quote must be followed by a space: " + line)
                    i += 1
                    break
                else:
                    cur += c.encode()
            else:
                if i >= n:
                    break
                c = line[i]
                if c in " \t\r\n\v\f":
                    break
                if c == '"':
                    inq = True
                elif c == "'":
                    insq = True
                else:
                    cur += c.encode()
            i += 1
        out.append(bytes(cur))


def _ishex(s):
    return len(s) == 2 and all(ch in "0123456789abcdefABCDEF" for ch in s)


class Conn:
    """One TCP connection that sends bytes and reads whole replies as raw bytes."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.closed = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.time()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            raise Closed(self.buf)
        self.buf += data

    def _line(self, pos, deadline):
        while True:
            j = self.buf.find(b"\r\n", pos)
            if j >= 0:
                return j
            self._fill(deadline)

    def _skip(self, pos, deadline):
        """Returns the position just after the complete reply that starts at pos."""
        while len(self.buf) <= pos:
            self._fill(deadline)
        t = self.buf[pos:pos + 1]
        j = self._line(pos, deadline)
        head = self.buf[pos + 1:j]
        end = j + 2
        if t in b"+-:_,#(":
            return end
        if t in b"$!=":
            n = int(head)
            if n < 0:
                return end
            while len(self.buf) < end + n + 2:
                self._fill(deadline)
            if self.buf[end + n:end + n + 2] != b"\r\n":
                raise RespError(f"bulk not terminated by CRLF at {end + n}")
            return end + n + 2
        if t in b"*~>%|":
            n = int(head)
            if t in b"%|":
                n *= 2
            for _ in range(max(n, 0)):
                end = self._skip(end, deadline)
            if t == b"|":  # an attribute precedes the real reply
                end = self._skip(end, deadline)
            return end
        raise RespError(f"unknown RESP type byte {t!r} in {self.buf[pos:pos + 40]!r}")

    def read_reply(self, timeout=None):
        """Raw bytes of exactly one complete reply. Raises Timeout or Closed."""
        deadline = time.time() + (timeout if timeout is not None else self.timeout)
        end = self._skip(0, deadline)
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw

    def call(self, *args, timeout=None):
        self.send(encode(*args))
        return self.read_reply(timeout)

    def is_closed(self, wait=2.0):
        """True if the peer closes the connection within `wait` seconds with no more bytes.
        Any further bytes (or a still-open socket) count as not closed."""
        if self.closed:
            return not self.buf
        if self.buf:
            return False
        deadline = time.time() + wait
        try:
            self._fill(deadline)
        except Closed:
            return True
        except Timeout:
            return False
        return False


def call_each(conns, args, timeout=10):
    """Sends one command to every connection; a timeout or a closed connection becomes the
    reply b"<Timeout>" / b"<Closed>", so differential tests can compare it like any reply."""
    replies = []
    for c in conns:
        try:
            replies.append(c.call(*args, timeout=timeout))
        except (Timeout, Closed) as e:
            replies.append(f"<{type(e).__name__}>".encode())
    return replies


def decode(raw):
    """Decodes one raw reply into Python values: str for simple strings, bytes for bulks,
    RespErrorValue for errors, int, float, None, list, dict, set (as list), Verbatim."""
    val, pos = _decode(raw, 0)
    if pos != len(raw):
        raise RespError("trailing bytes after reply")
    return val


class ErrorReply(str):
    pass


def _decode(raw, pos):
    t = raw[pos:pos + 1]
    j = raw.index(b"\r\n", pos)
    head = raw[pos + 1:j]
    end = j + 2
    if t == b"+":
        return head.decode(), end
    if t == b"-":
        return ErrorReply(head.decode()), end
    if t == b":":
        return int(head), end
    if t == b"_":
        return None, end
    if t == b",":
        return float(head), end
    if t == b"#":
        return head == b"t", end
    if t == b"(":
        return int(head), end
    if t in b"$!=":
        n = int(head)
        if n < 0:
            return None, end
        return raw[end:end + n], end + n + 2
    if t in b"*~>":
        n = int(head)
        if n < 0:
            return None, end
        out = []
        for _ in range(n):
            v, end = _decode(raw, end)
            out.append(v)
        return out, end
    if t in b"%|":
        n = int(head)
        d = {}
        for _ in range(n):
            k, end = _decode(raw, end)
            v, end = _decode(raw, end)
            d[k if not isinstance(k, list) else tuple(k)] = v
        if t == b"|":
            return _decode(raw, end)
        return d, end
    raise RespError(f"bad type {t!r}")


def split_aggregate(raw):
    """For one raw aggregate reply (* % ~ >) returns (header bytes, [raw element bytes]); for a
    map the elements are the keys and values in order."""
    c = Conn.__new__(Conn)
    c.buf, c.closed = raw, True
    j = raw.index(b"\r\n")
    n = int(raw[1:j])
    if raw[:1] == b"%":
        n *= 2
    pos, out = j + 2, []
    for _ in range(max(n, 0)):
        end = c._skip(pos, 0)
        out.append(raw[pos:end])
        pos = end
    return raw[:j + 2], out
