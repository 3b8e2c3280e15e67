"""The scenarios of loadtest/run. Each takes the run's sizes and returns
plain data for the report and the plots."""
import os
import re
import signal
import socket
import subprocess
import threading
import time

from . import benchmark
from .servers import ROOT, scrape, start_keyloop, start_redis

SIZES = {
    "full": dict(p1=200_000, p16=1_000_000, mix=300_000, conn=100_000, idle=10_000, keys=1_000_000,
                 stall=2.0, load=8.0, reload_keys=1_000_000),
    "quick": dict(p1=10_000, p16=50_000, mix=20_000, conn=10_000, idle=1_000, keys=50_000,
                  stall=1.0, load=3.0, reload_keys=50_000),
}
TESTS = ("set", "get", "incr", "mset")


def throughput(servers, size):
    rows = []
    for pipeline in (1, 16):
        for test in TESTS:
            row = {"test": test.upper(), "P": pipeline}
            for s in servers:
                row[s.name] = benchmark.measured(s, test, size["p1" if pipeline == 1 else "p16"], pipeline=pipeline)
            rows.append(row)
    return rows


def mix(servers, size):
    """1 SET : 10 GET over 1M keys: two redis-benchmark clients at once
    (5 and 50 connections), their requests in a 1:10 ratio."""
    result = {}
    for s in servers:
        cpu0 = s.cpu_seconds()
        outcome = {}
        writer = threading.Thread(target=lambda: outcome.__setitem__("set", benchmark.run(
            s.port, "set", size["mix"] // 10, clients=5, keyspace=1_000_000)))
        writer.start()
        outcome["get"] = benchmark.run(s.port, "get", size["mix"], clients=50, keyspace=1_000_000)
        writer.join()
        total = size["mix"] + size["mix"] // 10
        result[s.name] = {"rps": outcome["set"]["rps"] + outcome["get"]["rps"],
                          "p99_get": benchmark.percentile(outcome["get"]["cdf"], 99.0),
                          "cpu_us": (s.cpu_seconds() - cpu0) / total * 1e6}
    return result


def connections(servers, size):
    result = {}
    for clients in (1000, 10000):
        for s in servers:
            r = benchmark.measured(s, "get", size["conn"], clients=clients)
            result[(clients, s.name)] = r
    return result


def idle_memory(server, size):
    before = server.rss_bytes()
    conns = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(size["idle"])]
    conns[-1].sendall(b"PING\r\n")
    conns[-1].recv(16)
    time.sleep(0.5)
    after = server.rss_bytes()
    for c in conns:
        c.close()
    return (after - before) / size["idle"]


def key_memory(server, size):
    used0, rss0 = server.used_memory(), server.rss_bytes()
    payload = bytearray()
    for i in range(size["keys"]):
        key = b"key:%012d" % i  # 16 bytes, 32-byte values
        payload += b"*3\r\n$3\r\nSET\r\n$16\r\n" + key + b"\r\n$32\r\n" + b"v" * 32 + b"\r\n"
    subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"], input=bytes(payload), capture_output=True,
                   check=True)
    assert int(server.cli("dbsize")) == size["keys"]
    return {"used": (server.used_memory() - used0) / size["keys"], "rss": (server.rss_bytes() - rss0) / size["keys"]}


def on_fresh(factories, measure, size):
    """measure(server, size) on newly started servers (no earlier phase's heap)."""
    result = {}
    for factory in factories:
        s = factory()
        try:
            result[s.name] = measure(s, size)
        finally:
            s.stop()
    return result


def backlog(size, workers):
    """Stall every worker, connect far past the backlog, watch the accept
    queues fill and overflow, resume, watch them drain."""
    s = start_keyloop(workers, backlog=64)
    timeline, sockets = [], []
    start = time.time()

    def sample(phase):
        m = scrape(s.metrics_port)
        queued = sum(v for k, v in m.items() if k.startswith("keyloop_accept_queue_length"))
        limit = sum(v for k, v in m.items() if k.startswith("keyloop_accept_queue_max"))
        timeline.append({"t": time.time() - start, "queued": queued, "max": limit, "phase": phase,
                         "overflows": m.get("keyloop_listen_overflows_total", 0)})
    try:
        sample("running")
        s.signal_workers(signal.SIGSTOP)
        for _ in range(64 * workers * 3):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", s.port))
            sockets.append(c)
        end = time.time() + size["stall"]
        while time.time() < end:
            sample("stalled")
            time.sleep(0.1)
        s.signal_workers(signal.SIGCONT)
        end = time.time() + size["stall"]
        while time.time() < end:
            sample("resumed")
            time.sleep(0.1)
    finally:
        for c in sockets:
            c.close()
        s.signal_workers(signal.SIGCONT)
        s.stop()
    return timeline


def _preload(port, keys):
    """keys `key:N` with 32-byte values, half of them with a one-hour TTL,
    through redis-cli --pipe (mass insertion)."""
    value = "v" * 32
    lines = []
    for i in range(keys):
        k = f"key:{i}"
        if i % 2:
            lines.append(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$32\r\n{value}\r\n")
        else:
            lines.append(f"*5\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$32\r\n{value}\r\n$2\r\nEX\r\n$4\r\n3600\r\n")
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input="".join(lines).encode(),
                   capture_output=True, check=True)


def _probe(port, keys, stop, samples, errors):
    """One connection, one GET at a time on preloaded keys, as fast as it
    goes: every request's latency, and whether the value was right."""
    conn = socket.create_connection(("127.0.0.1", port))
    expected = b"$32\r\n" + b"v" * 32 + b"\r\n"
    start, i = time.time(), 0
    while not stop.is_set():
        key = f"key:{(i * 7919) % keys}".encode()
        t0 = time.time()
        conn.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
        reply = b""
        while not reply.endswith(b"\r\n") or (reply.startswith(b"$32") and len(reply) < len(expected)):
            chunk = conn.recv(4096)
            if not chunk:
                errors.append("closed")
                return
            reply += chunk
        samples.append((t0 - start, (time.time() - t0) * 1000))
        if reply != expected:
            errors.append(reply[:40])
        i += 1
    conn.close()


def _phase_stats(samples, windows):
    """p50/p99 latency and requests per second of the probe before the first
    reload, during the reloads (their windows) and after the last."""
    def stats(chosen, seconds):
        ms = sorted(m for _, m in chosen)
        if not ms:
            return {"p50": float("nan"), "p99": float("nan"), "rps": 0.0, "n": 0}
        return {"p50": ms[len(ms) // 2], "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
                "rps": len(ms) / seconds if seconds > 0 else 0.0, "n": len(ms)}
    first, last = windows[0][0], windows[-1][1]
    inside = lambda t: any(a <= t <= b for a, b in windows)
    end = samples[-1][0] if samples else last
    return {"before": stats([x for x in samples if x[0] < first], first - (samples[0][0] if samples else 0)),
            "during": stats([x for x in samples if inside(x[0])], sum(b - a for a, b in windows)),
            "after": stats([x for x in samples if x[0] > last], end - last)}


def _under_load(server, size, act):
    """Preloads `server`, puts GET load (redis-benchmark, 50 connections) and
    the probe on it, calls act(start) meanwhile; returns the probe's samples."""
    _preload(server.port, size["reload_keys"])
    samples, errors, stop = [], [], threading.Event()
    load = subprocess.Popen(["redis-benchmark", "-p", str(server.port), "-c", "50", "-n", "100000000", "-t", "get",
                             "-r", str(size["reload_keys"]), "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = threading.Thread(target=_probe, args=(server.port, size["reload_keys"], stop, samples, errors))
    start = time.time()
    probe.start()
    try:
        act(start)
        time.sleep(max(0.0, start + size["load"] - time.time()))
    finally:
        stop.set()
        probe.join()
        load.terminate()
        load.wait()
    return samples, errors


def reload_under_load(size, workers):
    """keyloop with preloaded keys under GET load plus a probe client timing
    every GET, while it reloads: the worker count down to 1 and back (keys
    handed over each time), then a settings-only reload. redis-server gets
    the same load and probe for the same time (it has no reload): the
    latency a client sees anyway."""
    pidfile = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"keyloop-loadtest-{os.getpid()}.pid")
    steps = [1, workers, workers] if workers > 1 else [2, 1, 1]
    result = {"keys": size["reload_keys"], "reloads": []}

    def reloads(s, start):
        gap = size["load"] / (len(steps) + 1)
        for i, count in enumerate(steps):
            time.sleep(max(0.0, start + gap * (i + 1) - time.time()))
            with open(s.config) as f:
                text = re.sub(r"^workers: \d+$", f"workers: {count}", f.read(), flags=re.M)
            with open(s.config, "w") as f:
                f.write(text + ("# settings-only reload\n" if i == len(steps) - 1 else ""))
            moved0 = scrape(s.metrics_port).get("keyloop_migrated_keys_total", 0)
            r0 = time.time()
            out = subprocess.run([os.path.join(ROOT, "build", "keyloop"), "-s", "reload", "-c", s.config],
                                 capture_output=True, text=True)
            r1 = time.time()
            m = scrape(s.metrics_port)
            moved = m.get("keyloop_migrated_keys_total", 0) - moved0
            result["reloads"].append({"t": r0 - start, "end": r1 - start, "seconds": r1 - r0,
                                      "ok": out.returncode == 0, "to": count, "moved": moved,
                                      "handover": m.get("keyloop_reload_duration_seconds", 0) if moved else 0,
                                      "pause": m.get("keyloop_reload_pause_seconds", 0) if moved else 0})

    s = start_keyloop(workers, extra=f"pidfile: {pidfile}\n")
    try:
        result["probe"], result["errors"] = _under_load(s, size, lambda start: reloads(s, start))
    finally:
        s.stop()
    result["phases"] = _phase_stats(result["probe"], [(r["t"], r["end"]) for r in result["reloads"]])
    r = start_redis()
    try:
        samples, errors = _under_load(r, size, lambda start: None)
    finally:
        r.stop()
    result["errors"] += errors
    result["redis"] = _phase_stats(samples, [(0.0, 0.0)])["after"]
    return result


def _scrape_every_second(port, stop):
    """What Prometheus does to a metered server while it works."""
    while not stop.wait(1.0):
        scrape(port)


def metrics_cost(size):
    """keyloop (1 worker) with metrics on, scraped every second, against
    metrics off: three alternating rounds, the median of each."""
    on, off = start_keyloop(1, name="metrics-on"), start_keyloop(1, name="metrics-off", metrics=False)
    stop = threading.Event()
    scraper = threading.Thread(target=_scrape_every_second, args=(on.metrics_port, stop), daemon=True)
    scraper.start()
    result = {}
    try:
        for pipeline in (1, 16):
            for test in ("set", "get"):
                runs = {"on": [], "off": []}
                for _ in range(3):
                    for key, s in (("on", on), ("off", off)):
                        runs[key].append(benchmark.run(s.port, test, size["p1" if pipeline == 1 else "p16"],
                                                       pipeline=pipeline)["rps"])
                result[(test.upper(), pipeline)] = {k: sorted(v)[1] for k, v in runs.items()}
    finally:
        stop.set()
        scraper.join()
        on.stop()
        off.stop()
    return result


def servers_for_comparison(workers):
    servers = [start_redis(), start_keyloop(1), start_keyloop(workers)]
    # KEYLOOP_BASELINE=path/to/an/older/keyloop: the same runs against it too,
    # for a before/after table from one run (loadtest/RESULTS.md).
    baseline = os.environ.get("KEYLOOP_BASELINE")
    if baseline:
        servers += [start_keyloop(1, name="before-w1", binary=baseline),
                    start_keyloop(workers, name=f"before-w{workers}", binary=baseline)]
    return servers


__all__ = ["SIZES", "throughput", "mix", "connections", "idle_memory", "key_memory", "on_fresh", "backlog",
           "reload_under_load", "metrics_cost", "servers_for_comparison", "start_redis", "start_keyloop"]
