"""redis-py's RedisCluster (Debian's python3-redis), unmodified, against
keyloop's cluster ports.

  redis_py_cluster.py PORT KEYS
      writes and checks KEYS keys (on an empty server); DBSIZE, summed
      over the primaries by the client, must count exactly them.
  redis_py_cluster.py PORT KEYS DIR
      the same (DBSIZE at least KEYS), then touches DIR/ready and keeps reading and writing, every
      reply checked, until DIR/stop appears (the test reloads keyloop
      meanwhile); then checks every key once more and prints how many
      masters the client sees.
"""
import os
import sys
import time

from redis.cluster import RedisCluster

port, keys = int(sys.argv[1]), int(sys.argv[2])
folder = sys.argv[3] if len(sys.argv) > 3 else None
rc = RedisCluster(host="127.0.0.1", port=port)

for i in range(keys):
    assert rc.set(f"py:{i}", f"value-{i}") is True
for i in range(keys):
    got = rc.get(f"py:{i}")
    assert got == f"value-{i}".encode(), (i, got)
# DBSIZE goes to one node unless asked for all primaries, which it sums.
# (A follower shares the server with other clients: at least its keys.)
total = rc.dbsize(target_nodes=RedisCluster.PRIMARIES)
assert total == keys if folder is None else total >= keys, total
rc.mset_nonatomic({"{py}a": "1", "{py}b": "2"})
assert rc.mget_nonatomic(["{py}a", "{py}b"]) == [b"1", b"2"]

if folder:
    open(os.path.join(folder, "ready"), "w").close()
    rounds = 0
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(folder, "stop")):
        assert time.monotonic() < deadline, "never told to stop"
        i = rounds % keys
        assert rc.incr(f"py:counter:{i}") == rounds // keys + 1, (rounds, i)
        got = rc.get(f"py:{i}")
        assert got == f"value-{i}".encode(), (i, got)
        rounds += 1
    for i in range(keys):
        got = rc.get(f"py:{i}")
        assert got == f"value-{i}".encode(), (i, got)
    print(f"rounds {rounds}")

masters = len(rc.get_primaries())
rc.close()
print(f"redis-py ok: {masters} masters")
