"""A job queue the way Python applications (RQ, Celery's Redis broker) run
one, unmodified redis-py against keyloop: workers block in BRPOP while a
producer LPUSHes to queues on every worker, and delayed jobs wait in a
sorted set until ZRANGEBYSCORE finds them due.
    python3 queue_client.py PORT
Prints "ok" when every job arrived exactly once, in order per queue."""
import sys
import threading

import redis

port = int(sys.argv[1])
queues = ["py:q:a", "py:q:b", "py:q:c", "py:q:d"]
jobs = 20
received = {q: [] for q in queues}
errors = []


def consume(q):
    r = redis.Redis(port=port, decode_responses=True)
    for n in range(jobs):
        got = r.brpop(q, timeout=5)
        if got is None:
            errors.append(f"{q}: job {n} never came")
            return
        received[q].append(got[1])


threads = [threading.Thread(target=consume, args=(q,)) for q in queues]
for t in threads:
    t.start()
producer = redis.Redis(port=port, decode_responses=True)
for n in range(jobs):
    for q in queues:
        producer.lpush(q, f"{q}#{n}")
for t in threads:
    t.join(30)
assert not errors, errors
for q in queues:
    assert received[q] == [f"{q}#{n}" for n in range(jobs)], (q, received[q])
    assert producer.llen(q) == 0
producer.zadd("py:delayed", {f"job{n}": 1000 + n * 10 for n in range(10)})
due = producer.zrangebyscore("py:delayed", "-inf", 1045)
assert due == ["job0", "job1", "job2", "job3", "job4"], due
assert producer.zrem("py:delayed", *due) == 5
assert producer.zrangebyscore("py:delayed", "-inf", 1045) == []
assert producer.zscore("py:delayed", "job9") == 1090.0
print("ok")
