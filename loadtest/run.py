#!/usr/bin/env python3
"""loadtest/run: keyloop against redis-server, side by side, in one run;
writes the report and the plots. See loadtest/run for the entry point."""
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import plots, report, scenarios  # noqa: E402
from harness.servers import ROOT, start_keyloop, start_redis  # noqa: E402

BEGIN, END = "<!-- loadtest/run: begin -->", "<!-- loadtest/run: end -->"


def main():
    quick = "--quick" in sys.argv
    size = scenarios.SIZES["quick" if quick else "full"]
    workers = os.cpu_count() or 1
    out_dir = os.path.join(ROOT, "loadtest", "out" if quick else "plots")
    os.makedirs(out_dir, exist_ok=True)
    started = time.time()

    servers = scenarios.servers_for_comparison(workers)
    names = [s.name for s in servers]
    try:
        rows = scenarios.throughput(servers, size)
        mix = scenarios.mix(servers, size)
        conns = scenarios.connections(servers, size)
    finally:
        for s in servers:
            s.stop()
    factories = [start_redis, lambda: start_keyloop(workers)]
    idle = scenarios.on_fresh(factories, scenarios.idle_memory, size)
    keys = scenarios.on_fresh(factories, scenarios.key_memory, size)
    backlog = scenarios.backlog(size, workers)
    reload = scenarios.reload_under_load(size, workers)
    cost = scenarios.metrics_cost(size)
    fwd = report.forwarding(rows, names[1], names[2], workers) if workers > 1 else []

    plots.throughput(rows, names, os.path.join(out_dir, "throughput.png"))
    plots.latency_cdf(next(r for r in rows if r["test"] == "GET" and r["P"] == 1), names,
                      os.path.join(out_dir, "latency-cdf.png"))
    plots.memory({n.split("-w")[0]: v for n, v in idle.items()}, {n.split("-w")[0]: v for n, v in keys.items()},
                 os.path.join(out_dir, "memory.png"))
    plots.backlog(backlog, os.path.join(out_dir, "backlog.png"))
    plots.reload(reload, os.path.join(out_dir, "reload.png"))

    version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
    rel = os.path.relpath(out_dir, os.path.join(ROOT, "loadtest"))
    md = [BEGIN, "", "## loadtest/run" + (" (--quick: sizes too small to judge)" if quick else ""), "",
          f"- Date: {time.strftime('%Y-%m-%d')}; machine: {workers} CPUs, Linux {platform.release()}; "
          f"redis-server {version.removeprefix('v=')}; keyloop Release build; "
          f"whole run {time.time() - started:.0f} s",
          f"- Command: `loadtest/run{' --quick' if quick else ''}`; redis-benchmark -c 50 -r 100000 on the same "
          f"machine as the servers (it competes with them for the {workers} cores)",
          f"- Servers: {', '.join(names)} (keyloop-wN = N workers); CPU = utime+stime of every server process",
          "", "### Throughput, CPU per request, latency", "",
          report.throughput_table(rows, names), "",
          f"![throughput]({rel}/throughput.png) ![latency]({rel}/latency-cdf.png)", "",
          "### 1:10 SET:GET mix over 1M keys; many connections", "",
          "| scenario | " + " | ".join(f"{n} req/s" for n in names) + " | " +
          " | ".join(f"{n} ×" for n in names[1:]) + " |",
          "|---|" + "---:|" * (2 * len(names) - 1)]
    md.append("| mix 1:10 | " + " | ".join(f"{mix[n]['rps']:,.0f}" for n in names) + " | " +
              " | ".join(f"{report.ratio(mix[n]['rps'], mix[names[0]]['rps']):.2f}" for n in names[1:]) + " |")
    for clients in (1000, 10000):
        md.append(f"| GET, {clients:,} connections | " +
                  " | ".join(f"{conns[(clients, n)]['rps']:,.0f}" for n in names) + " | " +
                  " | ".join(f"{report.ratio(conns[(clients, n)]['rps'], conns[(clients, names[0])]['rps']):.2f}"
                             for n in names[1:]) + " |")
    md += ["", "### Memory", "", "| | redis | keyloop | ratio |", "|---|---:|---:|---:|"]
    r_idle, k_idle = idle["redis-server"], idle[f"keyloop-w{workers}"]
    r_key, k_key = keys["redis-server"], keys[f"keyloop-w{workers}"]
    md += [f"| RSS per idle connection ({size['idle']:,} clients) | {r_idle:,.0f} B | {k_idle:,.0f} B | "
           f"{report.ratio(k_idle, r_idle):.2f} |",
           f"| used_memory per key ({size['keys']:,} keys) | {r_key['used']:.1f} B | {k_key['used']:.1f} B | "
           f"{report.ratio(k_key['used'], r_key['used']):.2f} |",
           f"| RSS per key | {r_key['rss']:.1f} B | {k_key['rss']:.1f} B | {report.ratio(k_key['rss'], r_key['rss']):.2f} |",
           "", f"![memory]({rel}/memory.png)", ""]
    if fwd:
        md += ["### Forwarding cost", "",
               f"With {workers} workers a request's key is another worker's with chance {(workers - 1) / workers:.2f}; "
               "the forwarded cost is solved from the workers=1 and workers=N runs above.", "",
               "| test | P | local CPU µs/req | forwarded CPU µs/req | forwarded / local | same, user CPU only |",
               "|---|---:|---:|---:|---:|---:|"]
        md += [f"| {t} | {p} | {loc:.2f} | {f:.2f} | {r:.2f} | {u:.2f} |" for t, p, loc, f, r, u in fwd]
        md.append("")
    md += ["### Metrics on (scraped every second) vs off", "",
           "keyloop with 1 worker; median of three alternating runs.", "",
           "| test | P | off req/s | on req/s | on / off |", "|---|---:|---:|---:|---:|"]
    md += [f"| {t} | {p} | {c['off']:,.0f} | {c['on']:,.0f} | {report.ratio(c['on'], c['off']):.3f} |"
           for (t, p), c in cost.items()]
    md += ["", f"### Reload under load ({reload['keys']:,} keys, GET load from redis-benchmark -c 50)", "",
           "A probe client times every GET of its own (one at a time) before, during (from `keyloop -s reload` "
           "to its answer) and after reloads that change the worker count, so every key moves to a new "
           "generation; redis-server, which has no reload, gets the same load and probe for the same time. "
           "The keys are copied while the old workers serve; keyed commands wait (held, not refused) only "
           "for the final moment, when the keys written during the copy are sent (\"clients held\").", "",
           report.reload_tables(reload), "",
           f"![reload]({rel}/reload.png)", "",
           "### Backlog (keyloop only: Redis has no per-worker queues)", "",
           f"![backlog]({rel}/backlog.png)", "",
           "### Targets", "", "| target | met | this run |", "|---|---|---|"]
    md += [f"| {name} | {'yes' if ok else '**no**'} | {detail} |"
           for name, ok, detail in report.targets(rows, names, {"redis-server": r_idle, "keyloop": k_idle},
                                                  {"redis-server": r_key, "keyloop": k_key}, fwd, backlog, reload, cost)]
    md += ["", "Reading it: the load generator shares the machine's cores with the servers, so a "
           "configuration with more workers than free cores mostly adds contention (keyloop-wN rows). "
           "Why the unmet targets are unmet, and what was tried, is written up in the sections above "
           "(forwarding cost, CPU per request at P=1); "
           "this table is recomputed by every run.", "", END]
    text = "\n".join(md) + "\n"

    results = os.path.join(ROOT, "loadtest", "out" if quick else "", "RESULTS.md")
    report.replace_section(results, BEGIN, END, text)
    print(text)
    print(f"loadtest/run: wrote {os.path.relpath(results, ROOT)} and plots in "
          f"{os.path.relpath(out_dir, ROOT)}/ in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
