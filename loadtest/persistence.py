#!/usr/bin/env python3
"""loadtest/persistence: snapshots and maxmemory against redis-server in one
run (keyloop with 2 workers).

- BGSAVE of 1M and 10M keys (16-byte values) while redis-benchmark
  overwrites random keys with 50 clients (P=16): how long the save takes,
  the peak RSS of all the server's processes during it against the RSS
  before (redis-server's fork copies the pages the writes touch), and the
  write throughput during the save against the throughput just before it.
- The load at start of the same dump.rdb: from the start of the process to
  DBSIZE answering every key.
- A cache at maxmemory: a Zipf(0.99) stream of GETs over 2M keys, a miss
  followed by a SET of the key (cache-aside), with 64 MB and allkeys-lru on
  both servers: the hit ratio once warm.
- CPU per SET with maxmemory off, and on at a limit the data never reaches
  (what the check costs), and on while evicting.
Writes the "loadtest/persistence" section of loadtest/RESULTS.md
(loadtest/out/ with --quick)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.probes import Connection, encode, header  # noqa: E402
from harness.servers import free_port, keyloop_in as keyloop, redis_in as redis  # noqa: E402

BEGIN, END = "<!-- loadtest/persistence: begin -->", "<!-- loadtest/persistence: end -->"


def fill(port, keys):
    """key:0..key:<keys-1>, 16-byte values, by MSETs of 1,000 keys, 16 in flight."""
    c = Connection(port)
    value = b"v" * 16
    batch = []
    for start in range(0, keys, 1000):
        args = ["MSET"]
        for i in range(start, min(keys, start + 1000)):
            args += [b"key:%012d" % i, value]  # redis-benchmark's names: its writes overwrite these
        batch.append(encode(*args))
        if len(batch) == 16:
            c.sock.sendall(b"".join(batch))
            for _ in batch:
                c.reply()
            batch = []
    if batch:
        c.sock.sendall(b"".join(batch))
        for _ in batch:
            c.reply()
    c.close()


def info_field(server, section, name):
    m = re.search(rf"^{name}:(\S+)", server.cli("info", section), re.M)
    return m.group(1) if m else ""


class Writer:
    """redis-benchmark overwriting random keys until stopped."""

    def __init__(self, port, keys):
        self.proc = subprocess.Popen(["redis-benchmark", "-p", str(port), "-c", "50", "-P", "16", "-l", "-q",
                                      "-r", str(keys), "-t", "set", "-d", "16"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def info_of(conn, section, name):
    """A field of INFO over an open connection (no redis-cli process per look)."""
    m = re.search(rb"^" + name.encode() + rb":(\S+)", conn.call("INFO", section), re.M)
    return m.group(1).decode() if m else ""


def commands(conn):
    """The server's total_commands_processed, and when it was read."""
    return int(info_of(conn, "stats", "total_commands_processed")), time.time()


def bgsave_under_writes(server, keys):
    """BGSAVE while a writer runs: seconds, RSS before and peak, throughput before and during."""
    conn = Connection(server.port)
    writer = Writer(server.port, keys)
    time.sleep(1)  # the writer at full speed
    c0, t0 = commands(conn)
    time.sleep(3)  # the baseline: writes per second before the save
    rss_before = server.rss_bytes()
    saves = info_of(conn, "persistence", "rdb_saves")
    c1, start = commands(conn)
    conn.call("BGSAVE")
    peak = rss_before
    while True:
        peak = max(peak, sum_rss(server))
        # redis-server counts rdb_saves when its child starts: both fields.
        info = conn.call("INFO", "persistence")
        if re.search(rb"^rdb_bgsave_in_progress:0", info, re.M) and \
                re.search(rb"^rdb_saves:(\d+)", info, re.M).group(1).decode() != saves:
            break
        time.sleep(0.02)
    c2, end = commands(conn)
    conn.close()
    writer.stop()
    return {"seconds": end - start, "rss_before": rss_before, "rss_peak": peak,
            "rps_before": (c1 - c0) / (start - t0), "rps_during": (c2 - c1) / (end - start),
            "status": info_field(server, "persistence", "rdb_last_bgsave_status")}


