"""Probes the type benchmarks share: a minimal pipelining RESP client,
loading values of each kind, bytes per element on fresh servers, and how
long the loop stalls while a big value is deleted, unlinked or handed
over in a reload (the worst PING of a probing client, and keyloop's
event-loop lag histogram)."""
import os
import platform
import statistics
import socket
import subprocess
import threading
import time

from harness import benchmark, report
from harness.servers import ROOT, scrape, start_keyloop, start_redis


def encode(*args):
    """One command in RESP."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Connection:
    """A minimal pipelining RESP client (no dependency beyond the stdlib)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buffer = b""

    def send(self, *commands):
        self.sock.sendall(b"".join(encode(*args) for args in commands))

    def _line(self):
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(1 << 16)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return rest
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buffer) < n + 2:
                self.buffer += self.sock.recv(1 << 16)
            data, self.buffer = self.buffer[:n], self.buffer[n + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(max(0, int(rest)))]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.send(args)
        return self.reply()

    def close(self):
        self.sock.close()


# How each kind of value is built, `members` at a time.
COMMANDS = {
    "hash": lambda key, ms: ["HSET", key] + [x for i in ms for x in (f"field:{i}", f"value:{i}")],
    "intset": lambda key, ms: ["SADD", key] + [str(i) for i in ms],
    "strset": lambda key, ms: ["SADD", key] + [f"member:{i}" for i in ms],
    "list": lambda key, ms: ["RPUSH", key] + [f"element:{i}" for i in ms],
    "zset": lambda key, ms: ["ZADD", key] + [x for i in ms for x in (str(i * 3 % 100_003), f"member:{i}")],
}
LENGTH = {"hash": "HLEN", "intset": "SCARD", "strset": "SCARD", "list": "LLEN", "zset": "ZCARD", "stream": "XLEN"}


def stream_entry(i):
    """A 10-field event as services log them: names, small integers, a timestamp, short strings."""
    return ["event", "click", "user", f"u{i % 5000}", "page", f"/p/{i % 300}", "ts", str(1_700_000_000_000 + i),
            "n", str(i % 97), "ref", "direct", "agent", "Mozilla/5.0", "country", "de", "price", str(i % 10_000),
            "session", f"s{i // 10}"]


def send_pipelined(port, commands):
    """Sends `commands` over one connection, 64 in flight at most."""
    c = Connection(port)
    pending = 0
    for args in commands:
        c.send(args)
        pending += 1
        if pending == 64:
            for _ in range(pending):
                c.reply()
            pending = 0
    for _ in range(pending):
        c.reply()
    c.close()


def load(port, kind, elements, keys, prefix="k"):
    """`keys` values of `elements` each, in commands of at most 1000 (a stream: one XADD per entry)."""
    if kind == "stream":
        return send_pipelined(port, (["XADD", f"{prefix}:{k}", f"{i + 1}-0", *stream_entry(i)]
                                     for k in range(keys) for i in range(elements)))
    send_pipelined(port, (COMMANDS[kind](f"{prefix}:{k}", range(start, min(elements, start + 1000)))
                          for k in range(keys) for start in range(0, elements, 1000)))


def bytes_per_element(start, kind, elements, keys):
    server = start()
    try:
        time.sleep(0.3)
        used0, rss0 = server.used_memory(), server.rss_bytes()
        load(server.port, kind, elements, keys)
        time.sleep(0.5)  # the loading connection's buffers are gone
        used1, rss1 = server.used_memory(), server.rss_bytes()
        n = elements * keys
        return (used1 - used0) / n, (rss1 - rss0) / n
    finally:
        server.stop()


def memory_table(kinds, sizes):
    rows = []
    for kind in kinds:
        for elements, keys in sizes:
            r = bytes_per_element(start_redis, kind, elements, keys)
            k = bytes_per_element(lambda: start_keyloop(1, metrics=False), kind, elements, keys)
            rows.append((kind, elements, keys, r, k))
    return rows


def worker_stats(c):
    """INFO workers as [(keys, commands)] by worker."""
    out = []
    for line in c.call("INFO", "workers").decode().splitlines():
        if line.startswith("worker") and "keys=" in line:
            fields = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
            out.append((int(fields["keys"]), int(fields["commands"])))
    return out


def worker_of_connection(c):
    before = worker_stats(c)
    for _ in range(200):
        c.call("PING")
    after = worker_stats(c)
    return max(range(len(after)), key=lambda w: after[w][1] - before[w][1])


def owner_of(c, key):
    before = worker_stats(c)
    c.call("SET", key, "x")
    after = worker_stats(c)
    c.call("DEL", key)
    return next(w for w in range(len(after)) if after[w][0] > before[w][0])


def blocked(c):
    for line in c.call("INFO", "clients").decode().splitlines():
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    return 0


def wake_latency(server, rounds, cross_worker, wait, wake):
    """p50/p99 (µs) from sending wake(key) to the reply of the wait(key) it
    wakes (BLPOP by RPUSH, XREAD BLOCK by XADD); with cross_worker the key
    lives on another worker than the waiting connection."""
    waiter, waker = Connection(server.port), Connection(server.port)
    key = "wake:0"
    if cross_worker:
        mine = worker_of_connection(waiter)
        key = next(k for k in (f"wake:{i}" for i in range(1000)) if owner_of(waker, k) != mine)
    samples = []
    for _ in range(rounds):
        waiter.send(wait(key))
        while blocked(waker) != 1:
            pass
        t = time.perf_counter()
        waker.send(wake(key))
        reply = waiter.reply()
        samples.append((time.perf_counter() - t) * 1e6)
        assert reply and key.encode() in (reply[0], reply[0][0] if isinstance(reply[0], list) else None), reply
        waker.reply()
    waiter.close()
    waker.close()
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def probe_worst_ping(port, stop):
    """The worst PING round trip (ms) until `stop` is set."""
    c = Connection(port)
    worst = 0.0
    while not stop.is_set():
        t = time.perf_counter()
        c.call("PING")
        worst = max(worst, (time.perf_counter() - t) * 1000)
    c.close()
    return worst


