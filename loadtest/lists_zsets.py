#!/usr/bin/env python3
"""loadtest/lists-zsets: lists, sorted sets and blocking pops against
redis-server in one run. redis-benchmark -t lpush,rpush,lpop,rpop,
lrange_100,lrange_600,zadd,zpopmin at P=1 and P=16 (1 worker and 2); bytes
per element at 10, 100 and 1,000,000 elements; ZADD, ZRANK and ZRANGE on
a 1M-member sorted set; the loop while a 1M-element list or sorted set is
deleted, unlinked or handed over; and how soon a BLPOP wakes when another
client pushes (with 2 workers: the key on the other worker). Writes the
"loadtest/lists-zsets" section of loadtest/RESULTS.md (loadtest/out/ with
--quick)."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.probes import (Connection, header, memory_rows, memory_table, send_pipelined, stall_rows,  # noqa: E402
                            stalls, throughput, throughput_rows, wake_latency)
from harness.servers import start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/lists-zsets: begin -->", "<!-- loadtest/lists-zsets: end -->"
TESTS = ("lpush", "rpush", "lpop", "rpop", "lrange_100", "lrange_600", "zadd", "zpopmin")
BIG = "bigz"
# redis-benchmark's __rand_int__ is 12 digits, zero-padded: the members are named that way.
BIG_COMMANDS = {
    "ZADD (move a member)": ["zadd", BIG, "__rand_int__", "member:__rand_int__"],
    "ZRANK": ["zrank", BIG, "member:__rand_int__"],
    "ZRANGE BYSCORE LIMIT 0 10": ["zrange", BIG, "__rand_int__", "+inf", "BYSCORE", "LIMIT", "0", "10"],
}


def load_big_zset(port, members):
    send_pipelined(port, (["ZADD", BIG] + [x for i in range(start, min(members, start + 1000))
                                           for x in (str(i), f"member:{i:012d}")] for start in range(0, members, 1000)))
    c = Connection(port)
    assert c.call("ZCARD", BIG) == str(members).encode()
    c.close()


def big_zset(members, requests, rounds):
    rows = {}
    for start in (start_redis, lambda: start_keyloop(1, metrics=False)):
        server = start()
        try:
            load_big_zset(server.port, members)
            for name, command in BIG_COMMANDS.items():
                for pipeline in (1, 16):
                    runs = [benchmark.measured(server, "", requests, pipeline=pipeline, keyspace=members,
                                               command=command) for _ in range(rounds)]
                    rows[(name, pipeline, server.name)] = {f: statistics.median(r[f] for r in runs)
                                                           for f in ("rps", "cpu_us")}
        finally:
            server.stop()
    return rows


def wake_table(rounds):
    rows = []
    for name, start, cross in (("redis-server", start_redis, False),
                               ("keyloop, 1 worker", lambda: start_keyloop(1, metrics=False), False),
                               ("keyloop, 2 workers, key on the other worker", lambda: start_keyloop(2, metrics=False), True)):
        server = start()
        try:
            rows.append((name, *wake_latency(server, rounds, cross, lambda key: ["BLPOP", key, "0"],
                                                    lambda key: ["RPUSH", key, "x"])))
        finally:
            server.stop()
    return rows


def section(tput, memory, big, stall, wake, quick, started, members, requests, rounds, wakes):
    md = [BEGIN, "", *header("loadtest/lists-zsets", quick, started),
          "", "### redis-benchmark -t " + ",".join(TESTS), "",
          f"redis-benchmark -c 50 -r 100000, {requests:,} requests at P=1 and {requests * 4:,} at P=16, the median "
          f"of {rounds} runs; CPU = the server's processes' utime+stime per request. Each test works on one key "
          "(mylist, myzset): with 2 workers one of them owns it and half the requests are forwarded.", "",
          "| test | P | redis req/s | w1 req/s | w2 req/s | redis CPU µs | w1 CPU µs | w2 CPU µs | w1 / redis CPU |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    md += throughput_rows(tput, TESTS)
    md += ["", "### Bytes per element", "",
           "Each case on freshly started servers (keyloop with 1 worker), loaded in commands of at most 1,000 "
           "elements over one connection that is closed before the second reading. Lists: `element:N`; sorted "
           "sets: members `member:N`, integer scores.", "",
           "| value | elements | keys | redis used | keyloop used | used ratio | redis RSS | keyloop RSS | RSS ratio |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    md += memory_rows(memory)
    md += ["", f"### A {members:,}-member sorted set", "",
           f"redis-benchmark -c 50 -r {members:,} on one sorted set of that many members (`member:` and 12 "
           f"digits, scores 0..N−1), {requests:,} requests, the median of {rounds} runs; keyloop with 1 worker.", "",
           "| command | P | redis req/s | keyloop req/s | redis CPU µs | keyloop CPU µs | keyloop / redis CPU |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for name in BIG_COMMANDS:
        for pipeline in (1, 16):
            r, k = big[(name, pipeline, "redis-server")], big[(name, pipeline, "keyloop-w1")]
            md.append(f"| {name} | {pipeline} | {r['rps']:,.0f} | {k['rps']:,.0f} | {r['cpu_us']:.2f} | "
                      f"{k['cpu_us']:.2f} | {report.ratio(k['cpu_us'], r['cpu_us']):.2f} |")
    md += ["", f"### The loop while a {members:,}-element list or sorted set goes", "",
           "The command's own time; the worst PING round trip of another client meanwhile; for keyloop the worst "
           "event-loop lag of any worker meanwhile (keyloop_event_loop_lag_seconds).", "",
           "| server | operation | took (ms) | worst PING meanwhile (ms) | worst loop lag (ms) |",
           "|---|---|---:|---:|---:|"]
    md += stall_rows({(name, f"{op} ({kind})"): v for kind, rows in stall.items() for (name, op), v in rows.items()})
    md += ["", "### BLPOP wake-up", "",
           "A client waits in BLPOP; another pushes (sent once the server reports the first blocked); the time "
           "from sending the push to receiving the waiter's reply, over "
           f"{wakes:,} rounds on one machine's loopback.", "",
           "| server | p50 (µs) | p99 (µs) |", "|---|---:|---:|"]
    md += [f"| {name} | {p50:.0f} | {p99:.0f} |" for name, p50, p99 in wake]
    md += ["", END]
    return "\n".join(md)


def main():
    quick = "--quick" in sys.argv
    started = time.time()
    sizes = [(10, 2000), (100, 200), (100_000, 1)] if quick else [(10, 20_000), (100, 2_000), (1_000_000, 1)]
    members = 50_000 if quick else 1_000_000
    requests, rounds = (20_000, 1) if quick else (100_000, 3)
    tput = throughput(TESTS, requests, rounds)
    memory = memory_table(("list", "zset"), sizes)
    big = big_zset(members, requests, rounds)
    stall = {kind: stalls(members, kind) for kind in ("list", "zset")}
    wakes = 200 if quick else 2000
    wake = wake_table(wakes)
    text = section(tput, memory, big, stall, wake, quick, started, members, requests, rounds, wakes)
    report.publish(text, quick, BEGIN, END)


if __name__ == "__main__":
    main()