def sum_rss(server):
    try:
        return server.rss_bytes()  # the fork child of redis-server is one of its children
    except (OSError, AttributeError):
        return 0


def wait_for_keys(port, keys, deadline_s=600):
    start = time.time()
    while time.time() - start < deadline_s:
        try:
            out = subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True, text=True, timeout=5).stdout
            if out.strip() == str(keys):
                return time.time()
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.01)
    raise RuntimeError("the keys never all showed up")


def snapshots(keys):
    rows = {}
    for name, make in (("redis-server", redis), ("keyloop (2 workers)", keyloop)):
        dir = tempfile.mkdtemp(prefix="keyloop-bench-")
        server = make(dir)
        fill(server.port, keys)
        row = bgsave_under_writes(server, keys)
        row["file_mb"] = os.path.getsize(os.path.join(dir, "dump.rdb")) / 1e6
        server.stop()
        start = time.time()
        again = make(dir) if name.startswith("keyloop") else None
        if again is None:
            port = free_port()
            proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                     "--dir", dir], stdout=subprocess.DEVNULL)
            row["load_s"] = wait_for_keys(port, keys) - start
            proc.terminate()
            proc.wait()
        else:
            row["load_s"] = wait_for_keys(again.port, keys) - start
            again.stop()
        shutil.rmtree(dir)
        rows[name] = row
    return rows


def zipf_keys(count, universe, seed):
    """Ranks 0..universe-1 drawn with P(k) ~ 1/(k+1)^0.99, shuffled into key names."""
    rng = numpy.random.default_rng(seed)
    weights = 1.0 / numpy.arange(1, universe + 1) ** 0.99
    cdf = numpy.cumsum(weights)
    cdf /= cdf[-1]
    ranks = numpy.searchsorted(cdf, rng.random(count))
    names = rng.permutation(universe)  # popular keys land on every worker
    return names[ranks]


def cache_hit_ratio(port, stream, value):
    """Cache-aside: GET, and SET on a miss; hit ratio over the second half."""
    c = Connection(port)
    hits = misses = 0
    half = len(stream) // 2
    for start in range(0, len(stream), 200):
        chunk = stream[start:start + 200]
        c.sock.sendall(b"".join(encode("GET", b"c:%d" % k) for k in chunk))
        missed = [k for k in chunk if c.reply() is None]
        if missed:
            c.sock.sendall(b"".join(encode("SET", b"c:%d" % k, value) for k in missed))
            for _ in missed:
                c.reply()
        if start >= half:
            hits += len(chunk) - len(missed)
            misses += len(missed)
    c.close()
    return hits / (hits + misses)


def cache(requests, limit_mb):
    stream = zipf_keys(requests, 2_000_000, seed=7)
    value = b"x" * 100
    rows = {}
    for name in ("redis-server", "keyloop (2 workers)"):
        dir = tempfile.mkdtemp(prefix="keyloop-bench-")
        if name == "redis-server":
            server = redis(dir, ["--maxmemory", f"{limit_mb}mb", "--maxmemory-policy", "allkeys-lru"])
        else:
            server = keyloop(dir, f"maxmemory:\n  limit: {limit_mb}mb\n  policy: allkeys-lru\n")
        ratio = cache_hit_ratio(server.port, stream, value)
        rows[name] = {"hit_ratio": ratio, "used_mb": server.used_memory() / 2**20,
                      "evicted": int(info_field(server, "stats", "evicted_keys"))}
        server.stop()
        shutil.rmtree(dir)
    return rows


