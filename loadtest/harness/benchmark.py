"""redis-benchmark runs, parsed: throughput and the latency distribution it
prints ("Latency by percentile distribution"), so p50/p99/p99.9 and a CDF
come from the same run."""
import re
import subprocess


def run(port, test, requests, clients=50, pipeline=1, keyspace=100_000, extra=(), command=()):
    """One -t test, or (command given) that command with its __rand_int__s."""
    argv = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(requests), "-P", str(pipeline),
            *([] if command else ["-t", test]), "-r", str(keyspace), "--precision", "3", *extra, *command]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.replace("\r", "\n")
    rps = float(re.search(r"throughput summary: ([\d.]+) requests per second", out).group(1))
    cdf = [(float(p), float(ms)) for p, ms in
           re.findall(r"^([\d.]+)% <= ([\d.]+) milliseconds", out.split("Cumulative distribution")[0], re.M)]
    return {"rps": rps, "cdf": cdf}


def percentile(cdf, p):
    """Latency (ms) at percentile p from redis-benchmark's distribution."""
    for pct, ms in cdf:
        if pct >= p:
            return ms
    return cdf[-1][1] if cdf else float("nan")


def measured(server, test, requests, **kwargs):
    """One run with the server's CPU time (all its processes) around it."""
    cpu0, user0 = server.cpu_seconds(), server.cpu_seconds(user_only=True)
    result = run(server.port, test, requests, **kwargs)
    result["cpu_us"] = (server.cpu_seconds() - cpu0) / requests * 1e6
    result["user_us"] = (server.cpu_seconds(user_only=True) - user0) / requests * 1e6
    return result
