"""bench/syncprobe.py DIR - prints, in microseconds, the median time of 300 rounds of a 32 KiB
pwrite into a preallocated, synced file in DIR followed by fdatasync: the flush latency of
DIR's disk for a round of the write-ahead log (a P16 round of bench/replication.sh is about
that size). bench/replication.sh --replica-own-disk gives a replica on tmpfs that latency."""
import os
import statistics
import sys
import time

path = os.path.join(sys.argv[1], "syncprobe")
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
try:
    buf = b"x" * 32768
    os.pwrite(fd, bytes(300 * len(buf)), 0)
    os.fsync(fd)
    took = []
    for i in range(300):
        t0 = time.perf_counter()
        os.pwrite(fd, buf, i * len(buf))
        os.fdatasync(fd)
        took.append(time.perf_counter() - t0)
    print(int(statistics.median(took) * 1e6))
finally:
    os.close(fd)
    os.unlink(path)
