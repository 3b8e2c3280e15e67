#!/usr/bin/env python3
"""loadtest/capacity: what each added worker brings, in one run against
redis-server: server CPU per request for 1, 2 and 4 workers on the shared
port (SET/GET/INCR at P=1 and P=16, a 10-key MSET), the forwarded and
local costs solved from them, cluster mode (redis-benchmark --cluster, one
port per worker) with 1 and 2 workers, throughput per worker count with the
load generator on the same cores (the default worker count), and the
capacity that N dedicated cores would give. Writes the "loadtest/capacity"
section of loadtest/RESULTS.md (loadtest/out/ with --quick)."""
import os
import platform
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import benchmark, report  # noqa: E402
from harness.servers import ROOT, start_keyloop, start_redis, wait_port  # noqa: E402

BEGIN, END = "<!-- loadtest/capacity: begin -->", "<!-- loadtest/capacity: end -->"
TESTS = ("set", "get", "incr")
VALUE = ("-d", "32")


def cluster_ports(count):
    """`count` consecutive ports that bind now (cluster.port + N)."""
    import socket
    for base in range(21000, 29000, 17):
        try:
            sockets = []
            for i in range(count):
                s = socket.socket()
                s.bind(("127.0.0.1", base + i))
                sockets.append(s)
            for s in sockets:
                s.close()
            return base
        except OSError:
            for s in sockets:
                s.close()
    raise RuntimeError("no free port range")


def start_cluster(workers):
    port = cluster_ports(workers)
    server = start_keyloop(workers, name=f"cluster-w{workers}", metrics=False,
                           extra=f"cluster:\n  enabled: yes\n  port: {port}\n")
    for i in range(workers):
        wait_port(port + i)
    server.cluster_port = port
    return server


def cpu_per_request(server, test, requests, pipeline, cluster=False):
    """Server CPU µs per request (all its processes) and requests/s."""
    cpu0 = server.cpu_seconds()
    port = server.cluster_port if cluster else server.port
    # redis-benchmark refuses a one-node cluster ("Invalid cluster: 1
    # node(s)"): with one worker, plain runs on its cluster port are the same
    # thing (that node owns every slot, so nothing is redirected).
    extra = VALUE + (("--cluster",) if cluster and server.name != "cluster-w1" else ())
    result = benchmark.run(port, test, requests, pipeline=pipeline, extra=extra)
    return {"cpu_us": (server.cpu_seconds() - cpu0) / requests * 1e6, "rps": result["rps"]}


def measure(servers, cluster_servers, size, rounds):
    """Each figure is the median of `rounds` runs, the servers taking turns
    (one run's CPU per request at P=1 moves by ±15 % with how the wake-ups
    fall)."""
    runs = {}
    for _ in range(rounds):
        for pipeline in (1, 16):
            for test in TESTS + (("mset",) if pipeline == 1 else ()):
                n = size["p1"] if pipeline == 1 else size["p16"]
                for s in servers:
                    runs.setdefault((test, pipeline, s.name), []).append(cpu_per_request(s, test, n, pipeline))
                if test != "mset":  # MSET's keys span slots: not a cluster command
                    for s in cluster_servers:
                        runs.setdefault((test, pipeline, s.name), []).append(
                            cpu_per_request(s, test, n, pipeline, cluster=True))
    return {key: {field: statistics.median(r[field] for r in results) for field in ("cpu_us", "rps")}
            for key, results in runs.items()}


