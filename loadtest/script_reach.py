#!/usr/bin/env python3
"""loadtest/script-reach: what a script that builds its keys inside costs.

The same two-INCR script, EVALSHA'd by redis-benchmark (-c 50, a random
pair of keys per call, P=1), once with its two keys declared (numkeys 2)
and once with them passed as arguments and built inside (numkeys 0), as
BullMQ's scripts do. With several workers the declared one runs on the
keys' owner (or the multi-owner executor when the two keys live on two
workers); the undeclared one runs on the client's worker and reaches the
keys of other workers mid-script, one such script at a time across the
server (scripting/script_reach.h). Throughput and the server's CPU per
call, redis-server and keyloop with 1, 2 and 4 workers in the same run.
Writes the "loadtest/script-reach" section of loadtest/RESULTS.md
(loadtest/out/ with --quick)."""
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.probes import Connection, header  # noqa: E402
from harness.servers import start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/script-reach: begin -->", "<!-- loadtest/script-reach: end -->"
DECLARED = "redis.call('INCR', KEYS[1]) return redis.call('INCR', KEYS[2])"
BUILT = "redis.call('INCR', ARGV[1]) return redis.call('INCR', ARGV[2])"
SERVERS = (("redis-server", start_redis),
           ("keyloop-w1", lambda: start_keyloop(1, metrics=False)),
           ("keyloop-w2", lambda: start_keyloop(2, name="keyloop-w2", metrics=False)),
           ("keyloop-w4", lambda: start_keyloop(4, name="keyloop-w4", metrics=False)))


def calls(server, script, numkeys, requests, rounds):
    c = Connection(server.port)
    sha = c.call("SCRIPT", "LOAD", script).decode()
    c.close()
    command = ["EVALSHA", sha, str(numkeys), "a:__rand_int__", "b:__rand_int__"]
    runs = [benchmark.measured(server, "", requests, command=command) for _ in range(rounds)]
    return {f: statistics.median(r[f] for r in runs) for f in ("rps", "cpu_us")}


def measure(quick):
    requests = 5_000 if quick else 40_000
    rounds = 1 if quick else 3
    rows = {}
    for name, start in SERVERS:
        server = start()
        try:
            rows[("declared keys", name)] = calls(server, DECLARED, 2, requests, rounds)
            rows[("keys built inside", name)] = calls(server, BUILT, 0, requests, rounds)
        finally:
            server.stop()
    return rows, requests, rounds


def section(rows, quick, started, requests, rounds):
    names = [n for n, _ in SERVERS]
    md = [BEGIN, "", *header("loadtest/script-reach", quick, started), "",
          f"The median of {rounds} runs of redis-benchmark -c 50 -n {requests:,}, P=1: `EVALSHA` of a script "
          "that INCRs two keys (a random pair per call), declared (numkeys 2) or passed as arguments and built "
          "inside (numkeys 0). CPU = the server's processes' utime+stime per call.", "",
          "| script | " + " | ".join(f"{n} /s" for n in names) + " | " +
          " | ".join(f"{n} CPU µs" for n in names) + " | " +
          " | ".join(f"{n} / redis CPU" for n in names[1:]) + " |",
          "|---|" + "---:|" * (3 * len(names) - 1)]
    for test in ("declared keys", "keys built inside"):
        r = [rows[(test, n)] for n in names]
        md.append(f"| {test} | " + " | ".join(f"{x['rps']:,.0f}" for x in r) + " | " +
                  " | ".join(f"{x['cpu_us']:.1f}" for x in r) + " | " +
                  " | ".join(f"{report.ratio(x['cpu_us'], r[0]['cpu_us']):.2f}" for x in r[1:]) + " |")
    md += ["", END]
    return "\n".join(md)


if __name__ == "__main__":
    report.measure_and_publish(measure, section, BEGIN, END)
