"""Servers under test, started on free loopback ports and stopped by pid:
redis-server (the peer) and keyloop (master + workers). CPU and memory are
read from /proc and summed over a server's processes (keyloop's master and
its workers)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TICKS = os.sysconf("SC_CLK_TCK")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port(taken=()):
    """A loopback port free now; another process may still take it before the server binds it,
    which is why starting a server retries (see `started`)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


class ServerExited(RuntimeError):
    """The server ended before it listened; the message carries the end of its output."""


def wait_port(port, proc=None, output=None, seconds=60):
    """Until `port` accepts; fails at once when `proc` ends first (its output in the error)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            text = ""
            if output is not None:
                output.seek(0)
                text = output.read().decode(errors="replace")[-2000:]
            raise ServerExited(f"exited with {proc.returncode} before listening on {port}:\n{text}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def started(make, attempts=3):
    """`make()` builds a Server on freshly chosen ports; a port taken between choosing and binding
    it (loopback ports are shared with every other test on the machine) means choosing again."""
    for attempt in range(attempts):
        try:
            return make()
        except ServerExited as e:
            if "in use" not in str(e) or attempt == attempts - 1:
                raise


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


class Server:
    """A started server; `scratch` (a directory of its own, or None) is removed when it stops."""
    def __init__(self, name, argv, port, metrics_port=None, config=None, scratch=None):
        self.name, self.port, self.metrics_port, self.config = name, port, metrics_port, config
        self.scratch = scratch
        self.output = tempfile.TemporaryFile()  # read only when the server fails to start
        self.proc = subprocess.Popen(argv, stdout=self.output, stderr=subprocess.STDOUT, cwd=scratch)
        try:
            wait_port(port, self.proc, self.output)
        except RuntimeError:
            self.kill()
            raise
        time.sleep(0.3)  # every worker up, not just the first to accept

    def pids(self):
        return [self.proc.pid] + children_of(self.proc.pid)

    def worker_pids(self):
        return children_of(self.proc.pid) if self.name.startswith("keyloop") else [self.proc.pid]

    def cpu_seconds(self, user_only=False):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + (0 if user_only else int(fields[12]))
            except OSError:
                pass
        return total / TICKS

    def rss_bytes(self):
        total = 0
        for pid in self.pids():
            with open(f"/proc/{pid}/status") as f:
                total += int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024
        return total

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args],
                              capture_output=True, text=True, check=True).stdout

    def used_memory(self):
        return int(re.search(r"used_memory:(\d+)", self.cli("info", "memory")).group(1))

    def signal_workers(self, signo):
        for pid in self.worker_pids():
            os.kill(pid, signo)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.forget()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.forget()

    def forget(self):
        self.output.close()
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


def start_redis(backlog=511):
    """redis-server with no persistence, in a directory of its own (it loads a dump.rdb from where it starts)."""
    def make():
        port, scratch = free_port(), tempfile.mkdtemp(prefix="keyloop-bench-redis-")
        return Server("redis-server", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--maxclients", "50000", "--tcp-backlog", str(backlog),
                                       "--dir", scratch],
                      port, scratch=scratch)
    return started(make)


def start_keyloop(workers, name=None, metrics=True, backlog=511, extra="", binary=None):
    return started(lambda: keyloop_server(workers, name, metrics, backlog, extra, binary))


def keyloop_server(workers, name, metrics, backlog, extra, binary):
    port = free_port()
    metrics_port = free_port(taken=(port,))
    scratch = tempfile.mkdtemp(prefix="keyloop-bench-")
    conf = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, dir=scratch)
    conf.write(f"listen:\n  - address: 127.0.0.1\n    port: {port}\n    backlog: {backlog}\n"
               f"workers: {workers}\nlimits:\n  maxclients: 50000\n"
               f"metrics:\n  enabled: {'yes' if metrics else 'no'}\n  port: {metrics_port}\n{extra}")
    if "persistence:" not in extra:  # benchmarks start empty and leave nothing behind
        conf.write(f"persistence:\n  dir: {conf.name}.data\n  snapshot:\n    save: \"\"\n")
    conf.close()
    binary = binary or os.path.join(ROOT, "build", "keyloop")
    return Server(name or f"keyloop-w{workers}", [binary, "-c", conf.name], port,
                  metrics_port if metrics else None, conf.name, scratch=scratch)


def redis_in(dir, extra=()):
    """redis-server keeping its files in `dir`: no save rules, no AOF unless `extra` (later options win) asks."""
    def make():
        port = free_port()
        return Server("redis-server", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", dir, "--dbfilename", "dump.rdb", *extra], port)
    return started(make)


def keyloop_in(dir, extra="", persistence=""):
    """keyloop (2 workers) keeping its files in `dir`, no save rules; `persistence` goes inside that
    section of the config, `extra` after it."""
    return start_keyloop(2, extra=f"persistence:\n  dir: {dir}\n  snapshot:\n    save: \"\"\n{persistence}{extra}")


def scrape(port):
    """keyloop's /metrics as {series: value}."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    samples = {}
    for line in data.decode().split("\r\n\r\n", 1)[-1].splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            samples[series] = float(value)
    return samples
