#!/usr/bin/env python3
"""keyloop vs redis-server, same run, same machine; see server-bench."""
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

QUICK = "--quick" in sys.argv
REQUESTS = {1: 50_000 if QUICK else 300_000, 16: 200_000 if QUICK else 2_000_000}
IDLE_CLIENTS = 1_000 if QUICK else 10_000
KEYS = 100_000 if QUICK else 1_000_000
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port):
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


class Server:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)

    def pids(self):
        """The server's processes: keyloop's master and its workers."""
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except OSError:
                    pass
        return [self.proc.pid] + [p for p, parent in parents.items() if parent == self.proc.pid]

    def cpu_seconds(self, user_only=False):
        total = 0
        for pid in self.pids():
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + (0 if user_only else int(fields[12]))  # utime (+ stime)
        return total / TICKS

    def rss_bytes(self):
        total = 0
        for pid in self.pids():
            with open(f"/proc/{pid}/status") as f:
                total += int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024
        return total

    def used_memory(self):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "info", "memory"],
                             capture_output=True, text=True).stdout
        return int(re.search(r"used_memory:(\d+)", out).group(1))

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args],
                              capture_output=True, text=True, check=True).stdout

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def start_keyloop(workers, metrics=True, name=None):
    port, metrics_port = free_port(), free_port()
    conf = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    conf.write(f"listen:\n  - address: 127.0.0.1\n    port: {port}\n"
               f"workers: {workers}\nlimits:\n  maxclients: 50000\n"
               f"metrics:\n  enabled: {'yes' if metrics else 'no'}\n  port: {metrics_port}\n")
    conf.close()
    server = Server(name or f"keyloop-{workers}", ["build/keyloop", "-c", conf.name], port)
    server.metrics_port = metrics_port if metrics else None
    time.sleep(0.3)  # every worker up, not just the first to accept
    return server


def start_servers(worker_counts=(1, 2)):
    rport = free_port()
    redis = Server("redis-server", ["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no", "--maxclients", "50000"],
                   rport)
    return [redis] + [start_keyloop(w) for w in worker_counts]


def throughput(servers):
    rows = []
    for pipeline in (1, 16):
        for test in ("set", "get", "incr", "mset"):
            row = {"test": test.upper(), "P": pipeline}
            for s in servers:
                n = REQUESTS[pipeline]
                cpu0, user0 = s.cpu_seconds(), s.cpu_seconds(user_only=True)
                out = subprocess.run(
                    ["redis-benchmark", "-p", str(s.port), "-c", "50", "-n", str(n), "-P",
                     str(pipeline), "-t", test, "-r", "100000", "--csv"],
                    capture_output=True, text=True, check=True).stdout
                cpu = s.cpu_seconds() - cpu0
                user = s.cpu_seconds(user_only=True) - user0
                rps = float(out.strip().splitlines()[-1].split(",")[1].strip('"'))
                row[s.name] = (rps, cpu / n * 1e6, user / n * 1e6)
            rows.append(row)
    return rows


def scrape_every_second(port, stop):
    """What Prometheus does to a metered server while it works."""
    while not stop.wait(1.0):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            while s.recv(65536):
                pass


def metrics_cost():
    """Throughput of keyloop (1 worker) with metrics on (and scraped every
    second) and off, alternating runs, 3 rounds; returns median req/s."""
    on, off = start_keyloop(1, True, "metrics-on"), start_keyloop(1, False, "metrics-off")
    stop = threading.Event()
    scraper = threading.Thread(target=scrape_every_second, args=(on.metrics_port, stop), daemon=True)
    scraper.start()
    results = {}
    try:
        for pipeline in (1, 16):
            for test in ("set", "get"):
                runs = {"metrics-on": [], "metrics-off": []}
                for _ in range(3):
                    for s in (on, off):
                        out = subprocess.run(
                            ["redis-benchmark", "-p", str(s.port), "-c", "50", "-n", str(REQUESTS[pipeline]),
                             "-P", str(pipeline), "-t", test, "-r", "100000", "--csv"],
                            capture_output=True, text=True, check=True).stdout
                        runs[s.name].append(float(out.strip().splitlines()[-1].split(",")[1].strip('"')))
                results[(test.upper(), pipeline)] = {k: sorted(v)[1] for k, v in runs.items()}
    finally:
        stop.set()
        on.stop()
        off.stop()
    return results


def idle_memory(server):
    before = server.rss_bytes()
    conns = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(IDLE_CLIENTS)]
    conns[-1].sendall(b"PING\r\n")
    conns[-1].recv(16)  # the server has accepted them all by now
    time.sleep(0.5)
    after = server.rss_bytes()
    for c in conns:
        c.close()
    return (after - before) / IDLE_CLIENTS