def stall_during(port, action):
    """Runs `action` while a client PINGs; returns (action ms, worst PING ms)."""
    stop = threading.Event()
    result = {}
    probe = threading.Thread(target=lambda: result.setdefault("worst", probe_worst_ping(port, stop)))
    probe.start()
    time.sleep(0.2)
    t = time.perf_counter()
    action()
    took = (time.perf_counter() - t) * 1000
    time.sleep(0.2)
    stop.set()
    probe.join()
    return took, result["worst"]


def lag_samples(server):
    """keyloop_event_loop_lag_seconds buckets summed over workers: {le: count}."""
    buckets = {}
    for series, value in scrape(server.metrics_port).items():
        if series.startswith("keyloop_event_loop_lag_seconds_bucket"):
            le = series.split('le="')[1].split('"')[0]
            buckets[le] = buckets.get(le, 0) + value
    return buckets


def worst_lag_ms(before, after):
    """The bound of the smallest bucket that holds every lag sample taken
    between the two scrapes (the worst loop lag is at most that)."""
    total = after["+Inf"] - before["+Inf"]
    for le in sorted((k for k in after if k != "+Inf"), key=float):
        if after[le] - before.get(le, 0) >= total:
            return float(le) * 1000
    return float("inf")


def stalls(members, kind):
    rows = {}
    for name, start in (("redis-server", start_redis), ("keyloop", lambda: start_keyloop(1))):
        for command in ("DEL", "UNLINK"):
            server = start()
            try:
                load(server.port, kind, members, 1, prefix="big")
                c = Connection(server.port)
                before = lag_samples(server) if server.metrics_port else None
                took, ping = stall_during(server.port, lambda: c.call(command, "big:0"))
                lag = worst_lag_ms(before, lag_samples(server)) if before else None
                rows[(name, command)] = (took, ping, lag)
                c.close()
            finally:
                server.stop()
    # keyloop's reload: 1 worker to 2, the 1M-member hash among them.
    server = start_keyloop(1, extra="pidfile: " + os.path.join(ROOT, "loadtest", "out", f"{kind}.pid") + "\n")
    try:
        load(server.port, kind, members, 1, prefix="big")
        before = lag_samples(server)
        with open(server.config) as f:
            text = f.read()
        with open(server.config, "w") as f:
            f.write(text.replace("workers: 1", "workers: 2"))
        reload = lambda: subprocess.run([os.path.join(ROOT, "build", "keyloop"), "-s", "reload", "-c", server.config],
                                        check=True, capture_output=True)
        took, ping = stall_during(server.port, reload)
        rows[("keyloop", "reload 1 -> 2 workers")] = (took, ping, worst_lag_ms(before, lag_samples(server)))
        assert Connection(server.port).call(LENGTH[kind], "big:0") == str(members).encode()
    finally:
        server.stop()
    return rows


def throughput(tests, requests, rounds, command=None):
    servers = [start_redis(), start_keyloop(1, metrics=False), start_keyloop(2, name="keyloop-w2", metrics=False)]
    runs = {}
    try:
        for _ in range(rounds):
            for pipeline in (1, 16):
                for test in tests:
                    n = requests if pipeline == 1 else requests * 4
                    for s in servers:
                        r = benchmark.measured(s, test, n, pipeline=pipeline)
                        runs.setdefault((test, pipeline, s.name), []).append(r)
    finally:
        for s in servers:
            s.stop()
    return {k: {f: statistics.median(r[f] for r in v) for f in ("rps", "cpu_us")} for k, v in runs.items()}


def throughput_rows(tput, tests):
    """The throughput table's rows: redis-server, 1 and 2 workers."""
    rows = []
    for pipeline in (1, 16):
        for test in tests:
            r, w1, w2 = (tput[(test, pipeline, n)] for n in ("redis-server", "keyloop-w1", "keyloop-w2"))
            rows.append(f"| {test.upper()} | {pipeline} | {r['rps']:,.0f} | {w1['rps']:,.0f} | {w2['rps']:,.0f} | "
                        f"{r['cpu_us']:.2f} | {w1['cpu_us']:.2f} | {w2['cpu_us']:.2f} | "
                        f"{report.ratio(w1['cpu_us'], r['cpu_us']):.2f} |")
    return rows


def memory_rows(memory):
    return [f"| {kind} | {elements:,} | {keys:,} | {r[0]:.1f} | {k[0]:.1f} | {report.ratio(k[0], r[0]):.2f} | "
            f"{r[1]:.1f} | {k[1]:.1f} | {report.ratio(k[1], r[1]):.2f} |" for kind, elements, keys, r, k in memory]


def stall_rows(stall):
    return [f"| {name} | {op} | {took:.1f} | {worst:.1f} | {'–' if lag is None else f'≤ {lag:g}'} |"
            for (name, op), (took, worst, lag) in stall.items()]


def header(name, quick, started):
    """A section's first lines: its title, the machine, the command."""
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    return [f"## {name}" + (" (--quick: sizes too small to judge)" if quick else ""), "",
            f"- Date: {time.strftime('%Y-%m-%d')}; machine: {os.cpu_count() or 1} CPUs, Linux {platform.release()}; "
            f"redis-server {version.removeprefix('v=')} (default config, no redis.conf); keyloop Release build; "
            f"whole run {time.time() - started:.0f} s",
            f"- Command: `{name}{' --quick' if quick else ''}`"]
