#!/usr/bin/env python3
"""loadtest/introspection: the operators' tools, against redis-server in the same run.

CPU per request of SET and GET (P=1 and P=16) with the slow log and per-command
latency tracking at their defaults, and with both off (CONFIG SET
slowlog-log-slower-than -1, latency-tracking no), rounds alternating on the same
server so drift cancels; and SET P=16 throughput with a MONITOR attached
(redis-cli monitor reading into /dev/null) against none; and the same SET and GET
in database 5 (redis-benchmark --dbnum 5) against database 0. Writes the
"loadtest/introspection" section of loadtest/RESULTS.md (loadtest/out/ with --quick)."""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.probes import header  # noqa: E402
from harness.servers import start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/introspection: begin -->", "<!-- loadtest/introspection: end -->"
SERVERS = (("redis-server", start_redis),
           ("keyloop-w1", lambda: start_keyloop(1, metrics=False)),
           ("keyloop-w2", lambda: start_keyloop(2, name="keyloop-w2", metrics=False)))
TESTS = (("set", 1), ("get", 1), ("set", 16), ("get", 16))
DEFAULTS = ("slowlog-log-slower-than", "10000", "latency-tracking", "yes")
OFF = ("slowlog-log-slower-than", "-1", "latency-tracking", "no")


def overhead(server, requests, rounds):
    """{(test, P): (CPU µs per request with the defaults, with both off)}: medians of alternating rounds."""
    rows = {}
    for test, pipeline in TESTS:
        n = requests * (4 if pipeline > 1 else 1)
        on, off = [], []
        for _ in range(rounds):
            for setting, into in ((DEFAULTS, on), (OFF, off)):
                server.cli("config", "set", *setting)
                into.append(benchmark.measured(server, test, n, pipeline=pipeline)["cpu_us"])
        server.cli("config", "set", *DEFAULTS)
        rows[(test, pipeline)] = (statistics.median(on), statistics.median(off))
    return rows


def by_database(server, requests, rounds):
    """{(test, P): (database 0's, database 5's) (CPU µs per request, req/s)}: medians of alternating rounds."""
    rows = {}
    for test, pipeline in TESTS:
        n = requests * (4 if pipeline > 1 else 1)
        runs = {"0": [], "5": []}
        for _ in range(rounds):
            for db, into in runs.items():
                into.append(benchmark.measured(server, test, n, pipeline=pipeline, extra=("--dbnum", db)))
        rows[(test, pipeline)] = tuple((statistics.median(r["cpu_us"] for r in into),
                                        statistics.median(r["rps"] for r in into)) for into in runs.values())
    return rows


def with_monitor(server, requests, rounds):
    """SET P=16 req/s without and with a MONITOR reading everything."""
    def run():
        return benchmark.measured(server, "set", requests, pipeline=16)["rps"]
    alone, watched = [], []
    for _ in range(rounds):
        alone.append(run())
        monitor = subprocess.Popen(["redis-cli", "-p", str(server.port), "monitor"], stdout=subprocess.DEVNULL)
        try:
            deadline = time.time() + 10
            while "flags=O" not in server.cli("client", "list") and time.time() < deadline:
                time.sleep(0.01)
            watched.append(run())
        finally:
            monitor.terminate()
            monitor.wait(timeout=10)
    return statistics.median(alone), statistics.median(watched)


def measure(quick):
    requests, rounds = (20_000, 1) if quick else (200_000, 5)
    costs, monitored, databases = {}, {}, {}
    for name, start in SERVERS:
        server = start()
        try:
            costs[name] = overhead(server, requests, rounds)
            monitored[name] = with_monitor(server, requests * 4, max(1, rounds // 2))
            databases[name] = by_database(server, requests, rounds)
        finally:
            server.stop()
    return {"costs": costs, "monitored": monitored, "databases": databases, "requests": requests, "rounds": rounds},


def section(m, quick, started):
    names = [n for n, _ in SERVERS]
    md = [BEGIN, "", *header("loadtest/introspection", quick, started), "",
          "### CPU per request: slow log and latency tracking at their defaults vs off", "",
          f"redis-benchmark -c 50, {m['requests']:,} requests (×4 at P=16); the median of {m['rounds']} rounds, "
          "defaults and off alternating on the same server. CPU = the server's processes' utime+stime per request. "
          "Target: keyloop's defaults cost ≤ 1.03× off.", "",
          "| test | P | " + " | ".join(f"{n} on / off µs" for n in names) + " | " +
          " | ".join(f"{n} on/off" for n in names) + " |",
          "|---|---:|" + "---:|" * (2 * len(names))]
    for test, pipeline in TESTS:
        c = [m["costs"][n][(test, pipeline)] for n in names]
        md.append(f"| {test.upper()} | {pipeline} | " + " | ".join(f"{on:.2f} / {off:.2f}" for on, off in c) + " | " +
                  " | ".join(f"{report.ratio(on, off):.3f}" for on, off in c) + " |")
    md += ["", "### SET P=16 with a MONITOR attached", "",
           f"{m['requests'] * 4:,} requests, redis-benchmark -c 50 -P 16, without and with `redis-cli monitor` "
           "reading every line (into /dev/null).", "",
           "| server | alone req/s | with MONITOR req/s | with / alone | / redis-server with MONITOR |",
           "|---|---:|---:|---:|---:|"]
    redis_watched = m["monitored"]["redis-server"][1]
    for n in names:
        alone, watched = m["monitored"][n]
        md.append(f"| {n} | {alone:,.0f} | {watched:,.0f} | {report.ratio(watched, alone):.2f} | "
                  f"{report.ratio(watched, redis_watched):.2f} |")
    md += ["", "### SELECT 5 traffic against database 0", "",
           f"The same redis-benchmark runs with --dbnum 5 and with database 0, alternating; the median of "
           f"{m['rounds']} rounds. Target: database 5 at database 0's speed.", "",
           "| test | P | " + " | ".join(f"{n} db0 / db5 µs" for n in names) + " | " +
           " | ".join(f"{n} db5/db0 CPU" for n in names) + " | " +
           " | ".join(f"{n} db5/db0 req/s" for n in names) + " |",
           "|---|---:|" + "---:|" * (3 * len(names))]
    for test, pipeline in TESTS:
        d = [m["databases"][n][(test, pipeline)] for n in names]
        md.append(f"| {test.upper()} | {pipeline} | " +
                  " | ".join(f"{zero[0]:.2f} / {five[0]:.2f}" for zero, five in d) + " | " +
                  " | ".join(f"{report.ratio(five[0], zero[0]):.3f}" for zero, five in d) + " | " +
                  " | ".join(f"{report.ratio(five[1], zero[1]):.3f}" for zero, five in d) + " |")
    md += ["", END]
    return "\n".join(md)


if __name__ == "__main__":
    report.measure_and_publish(measure, section, BEGIN, END)