def key_memory(server):
    used0, rss0 = server.used_memory(), server.rss_bytes()
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        value = b"v" * 32
        for i in range(KEYS):
            key = b"key:%012d" % i  # 16 bytes
            f.write(b"*3\r\n$3\r\nSET\r\n$16\r\n" + key + b"\r\n$32\r\n" + value + b"\r\n")
        path = f.name
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], stdin=f,
                       capture_output=True, check=True)
    os.unlink(path)
    assert int(server.cli("dbsize")) == KEYS
    return (server.used_memory() - used0) / KEYS, (server.rss_bytes() - rss0) / KEYS


def on_fresh_servers(measure):
    """Runs measure(server) for each on newly started servers, so that no
    earlier phase's freed-but-kept heap distorts memory deltas."""
    servers = start_servers((2,))
    try:
        return {s.name.removesuffix("-2"): measure(s) for s in servers}
    finally:
        for s in servers:
            s.stop()


def main():
    servers = start_servers()
    try:
        rows = throughput(servers)
    finally:
        for s in servers:
            s.stop()
    forwarding = []
    for r in rows:
        # With 2 workers half the keys are the other worker's: mixed =
        # (local + forwarded) / 2, so a forwarded request costs 2*mixed - local.
        # Also for user-space CPU alone: the part keyloop's code controls.
        (_, local, local_user), (_, mixed, mixed_user) = r["keyloop-1"], r["keyloop-2"]
        forwarded, forwarded_user = 2 * mixed - local, 2 * mixed_user - local_user
        forwarding.append((r["test"], r["P"], local, mixed, forwarded, forwarded / local,
                           local_user, forwarded_user, forwarded_user / local_user))
    cost = metrics_cost()
    idle = on_fresh_servers(idle_memory)
    keys = on_fresh_servers(key_memory)
    version = subprocess.run(["redis-server", "--version"], capture_output=True,
                             text=True).stdout.split()[2]

    print(f"- Date: {time.strftime('%Y-%m-%d')}; machine: {os.cpu_count()} CPUs, "
          f"Linux {platform.release()}; redis-server {version.removeprefix('v=')}; "
          f"keyloop Release build, workers=1 and workers=2{'; QUICK run' if QUICK else ''}")
    print(f"- redis-benchmark -c 50 -r 100000, {REQUESTS[1]:,} requests at P=1 and "
          f"{REQUESTS[16]:,} at P=16; client and server share the 2 cores.")
    print()
    print("CPU is server CPU time (utime+stime of every server process) per request; "
          "ratios are keyloop / redis.")
    print()
    print("| test | P | redis req/s | keyloop w=1 req/s | ratio | keyloop w=2 req/s | ratio "
          "| redis CPU µs/req | w=1 CPU µs/req | ratio | w=2 CPU µs/req | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        (rr, rc, _), (k1r, k1c, _), (k2r, k2c, _) = r["redis-server"], r["keyloop-1"], r["keyloop-2"]
        print(f"| {r['test']} | {r['P']} | {rr:,.0f} | {k1r:,.0f} | {k1r / rr:.2f} | {k2r:,.0f} | "
              f"{k2r / rr:.2f} | {rc:.2f} | {k1c:.2f} | {k1c / rc:.2f} | {k2c:.2f} | {k2c / rc:.2f} |")
    print()
    print("Forwarding cost (workers=2: half of all requests go to the other worker):")
    print()
    print("| test | P | local µs/req (w=1) | mixed µs/req (w=2) | forwarded µs/req | forwarded / local "
          "| local user µs/req | forwarded user µs/req | user ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for test, p, local, mixed, forwarded, ratio, lu, fu, uratio in forwarding:
        print(f"| {test} | {p} | {local:.2f} | {mixed:.2f} | {forwarded:.2f} | {ratio:.2f} "
              f"| {lu:.2f} | {fu:.2f} | {uratio:.2f} |")
    print()
    print("Metrics on (scraped every second) vs off, keyloop workers=1, median of 3 alternating runs:")
    print()
    print("| test | P | metrics off req/s | metrics on req/s | on / off |")
    print("|---|---:|---:|---:|---:|")
    for (test, p), r in cost.items():
        print(f"| {test} | {p} | {r['metrics-off']:,.0f} | {r['metrics-on']:,.0f} | "
              f"{r['metrics-on'] / r['metrics-off']:.3f} |")
    print()
    print(f"| memory | redis | keyloop | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| RSS per idle connection ({IDLE_CLIENTS:,} clients) | {idle['redis-server']:,.0f} B "
          f"| {idle['keyloop']:,.0f} B | {idle['keyloop'] / idle['redis-server']:.2f} |")
    (ru, rr), (ku, kr) = keys["redis-server"], keys["keyloop"]
    print(f"| used_memory per key ({KEYS:,} keys, 16 B key, 32 B value) | {ru:.1f} B "
          f"| {ku:.1f} B | {ku / ru:.2f} |")
    print(f"| RSS per key (same keys) | {rr:.1f} B | {kr:.1f} B | {kr / rr:.2f} |")


if __name__ == "__main__":
    main()
