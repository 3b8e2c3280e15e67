#!/usr/bin/env python3
"""loadtest/aof: write throughput with the append-only log against
redis-server in one run (keyloop with 2 workers).

- redis-benchmark SET (50 clients, 100-byte values, 1M random keys) with
  the log off, appendfsync everysec and appendfsync always, without
  pipelining (each client waits for each reply: with `always`, for its
  fsync) and with P=16; throughput, p99 latency and CPU per SET.
- The replay at start of the log those writes left (everysec, P=16):
  from the start of the process to DBSIZE answering every key.
Writes the "loadtest/aof" section of loadtest/RESULTS.md (loadtest/out/
with --quick)."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.probes import header  # noqa: E402
from harness.servers import keyloop_in, redis_in  # noqa: E402

BEGIN, END = "<!-- loadtest/aof: begin -->", "<!-- loadtest/aof: end -->"
MODES = ("off", "everysec", "always")
SERVERS = ("redis-server", "keyloop (2 workers)")


def redis(dir, mode):
    return redis_in(dir, [] if mode == "off" else
                    ["--appendonly", "yes", "--appendfsync", mode, "--auto-aof-rewrite-percentage", "0"])


def keyloop(dir, mode):
    aof = "" if mode == "off" else f"  aof:\n    enabled: yes\n    fsync: {mode}\n    auto_rewrite_percentage: 0\n"
    return keyloop_in(dir, persistence=aof)


def dbsize(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "dbsize"], capture_output=True, text=True, timeout=5).stdout
    try:
        return int(out.strip())
    except ValueError:  # refused, or -LOADING
        return -1


def replay_seconds(name, dir):
    """Starts the server on what the last run left; seconds until DBSIZE answers the same count."""
    start = time.time()
    server = redis(dir, "everysec") if name == "redis-server" else keyloop(dir, "everysec")
    while True:
        try:
            if dbsize(server.port) >= 0 and "loading:0" in server.cli("info", "persistence"):
                break
        except (subprocess.TimeoutExpired, OSError, subprocess.CalledProcessError):
            pass
        time.sleep(0.01)
    took = time.time() - start
    keys = dbsize(server.port)
    server.stop()
    return took, keys


def writes(requests):
    rows, replay = {}, {}
    for mode in MODES:
        for pipeline in (1, 16):
            for name in SERVERS:
                dir = tempfile.mkdtemp(prefix="keyloop-bench-")
                server = redis(dir, mode) if name == "redis-server" else keyloop(dir, mode)
                n = requests // 10 if mode == "always" and pipeline == 1 else requests
                r = benchmark.measured(server, "set", n, pipeline=pipeline, keyspace=1_000_000, extra=("-d", "100"))
                r["p99"] = benchmark.percentile(r["cdf"], 99)
                server.stop()
                rows[(mode, pipeline, name)] = r
                if mode == "everysec" and pipeline == 16:
                    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(dir) for f in files)
                    took, keys = replay_seconds(name, dir)
                    replay[name] = {"seconds": took, "keys": keys, "log_mb": size / 1e6, "writes": n}
                shutil.rmtree(dir)
    return rows, replay


def section(rows, replay, quick, started, requests):
    md = [BEGIN, "", *header("loadtest/aof", quick, started), ""]
    md += ["### SET throughput with the append-only log", "",
           f"redis-benchmark SET, 50 clients, 100-byte values, 1,000,000 random keys, {requests:,} requests "
           f"({requests // 10:,} for `always` without pipelining); auto-rewrite off on both; CPU of every process "
           "of the server.", "",
           "| appendfsync | P | Server | SET/s | p99 ms | CPU µs per SET | keyloop / redis SET/s |",
           "|---|---|---|---|---|---|---|"]
    for mode in MODES:
        for pipeline in (1, 16):
            for name in SERVERS:
                r = rows[(mode, pipeline, name)]
                ratio = ""
                if name != "redis-server":
                    ratio = f"{r['rps'] / rows[(mode, pipeline, 'redis-server')]['rps']:.2f}"
                md.append(f"| {mode} | {pipeline} | {name} | {r['rps']:,.0f} | {r['p99']:.3f} | {r['cpu_us']:.2f} | {ratio} |")
    md += ["", "### Replay at start", "",
           "The log the everysec, P=16 run left, loaded by a fresh server: from its start to DBSIZE answering.", "",
           "| Server | writes logged | log MB | keys | replay s |", "|---|---|---|---|---|"]
    for name, r in replay.items():
        md.append(f"| {name} | {r['writes']:,} | {r['log_mb']:.0f} | {r['keys']:,} | {r['seconds']:.2f} |")
    md += ["", END]
    return "\n".join(md) + "\n"


def main():
    quick = "--quick" in sys.argv
    started = time.time()
    requests = 100_000 if quick else 2_000_000
    rows, replay = writes(requests)
    report.publish(section(rows, replay, quick, started, requests), quick, BEGIN, END)


if __name__ == "__main__":
    main()
