"""Consumer groups the way Python services use streams as a durable queue,
unmodified redis-py against keyloop: a producer XADDs jobs to streams on
every worker, consumers on their own connections read them with
XREADGROUP BLOCK and XACK each, one consumer dies holding unacknowledged
jobs and a janitor takes them over with XAUTOCLAIM. Half-way the producer
sets py:phase to "half" and waits for py:reloaded (the test reloads keyloop
to another worker count meanwhile).
    python3 stream_client.py PORT
Prints "ok" when every job was processed exactly once and nothing is pending."""
import sys
import threading
import time

import redis

port = int(sys.argv[1])
streams = [f"py:s:{n}" for n in "abcd"]
jobs = 120  # per stream
processed = {}
lock = threading.Lock()
done = threading.Event()
errors = []


def record(consumer, stream, fields):
    with lock:
        processed.setdefault((stream, fields["job"]), []).append(consumer)


def consume(name, dies_after=None):
    c = redis.Redis(port=port, decode_responses=True, socket_timeout=30)
    seen = 0
    while True:
        got = c.xreadgroup("workers", name, {s: ">" for s in streams}, count=5, block=500)
        if not got:
            if done.is_set():
                return
            continue
        for stream, entries in got:
            for entry_id, fields in entries:
                seen += 1
                if dies_after is not None and seen > dies_after:
                    c.close()  # its connection goes with delivered, unacknowledged jobs
                    return
                record(name, stream, fields)
                c.xack(stream, "workers", entry_id)


r = redis.Redis(port=port, decode_responses=True, socket_timeout=30)
for s in streams:
    r.delete(s)
    r.xgroup_create(s, "workers", id="0", mkstream=True)
r.delete("py:phase", "py:reloaded")
threads = [threading.Thread(target=consume, args=(f"c{i}",)) for i in range(3)]
threads.append(threading.Thread(target=consume, args=("doomed", 7)))
for t in threads:
    t.start()
for n in range(jobs):
    if n == jobs // 2:
        r.set("py:phase", "half")
        deadline = time.time() + 60
        while not r.exists("py:reloaded") and time.time() < deadline:
            time.sleep(0.01)
        if not r.exists("py:reloaded"):
            errors.append("the reload never came")
    for s in streams:
        r.xadd(s, {"job": str(n), "payload": "x" * (n % 40)})
# Everything produced has been delivered once the groups read to the end.
deadline = time.time() + 60
while time.time() < deadline and any(g["lag"] != 0 for s in streams for g in r.xinfo_groups(s)):
    time.sleep(0.01)
done.set()
for t in threads:
    t.join(30)
# The janitor claims what the dead consumer held.
claimed = 0
for s in streams:
    start = "0-0"
    while True:
        start, entries, deleted = r.xautoclaim(s, "workers", "janitor", min_idle_time=0, start_id=start, count=10)
        assert not deleted, deleted
        for entry_id, fields in entries:
            record("janitor", s, fields)
            r.xack(s, "workers", entry_id)
            claimed += 1
        if start == "0-0":
            break
assert not errors, errors
assert 0 < claimed <= 5, claimed  # the doomed consumer's last read held at most a COUNT of them
for s in streams:
    assert r.xpending(s, "workers")["pending"] == 0, r.xpending(s, "workers")
    info = r.xinfo_groups(s)[0]
    assert info["entries-read"] == jobs and info["lag"] == 0, info
    for n in range(jobs):
        who = processed.get((s, str(n)))
        assert who is not None and len(who) == 1, (s, n, who)
print("ok")
