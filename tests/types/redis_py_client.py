# redis-py, unmodified, using hashes and sets on keyloop.
#   python3 redis_py_client.py PORT        prints "ok" when every reply is right
import sys

import redis

r = redis.Redis(port=int(sys.argv[1]), decode_responses=True)
r.hset('py:h', mapping={'a': '1', 'b': '2'})
assert r.hgetall('py:h') == {'a': '1', 'b': '2'}, r.hgetall('py:h')
assert r.hincrby('py:h', 'a', 5) == 6
r.sadd('py:s', 'x', 'y')
assert r.smembers('py:s') == {'x', 'y'}, r.smembers('py:s')
assert r.sinter('py:s', 'py:none') == set()
assert r.sismember('py:s', 'x')
print('ok')