def cpu_with_limit(requests):
    """CPU per SET (P=16, 1M random keys of 100 bytes) for each maxmemory setting."""
    rows = {}
    for setting, limit in (("off", None), ("on, never reached (4gb)", "4gb"), ("on, evicting (32mb)", "32mb")):
        for name in ("redis-server", "keyloop (2 workers)"):
            dir = tempfile.mkdtemp(prefix="keyloop-bench-")
            if name == "redis-server":
                server = redis(dir, ["--maxmemory", limit, "--maxmemory-policy", "allkeys-lru"] if limit else [])
            else:
                server = keyloop(dir, f"maxmemory:\n  limit: {limit}\n  policy: allkeys-lru\n" if limit else "")
            result = benchmark.measured(server, "set", requests, pipeline=16, keyspace=1_000_000, extra=("-d", "100"))
            rows[(setting, name)] = result
            server.stop()
            shutil.rmtree(dir)
    return rows


def section(saves, hits, cpu, quick, started, sizes, requests, limit_mb):
    md = [BEGIN, "", *header("loadtest/persistence", quick, started), ""]
    md += ["### BGSAVE under writes, and the load at start", "",
           "redis-benchmark overwrites random keys (SET, 50 clients, P=16) during the save; writes per second "
           "from total_commands_processed over the 3 s before the save and over the save; RSS is every "
           "process of the server (redis-server's fork child too), sampled every 20 ms.", "",
           "| Keys | Server | BGSAVE s | RSS before MB | peak RSS MB | peak / before | writes/s before | during | during / before | dump.rdb MB | load at start s |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for keys in sizes:
        for name, r in saves[keys].items():
            md.append(f"| {keys:,} | {name} | {r['seconds']:.2f} | {r['rss_before'] / 2**20:.0f} | {r['rss_peak'] / 2**20:.0f} | "
                      f"{r['rss_peak'] / r['rss_before']:.2f} | {r['rps_before']:,.0f} | {r['rps_during']:,.0f} | "
                      f"{r['rps_during'] / r['rps_before']:.2f} | {r['file_mb']:.0f} | {r['load_s']:.2f} |")
    md += ["", f"### A cache at maxmemory ({limit_mb} MB, allkeys-lru)", "",
           f"{requests:,} GETs of a Zipf(0.99) stream over 2,000,000 keys, a SET of 100 bytes after each miss; the "
           "hit ratio over the second half (warm).", "",
           "| Server | hit ratio | used_memory MB | evicted keys |", "|---|---|---|---|"]
    for name, r in hits.items():
        md.append(f"| {name} | {r['hit_ratio']:.4f} | {r['used_mb']:.1f} | {r['evicted']:,} |")
    md += ["", "### CPU per SET by maxmemory setting", "",
           "redis-benchmark SET, P=16, 50 clients, 1,000,000 random keys, 100-byte values; CPU of every process of the server.", "",
           "| maxmemory | Server | SET/s | CPU µs per SET | keyloop / redis CPU |", "|---|---|---|---|---|"]
    for (setting, name), r in cpu.items():
        ratio = ""
        if name.startswith("keyloop"):
            ratio = f"{r['cpu_us'] / cpu[(setting, 'redis-server')]['cpu_us']:.2f}"
        md.append(f"| {setting} | {name} | {r['rps']:,.0f} | {r['cpu_us']:.2f} | {ratio} |")
    md += ["", END]
    return "\n".join(md) + "\n"


def main():
    quick = "--quick" in sys.argv
    started = time.time()
    sizes = [100_000] if quick else [1_000_000, 10_000_000]
    requests = 200_000 if quick else 2_000_000
    limit_mb = 64
    saves = {keys: snapshots(keys) for keys in sizes}
    hits = cache(requests, limit_mb)
    cpu = cpu_with_limit(100_000 if quick else 1_000_000)
    report.publish(section(saves, hits, cpu, quick, started, sizes, requests, limit_mb), quick, BEGIN, END)


if __name__ == "__main__":
    main()
