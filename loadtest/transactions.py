#!/usr/bin/env python3
"""loadtest/transactions: MULTI/EXEC, EVALSHA and PUBLISH fan-out against
redis-server in one run, each at P=1 and P=16, keyloop with 1 and 2
workers.

- MULTI/EXEC of 5 commands, its keys on one owner (a {hash tag}) and on two
  workers (keys chosen by their owner): transactions per second and the
  server's CPU per transaction, driven by client processes that pipeline P
  whole transactions.
- EVALSHA of a script that makes 3 calls (INCR, GET, EXPIRE on its key):
  redis-benchmark with a random key per call.
- PUBLISH to one channel with 1,000 subscribers spread over the workers
  (they connect like any client): messages delivered per second (until the
  last subscriber has the last message) and the server's CPU per delivered
  message.
Writes the "loadtest/transactions" section of loadtest/RESULTS.md
(loadtest/out/ with --quick)."""
import multiprocessing
import os
import selectors
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.probes import Connection, encode, header  # noqa: E402
from harness.servers import start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/transactions: begin -->", "<!-- loadtest/transactions: end -->"
SCRIPT = "redis.call('INCR', KEYS[1]) redis.call('GET', KEYS[1]) return redis.call('EXPIRE', KEYS[1], 100)"


def transaction(keys):
    """MULTI, 5 commands on `keys` (two of them), EXEC."""
    a, b = keys
    return b"".join([encode("MULTI"), encode("SET", a, "v"), encode("INCR", b), encode("GET", a),
                     encode("EXPIRE", b, 100), encode("GET", b), encode("EXEC")])


def drive(port, keys, count, pipeline, done):
    """One client: `count` transactions, `pipeline` in flight per write."""
    s = socket.create_connection(("127.0.0.1", port))
    batch = transaction(keys) * pipeline
    sent = 0
    while sent < count:
        s.sendall(batch)
        sent += pipeline
        seen, buffer = 0, b""
        # EXEC's reply is the only 5-element array in the stream.
        while seen < pipeline:
            buffer += s.recv(1 << 16)
            seen = buffer.count(b"*5\r\n")
    s.close()
    done.put(sent)


def owner_keys(port, two_workers):
    """Two keys on one owner ({tag}), or on two workers (found by INFO workers)."""
    if not two_workers:
        return (b"{t}:a", b"{t}:b")
    c = Connection(port)

    def owner(key):
        # INFO workers' key counts are sampled: wait for the new key to show.
        c.call("DEL", key)
        before = worker_keys(c)
        c.call("SET", key, "x")
        deadline = time.time() + 5
        while time.time() < deadline:
            after = worker_keys(c)
            grown = [w for w in range(len(after)) if after[w] > before[w]]
            if grown:
                break
            time.sleep(0.01)
        c.call("DEL", key)
        while worker_keys(c) != before and time.time() < deadline + 5:
            time.sleep(0.01)
        return grown[0]

    first = b"tx:0"
    o = owner(first)
    second = next(k for k in (b"tx:%d" % i for i in range(1, 1000)) if owner(k) != o)
    c.close()
    return (first, second)


def worker_keys(c):
    out = []
    for line in c.call("INFO", "workers").decode().splitlines():
        if line.startswith("worker") and "keys=" in line:
            out.append(int(dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))["keys"]))
    return out


