#!/usr/bin/python3
"""bench/events.py - realistic stream events for the compression benchmark, from a seed.

Writes N XADD commands in RESP to stdout (for `redis-cli --pipe`, or for `xaddw -e FILE`):

    XADD <key> <id> type <event type> user_id <user> payload <JSON>

The JSON is what web and app analytics send: an event id (random, so incompressible), the
user and session, the event type, a product URL with tracking parameters, a referrer, one of a
few user agents, an IP address, an ISO timestamp that advances a few ms per event, and a few
properties. <id> is `<n>-1` for n = 1..N with --ids (the same entries in every server, and
XRANGE can start anywhere with a number), `*` otherwise.

    bench/events.py --count N [--key ev] [--seed 1] [--ids]
"""
import argparse
import json
import random
import sys

TYPES = ["page_view"] * 6 + ["click"] * 3 + ["add_to_cart", "search", "purchase", "login"]
CATEGORIES = ["shoes", "jackets", "bags", "watches", "shirts", "kitchen", "garden", "toys"]
WORDS = ["classic", "leather", "running", "summer", "pro", "lite", "vintage", "smart", "eco",
         "travel", "mini", "max", "soft", "urban", "trail", "studio"]
SOURCES = ["google", "newsletter", "facebook", "instagram", "direct", "bing", "partner"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.6045.163 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
]


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--key", default="ev")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ids", action="store_true")
    o = ap.parse_args()
    rnd = random.Random(o.seed)
    users = ["u%06d" % rnd.randrange(1000000) for _ in range(5000)]
    sessions = {}
    ts = 1764500000000
    out = sys.stdout.buffer
    for n in range(1, o.count + 1):
        ts += rnd.randrange(1, 8)
        user = rnd.choice(users)
        if user not in sessions or rnd.random() < 0.05:
            sessions[user] = "%016x" % rnd.getrandbits(64)
        cat = rnd.choice(CATEGORIES)
        slug = "-".join(rnd.sample(WORDS, 2))
        product = rnd.randrange(1, 20000)
        kind = rnd.choice(TYPES)
        secs, ms = divmod(ts, 1000)
        event = {
            "event_id": "%032x" % rnd.getrandbits(128),
            "user_id": user,
            "session_id": sessions[user],
            "type": kind,
            "url": "https://shop.example.com/%s/%s-%d?utm_source=%s&utm_medium=cpc" %
                   (cat, slug, product, rnd.choice(SOURCES)),
            "referrer": "https://shop.example.com/%s" % rnd.choice(CATEGORIES),
            "user_agent": rnd.choice(AGENTS),
            "ip": "%d.%d.%d.%d" % (rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256),
                                   rnd.randrange(1, 255)),
            "ts": "2026-11-30T%02d:%02d:%02d.%03dZ" % (secs // 3600 % 24, secs // 60 % 60,
                                                       secs % 60, ms),
            "props": {"product_id": product, "price": round(rnd.uniform(5, 400), 2),
                      "currency": "EUR", "qty": rnd.randrange(1, 4)},
        }
        eid = "%d-1" % n if o.ids else "*"
        out.write(resp(["XADD", o.key, eid, "type", kind, "user_id", user, "payload",
                        json.dumps(event, separators=(",", ":"))]))


if __name__ == "__main__":
    main()
