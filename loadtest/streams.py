#!/usr/bin/env python3
"""loadtest/streams: streams against redis-server, in the same run.

XADD of 10-field events at P=1 and P=16 (100 streams), XRANGE of 10 and of
100 entries from a random point of a 100,000-entry stream, consumer-group
round trips (XREADGROUP COUNT 1, then XACK, one client), how soon an XREAD
BLOCK wakes after an XADD (on the client's worker and on the other worker),
memory per entry at 10, 1,000 and 1,000,000 entries a stream (used_memory),
and how long the loop stalls while a 1M-entry stream is deleted and while
it moves in a reload. Writes the "loadtest/streams" section of
loadtest/RESULTS.md (loadtest/out/ with --quick)."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.probes import (Connection, header, memory_rows, memory_table, send_pipelined,  # noqa: E402
                            stall_rows, stalls, stream_entry, wake_latency)
from harness.servers import start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/streams: begin -->", "<!-- loadtest/streams: end -->"
SERVERS = (("redis-server", start_redis),
           ("keyloop-w1", lambda: start_keyloop(1, metrics=False)),
           ("keyloop-w2", lambda: start_keyloop(2, name="keyloop-w2", metrics=False)))
RANGE_ENTRIES = 100_000
TESTS = (("XADD", 1, ["XADD", "xs:__rand_int__", "*", *stream_entry(7)], 100),
         ("XADD", 16, ["XADD", "xs:__rand_int__", "*", *stream_entry(7)], 100),
         ("XRANGE 10", 1, ["XRANGE", "xr", "__rand_int__", "+", "COUNT", "10"], RANGE_ENTRIES),
         ("XRANGE 100", 1, ["XRANGE", "xr", "__rand_int__", "+", "COUNT", "100"], RANGE_ENTRIES))


def throughput(server, requests, rounds):
    send_pipelined(server.port, (["XADD", "xr", f"{i + 1}-0", *stream_entry(i)] for i in range(RANGE_ENTRIES)))
    rows = {}
    for name, pipeline, command, keyspace in TESTS:
        n = requests * (4 if pipeline > 1 else 1)
        runs = [benchmark.measured(server, "", n, pipeline=pipeline, keyspace=keyspace, command=command)
                for _ in range(rounds)]
        rows[(name, pipeline)] = {f: statistics.median(r[f] for r in runs) for f in ("rps", "cpu_us")}
    return rows


def group_round_trips(server, n):
    """XREADGROUP COUNT 1 then XACK, one client: round trips per second and server CPU per pair."""
    c = Connection(server.port)
    send_pipelined(server.port, (["XADD", "xg", "*", *stream_entry(i)] for i in range(n)))
    c.call("XGROUP", "CREATE", "xg", "g", "0")
    cpu0, t = server.cpu_seconds(), time.perf_counter()
    for _ in range(n):
        reply = c.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "xg", ">")
        c.call("XACK", "xg", "g", reply[0][1][0][0])
    took = time.perf_counter() - t
    c.close()
    return {"rps": n / took, "cpu_us": (server.cpu_seconds() - cpu0) / n * 1e6}


def measure(quick):
    requests, rounds = (5_000, 1) if quick else (50_000, 3)
    pairs, wakes = (2_000, 200) if quick else (20_000, 2_000)
    sizes = [(10, 2_000), (1_000, 20), (100_000, 1)] if quick else [(10, 20_000), (1_000, 200), (1_000_000, 1)]
    big = 100_000 if quick else 1_000_000
    tput, groups = {}, {}
    for name, start in SERVERS:
        server = start()
        try:
            for k, v in throughput(server, requests, rounds).items():
                tput[(*k, name)] = v
            groups[name] = group_round_trips(server, pairs)
        finally:
            server.stop()
    wake = []
    for name, start, cross in (("redis-server", start_redis, False),
                               ("keyloop, 1 worker", lambda: start_keyloop(1, metrics=False), False),
                               ("keyloop, 2 workers, stream on the other worker",
                                lambda: start_keyloop(2, metrics=False), True)):
        server = start()
        try:
            wake.append((name, *wake_latency(server, wakes, cross, lambda key: ["XREAD", "BLOCK", "0", "STREAMS", key, "$"],
                                              lambda key: ["XADD", key, "MAXLEN", "100", "*", "f", "v"])))
        finally:
            server.stop()
    return ({"tput": tput, "groups": groups, "wake": wake, "memory": memory_table(("stream",), sizes),
             "stall": stalls(big, "stream"), "requests": requests, "rounds": rounds, "pairs": pairs,
             "wakes": wakes, "big": big},)


def section(m, quick, started):
    names = [n for n, _ in SERVERS]
    md = [BEGIN, "", *header("loadtest/streams", quick, started), "",
          "### Throughput", "",
          f"redis-benchmark -c 50, the median of {m['rounds']} runs of {m['requests']:,} requests (×4 at P=16). "
          "XADD: a 10-field event (stream_entry in harness/probes.py) to one of 100 streams; XRANGE: COUNT entries "
          f"from a random ID of a {RANGE_ENTRIES:,}-entry stream. CPU = the server's processes' utime+stime per "
          "request. With 2 workers half the requests are forwarded to the key's owner.", "",
          "| test | P | " + " | ".join(f"{n} req/s" for n in names) + " | " +
          " | ".join(f"{n} CPU µs" for n in names) + " | w1 / redis CPU | w2 / redis CPU |",
          "|---|---:|" + "---:|" * (2 * len(names) + 2)]
    for name, pipeline, _, _ in TESTS:
        r = [m["tput"][(name, pipeline, n)] for n in names]
        md.append(f"| {name} | {pipeline} | " + " | ".join(f"{x['rps']:,.0f}" for x in r) + " | " +
                  " | ".join(f"{x['cpu_us']:.2f}" for x in r) + " | " +
                  " | ".join(f"{report.ratio(x['cpu_us'], r[0]['cpu_us']):.2f}" for x in r[1:]) + " |")
    g = [m["groups"][n] for n in names]
    md += ["", "### Consumer-group round trips", "",
           f"One client, {m['pairs']:,} times XREADGROUP GROUP g c COUNT 1 STREAMS xg > then XACK of what it got.", "",
           "| server | pairs/s | CPU µs per pair | / redis CPU |", "|---|---:|---:|---:|"]
    md += [f"| {n} | {x['rps']:,.0f} | {x['cpu_us']:.1f} | {report.ratio(x['cpu_us'], g[0]['cpu_us']):.2f} |"
           for n, x in zip(names, g)]
    md += ["", "### XREAD BLOCK wake-up", "",
           f"From sending XADD to the blocked reader's reply (µs), {m['wakes']:,} rounds on loopback.", "",
           "| server | p50 µs | p99 µs |", "|---|---:|---:|"]
    md += [f"| {name} | {p50:.0f} | {p99:.0f} |" for name, p50, p99 in m["wake"]]
    md += ["", "### Memory per entry", "",
           "used_memory (and RSS) growth per entry on a fresh server after loading the streams (10-field "
           "events), keyloop with 1 worker.", "",
           "| kind | entries a stream | streams | redis B | keyloop B | keyloop / redis | redis RSS B | "
           "keyloop RSS B | RSS ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
           *memory_rows(m["memory"])]
    md += ["", "### Loop stalls", "",
           f"A {m['big']:,}-entry stream deleted (DEL, UNLINK) and handed over in a reload from 1 worker to 2, "
           "while a client PINGs; keyloop's worst loop lag from its histogram.", "",
           "| server | operation | took ms | worst PING ms | worst loop lag ms |", "|---|---|---:|---:|---:|",
           *stall_rows(m["stall"])]
    md += ["", END]
    return "\n".join(md)


if __name__ == "__main__":
    report.measure_and_publish(measure, section, BEGIN, END)