def multi_exec(server, keys, transactions, pipeline, clients=4):
    cpu0 = server.cpu_seconds()
    done = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=drive, args=(server.port, keys, transactions // clients, pipeline, done))
             for _ in range(clients)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    total = sum(done.get() for _ in procs)
    elapsed = time.perf_counter() - t
    for p in procs:
        p.join()
    return {"rps": total / elapsed, "cpu_us": (server.cpu_seconds() - cpu0) / total * 1e6}


def subscriber_pool(port, count, messages, ready, done):
    """`count` subscribers in one process; reports when each has every message."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(encode("SUBSCRIBE", "fanout"))
        socks.append(s)
    # Each subscription's confirmation first.
    for s in socks:
        buffer = b""
        while b"subscribe" not in buffer or not buffer.endswith(b"\r\n"):
            buffer += s.recv(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [0, b""])  # messages seen, the last bytes read
    ready.put(count)
    remaining = count
    marker = b"message\r\n"
    while remaining:
        for key, _ in sel.select():
            # A marker may straddle two reads: look again at the previous read's tail.
            data = key.data[1] + key.fileobj.recv(1 << 16)
            key.data[0] += data.count(marker)
            key.data[1] = data[-(len(marker) - 1):]
            if key.data[0] >= messages:
                sel.unregister(key.fileobj)
                remaining -= 1
    for s in socks:
        s.close()
    done.put(count)


def fanout(server, subscribers, messages, pipeline, pools=4):
    ready, done = multiprocessing.Queue(), multiprocessing.Queue()
    procs = [multiprocessing.Process(target=subscriber_pool,
                                     args=(server.port, subscribers // pools, messages, ready, done))
             for _ in range(pools)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get()
    publisher = socket.create_connection(("127.0.0.1", server.port))
    c = Connection(server.port)
    while int(c.call("PUBSUB", "NUMSUB", "fanout")[1]) < subscribers:
        pass
    cpu0 = server.cpu_seconds()
    t = time.perf_counter()
    for start in range(0, messages, pipeline):
        n = min(pipeline, messages - start)
        publisher.sendall(b"".join(encode("PUBLISH", "fanout", f"message-{start + i}") for i in range(n)))
        buffer = b""
        while buffer.count(b"\r\n") < n:
            buffer += publisher.recv(1 << 16)
        assert buffer.count(b":%d\r\n" % subscribers) == n, buffer[:80]
    for _ in procs:
        done.get()
    elapsed = time.perf_counter() - t
    delivered = subscribers * messages
    cpu = server.cpu_seconds() - cpu0
    for p in procs:
        p.join()
    publisher.close()
    c.close()
    return {"rps": delivered / elapsed, "cpu_us": cpu / delivered * 1e6}


def evalsha(server, requests, pipeline, rounds):
    c = Connection(server.port)
    sha = c.call("SCRIPT", "LOAD", SCRIPT).decode()
    c.close()
    runs = [benchmark.measured(server, "", requests, pipeline=pipeline,
                               command=["EVALSHA", sha, "1", "key:__rand_int__"]) for _ in range(rounds)]
    return {f: statistics.median(r[f] for r in runs) for f in ("rps", "cpu_us")}


def measure(quick):
    transactions = 4_000 if quick else 40_000
    requests = 20_000 if quick else 100_000
    subscribers, messages = (200, 100) if quick else (1000, 500)
    rounds = 1 if quick else 3
    rows = {}
    for name, start in (("redis-server", start_redis), ("keyloop-w1", lambda: start_keyloop(1, metrics=False)),
                        ("keyloop-w2", lambda: start_keyloop(2, name="keyloop-w2", metrics=False))):
        server = start()
        try:
            spread_keys = owner_keys(server.port, True) if name == "keyloop-w2" else (b"tx:0", b"tx:1")
            for pipeline in (1, 16):
                for spread, label in ((False, "MULTI/EXEC, one owner"), (True, "MULTI/EXEC, two workers")):
                    # With redis-server and 1 worker both keys are local anyway.
                    keys = spread_keys if spread else owner_keys(server.port, False)
                    runs = [multi_exec(server, keys, transactions, pipeline) for _ in range(rounds)]
                    rows[(label, pipeline, name)] = {f: statistics.median(r[f] for r in runs) for f in ("rps", "cpu_us")}
                rows[("EVALSHA, 3 calls", pipeline, name)] = evalsha(server, requests * (4 if pipeline > 1 else 1),
                                                                     pipeline, rounds)
                runs = [fanout(server, subscribers, messages, pipeline) for _ in range(rounds)]
                rows[(f"PUBLISH to {subscribers:,} subscribers", pipeline, name)] = {
                    f: statistics.median(r[f] for r in runs) for f in ("rps", "cpu_us")}
        finally:
            server.stop()
    return rows, transactions, requests, subscribers, messages, rounds


def section(rows, quick, started, transactions, requests, subscribers, messages, rounds):
    tests = list(dict.fromkeys(k[0] for k in rows))
    md = [BEGIN, "", *header("loadtest/transactions", quick, started), "",
          f"The median of {rounds} runs. MULTI/EXEC: {transactions:,} transactions of 5 commands (SET, INCR, GET, "
          "EXPIRE, GET on two keys) from 4 client processes that pipeline P whole transactions; the two keys share "
          "a {hash tag} (one owner) or live on two workers (with 1 worker and redis-server both are local). "
          f"EVALSHA: redis-benchmark -c 50, {requests:,} requests at P=1 (×4 at P=16), a random key each. "
          f"PUBLISH: {messages:,} messages to {subscribers:,} subscribers (4 client processes), pipelined P at a "
          "time; the rate counts deliveries until the last subscriber has the last message. CPU = the server's "
          "processes' utime+stime per transaction, request or delivered message.", "",
          "| test | P | redis /s | w1 /s | w2 /s | redis CPU µs | w1 CPU µs | w2 CPU µs | w1 / redis CPU | w2 / redis CPU |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for pipeline in (1, 16):
        for test in tests:
            r, w1, w2 = (rows[(test, pipeline, n)] for n in ("redis-server", "keyloop-w1", "keyloop-w2"))
            md.append(f"| {test} | {pipeline} | {r['rps']:,.0f} | {w1['rps']:,.0f} | {w2['rps']:,.0f} | "
                      f"{r['cpu_us']:.2f} | {w1['cpu_us']:.2f} | {w2['cpu_us']:.2f} | "
                      f"{report.ratio(w1['cpu_us'], r['cpu_us']):.2f} | {report.ratio(w2['cpu_us'], r['cpu_us']):.2f} |")
    md += ["", END]
    return "\n".join(md)


if __name__ == "__main__":
    report.measure_and_publish(measure, section, BEGIN, END)
