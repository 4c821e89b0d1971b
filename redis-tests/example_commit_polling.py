#!/usr/bin/python3
"""The commit-offset polling pattern with redis-py: a consumer that reads a stream from its
group's committed position, processes what it read, then commits the last ID it processed.

    /usr/bin/python3 redis-tests/example_commit_polling.py --port 6379 [--stream events]
        [--group billing] [--count 100] [--block-ms 1000] [--max N] [--idle-exit SECS]

This is Kafka's consumer loop on an Obelisk stream:

    position = XCOMMITTED key group          (nil: start from the beginning, 0-0)
    loop:
        XREAD COUNT n BLOCK t STREAMS key <position>
        process the entries
        XCOMMIT key group <last ID processed>  (+OK once the commit is durable)
        position = that ID

Unlike XREADGROUP there is no pending-entries list to maintain: the committed ID is the whole
state, so a consumer that restarts (or a new process taking over) carries on from the last
commit. Delivery is at-least-once: entries processed after the last commit (the process died
before committing) are read again. Rewind with `XCOMMIT key group <older id>`, reset with
`XCOMMIT key group 0-0`; `XLAG key group` shows how far behind the group is.

Each processed entry is printed as one line `processed <id> <field>=<value> ...`; the program
exits after --max entries or after --idle-exit seconds without new entries.
"""
import argparse
import sys
import time

import redis


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stream", default="events")
    ap.add_argument("--group", default="billing")
    ap.add_argument("--count", type=int, default=100, help="entries per XREAD")
    ap.add_argument("--block-ms", type=int, default=1000, help="XREAD BLOCK timeout")
    ap.add_argument("--max", type=int, default=0, help="stop after this many entries (0: never)")
    ap.add_argument("--idle-exit", type=float, default=0,
                    help="stop after this many seconds without new entries (0: never)")
    args = ap.parse_args()

    r = redis.Redis(host=args.host, port=args.port, decode_responses=True)

    # The group holds the committed position. Create it (and the stream) if it does not exist
    # yet; BUSYGROUP means another run already did.
    try:
        r.xgroup_create(args.stream, args.group, id="0", mkstream=True)
    except redis.ResponseError as e:
        if not str(e).startswith("BUSYGROUP"):
            raise

    # Where to start: the committed ID, or the beginning if the group never committed.
    position = r.execute_command("XCOMMITTED", args.stream, args.group) or "0-0"
    print(f"starting after {position}", flush=True)

    done = 0
    idle_since = time.monotonic()
    while not args.max or done < args.max:
        count = args.count if not args.max else min(args.count, args.max - done)
        # Plain XREAD from the position: entries with IDs above it, waiting up to block-ms.
        reply = r.xread({args.stream: position}, count=count, block=args.block_ms)
        if not reply:
            if args.idle_exit and time.monotonic() - idle_since >= args.idle_exit:
                break
            continue
        idle_since = time.monotonic()
        _key, entries = reply[0]
        for entry_id, fields in entries:
            # "Processing": here, print it. A real consumer does its work here, and should be
            # idempotent: after a crash, entries since the last commit come again.
            body = " ".join(f"{k}={v}" for k, v in fields.items())
            print(f"processed {entry_id} {body}", flush=True)
            done += 1
        # Commit after processing: +OK means the new position is durable on the server.
        last_id = entries[-1][0]
        r.execute_command("XCOMMIT", args.stream, args.group, last_id)
        position = last_id

    lag = r.execute_command("XLAG", args.stream, args.group)[0]
    info = dict(zip(lag[0::2], lag[1::2]))
    print(f"committed {info['committed']}, lag {info['lag']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
