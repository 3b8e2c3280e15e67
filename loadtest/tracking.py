#!/usr/bin/env python3
"""loadtest/tracking: what client-side caching costs the server, against redis-server in the same run.

GET P=16 over 50 connections (two client processes), every key present, with CLIENT
TRACKING on (HELLO 3: the server remembers every key each connection reads) and without,
rounds alternating on the same server so drift cancels; over 1,000 hot keys (after the
first round, what each connection reads is remembered already: the cost is looking it up)
and over 100,000 (most reads add an entry: the table grows). redis-benchmark
cannot turn tracking on for its connections, so a small pipelining client of our own drives
both kinds of rounds. CPU = the server's processes' utime+stime per request. Target:
tracking on costs ≤ 1.15× off. Writes the "loadtest/tracking" section of loadtest/RESULTS.md
(loadtest/out/ with --quick)."""
import multiprocessing
import os
import random
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import report  # noqa: E402
from harness.probes import header  # noqa: E402
from harness.servers import start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/tracking: begin -->", "<!-- loadtest/tracking: end -->"
SERVERS = (("redis-server", start_redis),
           ("keyloop-w1", lambda: start_keyloop(1, metrics=False)),
           ("keyloop-w2", lambda: start_keyloop(2, name="keyloop-w2", metrics=False)))
KEYS, VALUE, PIPELINE, CONNECTIONS, PROCESSES = 100_000, b"xxx", 16, 50, 2
KEYSETS = (1_000, 100_000)  # the keys the GETs pick from (key:0 … key:N-1)
REPLY = b"$3\r\nxxx\r\n"  # every GET's (every key is there, RESP2 and RESP3 alike)


def command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def read_until(sock, marker):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    return data


def fill(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        for start in range(0, KEYS, 1000):
            s.sendall(b"".join(command(b"SET", b"key:%d" % i, VALUE) for i in range(start, start + 1000)))
            got = 0
            while got < 1000 * 5:
                got += len(s.recv(65536))


def drive(port, connections, requests, tracking, seed, keys):
    """One client process: `connections` connections sending GET batches of PIPELINE until
    `requests` replies came back in all."""
    rng = random.Random(seed)
    socks = []
    for _ in range(connections):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tracking:
            s.sendall(command(b"HELLO", b"3") + command(b"CLIENT", b"TRACKING", b"on") + command(b"PING"))
            read_until(s, b"+PONG\r\n")
        socks.append(s)
    per = requests // (connections * PIPELINE)
    batch_bytes = PIPELINE * len(REPLY)
    for _ in range(per):
        for s in socks:
            s.sendall(b"".join(command(b"GET", b"key:%d" % rng.randrange(keys)) for _ in range(PIPELINE)))
        for s in socks:
            got = 0
            while got < batch_bytes:
                chunk = s.recv(batch_bytes - got)
                if not chunk:
                    raise RuntimeError("connection closed")
                got += len(chunk)
    for s in socks:
        s.close()
    return per * connections * PIPELINE


def measured(server, requests, tracking, keys):
    """(CPU µs per request, req/s) of one round."""
    cpu0, t0 = server.cpu_seconds(), time.time()
    with multiprocessing.Pool(PROCESSES) as pool:
        done = sum(pool.starmap(drive, [(server.port, CONNECTIONS // PROCESSES, requests // PROCESSES, tracking, p, keys)
                                        for p in range(PROCESSES)]))
    elapsed = time.time() - t0
    return (server.cpu_seconds() - cpu0) / done * 1e6, done / elapsed


def measure(quick):
    requests, rounds = (80_000, 1) if quick else (1_600_000, 5)
    rows = {}
    for name, start in SERVERS:
        server = start()
        try:
            for keys in KEYSETS:
                server.cli("flushall")  # an empty tracking table too: each keyset starts alike
                fill(server.port)
                runs = {False: [], True: []}
                for _ in range(rounds):
                    for tracking, into in runs.items():
                        into.append(measured(server, requests, tracking, keys))
                info = server.cli("info", "stats")
                items = next((line.split(":")[1] for line in info.splitlines()
                              if line.startswith("tracking_total_items")), "?")
                rows[(name, keys)] = {t: (statistics.median(c for c, _ in r), statistics.median(q for _, q in r))
                                      for t, r in runs.items()}
                rows[(name, keys)]["items"] = items.strip()
        finally:
            server.stop()
    return {"rows": rows, "requests": requests, "rounds": rounds},


def section(m, quick, started):
    md = [BEGIN, "", *header("loadtest/tracking", quick, started), "",
          "### GET P=16 with CLIENT TRACKING on vs off", "",
          f"{CONNECTIONS} connections in {PROCESSES} client processes (loadtest/tracking.py's own pipelining client: "
          f"redis-benchmark cannot turn tracking on), {m['requests']:,} GETs per round of keys that are all "
          f"present, P={PIPELINE}; the median of {m['rounds']} rounds, off and on alternating on the same server. "
          "Tracking on: HELLO 3 and CLIENT TRACKING on, so the server remembers every key each connection reads "
          "(no key changes: the cost measured is remembering; every round's connections are new, and the ids "
          "of gone ones stay in the table until their keys change, as in Redis). CPU = the server's processes' "
          "utime+stime per request. Target: on ≤ 1.15× off.", "",
          "| keys read | server | off µs | on µs | on / off CPU | on CPU / redis-server's on | off req/s | on req/s "
          "| readers remembered at the end |",
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for keys in KEYSETS:
        redis_on = m["rows"][("redis-server", keys)][True][0]
        for name, _ in SERVERS:
            r = m["rows"][(name, keys)]
            (off_cpu, off_rps), (on_cpu, on_rps) = r[False], r[True]
            md.append(f"| {keys:,} | {name} | {off_cpu:.2f} | {on_cpu:.2f} | {report.ratio(on_cpu, off_cpu):.3f} | "
                      f"{report.ratio(on_cpu, redis_on):.2f} | {off_rps:,.0f} | {on_rps:,.0f} | {r['items']} |")
    md += ["", END]
    return "\n".join(md)


if __name__ == "__main__":
    report.measure_and_publish(measure, section, BEGIN, END)
