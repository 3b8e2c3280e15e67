#!/usr/bin/env python3
"""loadtest/types: hashes and sets against redis-server in one run.
redis-benchmark -t hset,sadd,spop at P=1 and P=16 (throughput and server
CPU per request, 1 worker and 2); bytes per element at 10, 100 and 100,000
elements for hashes, integer sets and string sets (used_memory and RSS,
each case on freshly started servers); and how long the loop stalls while
a 1M-member hash is deleted, unlinked and (keyloop) handed over in a
reload, seen as the worst PING round trip of a client probing meanwhile.
Writes the "loadtest/types" section of loadtest/RESULTS.md (loadtest/out/
with --quick)."""
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.servers import ROOT, scrape, start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/types: begin -->", "<!-- loadtest/types: end -->"
TESTS = ("hset", "sadd", "spop")


class Connection:
    """A minimal pipelining RESP client (no dependency beyond the stdlib)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buffer = b""

    def send(self, *commands):
        out = []
        for args in commands:
            out.append(b"*%d\r\n" % len(args))
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

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


def load(port, kind, elements, keys, prefix="k"):
    """`keys` values of `elements` each, in commands of at most 1000."""
    c = Connection(port)
    pending = 0
    for k in range(keys):
        for start in range(0, elements, 1000):
            members = range(start, min(elements, start + 1000))
            if kind == "hash":
                args = ["HSET", f"{prefix}:{k}"] + [x for i in members for x in (f"field:{i}", f"value:{i}")]
            elif kind == "intset":
                args = ["SADD", f"{prefix}:{k}"] + [str(i) for i in members]
            else:
                args = ["SADD", f"{prefix}:{k}"] + [f"member:{i}" for i in members]
            c.send(args)
            pending += 1
            if pending == 64:
                for _ in range(pending):
                    c.reply()
                pending = 0
    for _ in range(pending):
        c.reply()
    c.close()


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


def memory_table(sizes):
    rows = []
    for kind in ("hash", "intset", "strset"):
        for elements, keys in sizes:
            r = bytes_per_element(start_redis, kind, elements, keys)
            k = bytes_per_element(lambda: start_keyloop(1, metrics=False), kind, elements, keys)
            rows.append((kind, elements, keys, r, k))
    return rows


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


def stalls(members):
    rows = {}
    for name, start in (("redis-server", start_redis), ("keyloop", lambda: start_keyloop(1))):
        for command in ("DEL", "UNLINK"):
            server = start()
            try:
                load(server.port, "hash", members, 1, prefix="big")
                c = Connection(server.port)
                before = lag_samples(server) if server.metrics_port else None
                took, ping = stall_during(server.port, lambda: c.call(command, "big:0"))
                lag = worst_lag_ms(before, lag_samples(server)) if before else None
                rows[(name, command)] = (took, ping, lag)
                c.close()
            finally:
                server.stop()
    # keyloop's reload: 1 worker to 2, the 1M-member hash among them.
    server = start_keyloop(1, extra="pidfile: " + os.path.join(ROOT, "loadtest", "out", "types.pid") + "\n")
    try:
        load(server.port, "hash", members, 1, prefix="big")
        before = lag_samples(server)
        with open(server.config) as f:
            text = f.read()
        with open(server.config, "w") as f:
            f.write(text.replace("workers: 1", "workers: 2"))
        reload = lambda: subprocess.run([os.path.join(ROOT, "build", "keyloop"), "-s", "reload", "-c", server.config],
                                        check=True, capture_output=True)
        took, ping = stall_during(server.port, reload)
        rows[("keyloop", "reload 1 -> 2 workers")] = (took, ping, worst_lag_ms(before, lag_samples(server)))
        assert Connection(server.port).call("HLEN", "big:0") == str(members).encode()
    finally:
        server.stop()
    return rows


def throughput(requests, rounds):
    servers = [start_redis(), start_keyloop(1, metrics=False), start_keyloop(2, name="keyloop-w2", metrics=False)]
    runs = {}
    try:
        for _ in range(rounds):
            for pipeline in (1, 16):
                for test in TESTS:
                    n = requests if pipeline == 1 else requests * 4
                    for s in servers:
                        r = benchmark.measured(s, test, n, pipeline=pipeline)
                        runs.setdefault((test, pipeline, s.name), []).append(r)
    finally:
        for s in servers:
            s.stop()
    return {k: {f: statistics.median(r[f] for r in v) for f in ("rps", "cpu_us")} for k, v in runs.items()}


def section(tput, memory, stall, quick, started, sizes, members, requests, rounds):
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    cores = os.cpu_count() or 1
    md = [BEGIN, "", "## loadtest/types" + (" (--quick: sizes too small to judge)" if quick else ""), "",
          f"- Date: {time.strftime('%Y-%m-%d')}; machine: {cores} CPUs, Linux {platform.release()}; "
          f"redis-server {version.removeprefix('v=')} (default config, no redis.conf); keyloop Release build; "
          f"whole run {time.time() - started:.0f} s",
          f"- Command: `loadtest/types{' --quick' if quick else ''}`",
          "", "### redis-benchmark -t hset,sadd,spop", "",
          f"redis-benchmark -c 50 -r 100000, {requests:,} requests at P=1 and {requests * 4:,} at P=16, the "
          f"median of {rounds} runs; CPU = the server's processes' utime+stime per request. Each test works on "
          "one key (myhash, myset), so with 2 workers one of them owns it and half the requests are forwarded.", "",
          "| test | P | redis req/s | w1 req/s | w2 req/s | redis CPU µs | w1 CPU µs | w2 CPU µs | w1 / redis CPU |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for pipeline in (1, 16):
        for test in TESTS:
            r, w1, w2 = (tput[(test, pipeline, n)] for n in ("redis-server", "keyloop-w1", "keyloop-w2"))
            md.append(f"| {test.upper()} | {pipeline} | {r['rps']:,.0f} | {w1['rps']:,.0f} | {w2['rps']:,.0f} | "
                      f"{r['cpu_us']:.2f} | {w1['cpu_us']:.2f} | {w2['cpu_us']:.2f} | "
                      f"{report.ratio(w1['cpu_us'], r['cpu_us']):.2f} |")
    md += ["", "### Bytes per element", "",
           "Each case on freshly started servers (keyloop with 1 worker), loaded in commands of at most 1,000 "
           "elements over one connection that is closed before the second reading. Hashes: fields `field:N`, "
           "values `value:N`; integer sets: 0..N−1; string sets: `member:N`. keyloop's default thresholds are "
           "redis.conf's (hash-max-listpack-entries 128); the redis-server here runs without redis.conf "
           "(512), and keeps a small string set in a hash table (Redis 7.0 has no listpack sets).", "",
           "| value | elements | keys | redis used | keyloop used | used ratio | redis RSS | keyloop RSS | RSS ratio |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind, elements, keys, r, k in memory:
        md.append(f"| {kind} | {elements:,} | {keys:,} | {r[0]:.1f} | {k[0]:.1f} | {report.ratio(k[0], r[0]):.2f} | "
                  f"{r[1]:.1f} | {k[1]:.1f} | {report.ratio(k[1], r[1]):.2f} |")
    md += ["", f"### The loop while a {members:,}-field hash goes", "",
           "The command's own time; the worst PING round trip of another client meanwhile (during a reload "
           "that includes its connection's move to the new workers); and for keyloop the worst event-loop lag "
           "of any worker meanwhile, from keyloop_event_loop_lag_seconds (the bound of the smallest histogram "
           "bucket that holds every sample).", "",
           "| server | operation | took (ms) | worst PING meanwhile (ms) | worst loop lag (ms) |",
           "|---|---|---:|---:|---:|"]
    for (name, op), (took, worst, lag) in stall.items():
        md.append(f"| {name} | {op} | {took:.1f} | {worst:.1f} | {'–' if lag is None else f'≤ {lag:g}'} |")
    md += ["", END]
    return "\n".join(md)


def main():
    quick = "--quick" in sys.argv
    started = time.time()
    os.makedirs(os.path.join(ROOT, "loadtest", "out"), exist_ok=True)
    sizes = [(10, 2000), (100, 200), (100_000, 1)] if quick else [(10, 20_000), (100, 2_000), (100_000, 2)]
    members = 50_000 if quick else 1_000_000
    requests, rounds = (20_000, 1) if quick else (200_000, 3)
    tput = throughput(requests, rounds)
    memory = memory_table(sizes)
    stall = stalls(members)
    text = section(tput, memory, stall, quick, started, sizes, members, requests, rounds)
    report.replace_section(os.path.join(ROOT, "loadtest", "out" if quick else "", "RESULTS.md"), BEGIN, END, text)
    print(text)


if __name__ == "__main__":
    main()