def section(rows, size, rounds, quick, started):
    cpu = lambda t, p, n: rows[(t, p, n)]["cpu_us"]  # noqa: E731
    rps = lambda t, p, n: rows[(t, p, n)]["rps"]  # noqa: E731
    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    cores = os.cpu_count() or 1
    md = [BEGIN, "", "## loadtest/capacity" + (" (--quick: sizes too small to judge)" if quick else ""), "",
          f"- Date: {time.strftime('%Y-%m-%d')}; machine: {cores} CPUs, Linux {platform.release()}; "
          f"redis-server {version.removeprefix('v=')}; keyloop Release build; whole run {time.time() - started:.0f} s",
          f"- Command: `loadtest/capacity{' --quick' if quick else ''}`; redis-benchmark -c 50 -r 100000 -d 32, "
          f"{size['p1']:,} requests at P=1 and {size['p16']:,} at P=16, on the same {cores} cores as the servers; "
          f"every figure the median of {rounds} runs, the servers taking turns",
          "- CPU = utime+stime of every server process (master and workers) over the run, per request",
          "- cluster wN: keyloop with `cluster.enabled` and N workers, driven by `redis-benchmark --cluster` on "
          "the worker ports (cluster w1: plain redis-benchmark on its one node's port, as redis-benchmark "
          "refuses a one-node cluster)",
          "", "### Server CPU per request (µs)", "",
          "| test | P | redis | w1 | w2 | w4 | w2 / w1 | w4 / w1 | forwarded | forwarded / local "
          "| cluster w1 | cluster w2 | cluster w2 / w1 |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    fwd = {}
    for pipeline in (1, 16):
        for test in TESTS + (("mset",) if pipeline == 1 else ()):
            w1, w2, w4 = (cpu(test, pipeline, f"keyloop-w{w}") for w in (1, 2, 4))
            forwarded = w1 + (w2 - w1) / 0.5  # with 2 workers half of the keys are the other's
            fwd[(test, pipeline)] = (w1, forwarded)
            line = (f"| {test.upper()} | {pipeline} | {cpu(test, pipeline, 'redis-server'):.2f} | {w1:.2f} | {w2:.2f} | "
                    f"{w4:.2f} | {report.ratio(w2, w1):.2f} | {report.ratio(w4, w1):.2f} | {forwarded:.2f} | "
                    f"{report.ratio(forwarded, w1):.2f} |")
            if test != "mset":
                c1, c2 = cpu(test, pipeline, "cluster-w1"), cpu(test, pipeline, "cluster-w2")
                line += f" {c1:.2f} | {c2:.2f} | {report.ratio(c2, c1):.2f} |"
            else:
                line += " – | – | – |"
            md.append(line)
    md += ["", "MSET sets 10 keys; with 2 or 4 workers they almost always span workers, so the w2 and w4 "
           "columns are the multi-owner atomic executor (lock, run, commit); \"forwarded\" there is the "
           "cross-worker cost solved as for the single-key commands.", ""]

    md += ["### Throughput with the load generator on the same cores (requests/s)", "",
           "What `workers: auto` gives when the clients share the machine: redis-benchmark's 50 connections "
           "need CPU too, so workers beyond the free cores only add contention. (The cluster w2 column is "
           "redis-benchmark --cluster's own figure, which on this machine stops near 100,000 requests/s at "
           "P=1 and 800,000 at P=16 whatever the server does; its CPU per request above is the server's.)", "",
           "| test | P | redis | w1 | w2 | w4 | cluster w1 | cluster w2 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for pipeline in (1, 16):
        for test in TESTS:
            md.append(f"| {test.upper()} | {pipeline} | " + " | ".join(
                f"{rps(test, pipeline, n):,.0f}" for n in
                ("redis-server", "keyloop-w1", "keyloop-w2", "keyloop-w4", "cluster-w1", "cluster-w2")) + " |")
    md.append("")

    md += ["### Capacity on dedicated cores (estimated from the CPU per request above)", "",
           "Requests/s that N cores doing nothing but serving would give: N ÷ CPU per request. For the shared "
           "port a share (N−1)/N of requests is forwarded, so CPU per request = local + (N−1)/N × (forwarded − "
           "local); with cluster clients every request is local (cluster w2's figure). One redis-server uses one "
           "core whatever the machine has. These are estimates: the load generator shared these "
           f"{cores} cores with the servers when the CPU was measured, and memory bandwidth, the network stack "
           "and the clients stop real machines earlier.", "",
           "| test | P | redis-server | " + " | ".join(f"{n} cores shared port" for n in (1, 2, 4, 8, 16)) + " | " +
           " | ".join(f"{n} cores cluster" for n in (2, 4, 8, 16)) + " |",
           "|---|---:|" + "---:|" * 10]
    for pipeline in (1, 16):
        for test in TESTS:
            local, forwarded = fwd[(test, pipeline)]
            # ratio(): a --quick run's CPU can round to 0 clock ticks.
            shared = [report.ratio(n * 1e6, local + (n - 1) / n * (forwarded - local)) for n in (1, 2, 4, 8, 16)]
            cluster = [report.ratio(n * 1e6, cpu(test, pipeline, "cluster-w2")) for n in (2, 4, 8, 16)]
            md.append(f"| {test.upper()} | {pipeline} | {report.ratio(1e6, cpu(test, pipeline, 'redis-server')):,.0f} | " +
                      " | ".join(f"{v:,.0f}" for v in shared + cluster) + " |")
    md.append("")

    def ratios(name_a, name_b, pipeline):
        return [report.ratio(cpu(t, pipeline, name_a), cpu(t, pipeline, name_b)) for t in TESTS]

    def span(values):
        return f"{min(values):.2f}–{max(values):.2f}"

    targets = []
    for pipeline, bound in ((16, 1.25), (1, 1.3)):
        r = ratios("keyloop-w2", "keyloop-w1", pipeline)
        targets.append((f"2 workers / 1 worker CPU per request ≤ {bound} at P={pipeline} (SET/GET/INCR)",
                        max(r) <= bound, span(r) + "×"))
    hop = [report.ratio(fwd[(t, p)][1], fwd[(t, p)][0]) for t in TESTS for p in (1, 16)]
    targets.append(("a forwarded command ≤ 1.3× a local one", max(hop) <= 1.3, span(hop) + "×"))
    mset = report.ratio(cpu("mset", 1, "keyloop-w2"), cpu("mset", 1, "redis-server"))
    targets.append(("a 10-key MSET across workers ≤ 2× redis-server's CPU per request", mset <= 2.0,
                    f"{mset:.2f}× ({cpu('mset', 1, 'keyloop-w2'):.1f} vs {cpu('mset', 1, 'redis-server'):.1f} µs)"))
    c = [report.ratio(cpu(t, p, "cluster-w2"), cpu(t, p, "cluster-w1")) for t in TESTS for p in (1, 16)]
    targets.append(("cluster mode 2 workers / 1 worker ≤ 1.1", max(c) <= 1.1, span(c) + "×"))
    md += ["### Targets", "", "| target | met | this run |", "|---|---|---|"]
    md += [f"| {name} | {'yes' if ok else '**no**'} | {detail} |" for name, ok, detail in targets]
    md += ["", "Recomputed by every run; what was tried for the unmet ones is in the notes above this section.", "",
           END]
    return "\n".join(md) + "\n"


def main():
    quick = "--quick" in sys.argv
    size = dict(p1=5_000, p16=20_000) if quick else dict(p1=100_000, p16=400_000)
    rounds = 1 if quick else 3
    started = time.time()
    servers = [start_redis(), start_keyloop(1, metrics=False), start_keyloop(2, metrics=False),
               start_keyloop(4, metrics=False)]
    cluster_servers = [start_cluster(1), start_cluster(2)]
    try:
        rows = measure(servers, cluster_servers, size, rounds)
    finally:
        for s in servers + cluster_servers:
            s.stop()
    text = section(rows, size, rounds, quick, started)
    results = os.path.join(ROOT, "loadtest", "out" if quick else "", "RESULTS.md")
    report.replace_section(results, BEGIN, END, text)
    print(text)


if __name__ == "__main__":
    main()
