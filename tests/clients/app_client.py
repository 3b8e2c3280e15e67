"""What Python applications do with transactions, scripts and pub/sub,
unmodified redis-py against keyloop (keys on every worker): transactional
pipelines, WATCH retry loops from threads, register_script (EVALSHA with
EVAL on NOSCRIPT), redis-py's Lock (Lua scripts), pubsub.
    python3 app_client.py PORT      prints "ok" when every check held
"""
import sys
import threading

import redis

port = int(sys.argv[1])
r = redis.Redis(port=port, decode_responses=True)

pipe = r.pipeline(transaction=True)
pipe.set("py:a", 1).incr("py:a").mset({"py:x": 1, "py:y": 2}).mget("py:a", "py:x", "py:y")
assert pipe.execute() == [True, 2, True, ["2", "1", "2"]]


def increment(times):
    c = redis.Redis(port=port)
    with c.pipeline() as p:
        done = 0
        while done < times:
            try:
                p.watch("py:counter", "py:mirror")
                v = int(p.get("py:counter") or 0)
                p.multi()
                p.set("py:counter", v + 1)
                p.set("py:mirror", v + 1)
                p.execute()
                done += 1
            except redis.WatchError:
                continue


threads = [threading.Thread(target=increment, args=(25,)) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert r.get("py:counter") == "100" and r.get("py:mirror") == "100"

limiter = r.register_script("local n = redis.call('INCR', KEYS[1]) "
                            "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n")
assert limiter(keys=["py:rl"], args=[10000]) == 1
assert limiter(keys=["py:rl"], args=[10000]) == 2
r.script_flush()
assert limiter(keys=["py:rl"], args=[10000]) == 3  # NOSCRIPT, then EVAL

lock = r.lock("py:lock", timeout=10)
assert lock.acquire(blocking=False)
assert not r.lock("py:lock", timeout=10).acquire(blocking=False)
lock.release()
assert r.lock("py:lock", timeout=10).acquire(blocking=False)

sub = redis.Redis(port=port, decode_responses=True).pubsub()
sub.subscribe("py:news")
assert sub.get_message(timeout=5)["type"] == "subscribe"
for i in range(10):
    assert r.publish("py:news", f"m{i}") == 1
got = [sub.get_message(timeout=5)["data"] for _ in range(10)]
assert got == [f"m{i}" for i in range(10)], got
sub.close()
print("ok")
