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
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import report  # noqa: E402
from harness.probes import header, memory_rows, memory_table, stall_rows, stalls, throughput, throughput_rows  # noqa: E402

BEGIN, END = "<!-- loadtest/types: begin -->", "<!-- loadtest/types: end -->"
TESTS = ("hset", "sadd", "spop")


def section(tput, memory, stall, quick, started, sizes, members, requests, rounds):
    md = [BEGIN, "", *header("loadtest/types", quick, started),
          "", "### redis-benchmark -t hset,sadd,spop", "",
          f"redis-benchmark -c 50 -r 100000, {requests:,} requests at P=1 and {requests * 4:,} at P=16, the "
          f"median of {rounds} runs; CPU = the server's processes' utime+stime per request. Each test works on "
          "one key (myhash, myset), so with 2 workers one of them owns it and half the requests are forwarded.", "",
          "| test | P | redis req/s | w1 req/s | w2 req/s | redis CPU µs | w1 CPU µs | w2 CPU µs | w1 / redis CPU |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    md += throughput_rows(tput, TESTS)
    md += ["", "### Bytes per element", "",
           "Each case on freshly started servers (keyloop with 1 worker), loaded in commands of at most 1,000 "
           "elements over one connection that is closed before the second reading. Hashes: fields `field:N`, "
           "values `value:N`; integer sets: 0..N−1; string sets: `member:N`. keyloop's default thresholds are "
           "redis.conf's (hash-max-listpack-entries 128); the redis-server here runs without redis.conf "
           "(512), and keeps a small string set in a hash table (Redis 7.0 has no listpack sets).", "",
           "| value | elements | keys | redis used | keyloop used | used ratio | redis RSS | keyloop RSS | RSS ratio |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    md += memory_rows(memory)
    md += ["", f"### The loop while a {members:,}-field hash goes", "",
           "The command's own time; the worst PING round trip of another client meanwhile (during a reload "
           "that includes its connection's move to the new workers); and for keyloop the worst event-loop lag "
           "of any worker meanwhile, from keyloop_event_loop_lag_seconds (the bound of the smallest histogram "
           "bucket that holds every sample).", "",
           "| server | operation | took (ms) | worst PING meanwhile (ms) | worst loop lag (ms) |",
           "|---|---|---:|---:|---:|"]
    md += stall_rows(stall)
    md += ["", END]
    return "\n".join(md)


def main():
    quick = "--quick" in sys.argv
    started = time.time()
    sizes = [(10, 2000), (100, 200), (100_000, 1)] if quick else [(10, 20_000), (100, 2_000), (100_000, 2)]
    members = 50_000 if quick else 1_000_000
    requests, rounds = (20_000, 1) if quick else (200_000, 3)
    tput = throughput(TESTS, requests, rounds)
    memory = memory_table(("hash", "intset", "strset"), sizes)
    stall = stalls(members, "hash")
    text = section(tput, memory, stall, quick, started, sizes, members, requests, rounds)
    report.publish(text, quick, BEGIN, END)


if __name__ == "__main__":
    main()
