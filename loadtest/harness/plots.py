"""The pictures of loadtest/run (matplotlib, headless)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def throughput(rows, names, path):
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(names)
    labels = [f"{r['test']} P={r['P']}" for r in rows]
    for i, name in enumerate(names):
        ax.bar([x + i * width for x in range(len(rows))], [r[name]["rps"] for r in rows], width, label=name)
    ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(rows))], labels, rotation=20)
    ax.set_ylabel("requests / s")
    ax.set_title("Throughput, redis-benchmark -c 50 (higher is better)")
    ax.legend()
    _save(fig, path)


def latency_cdf(row, names, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in names:
        cdf = row[name]["cdf"]
        ax.plot([ms for _, ms in cdf], [p for p, _ in cdf], drawstyle="steps-post", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("percentile")
    ax.set_title(f"Latency CDF, {row['test']} P={row['P']}")
    ax.legend()
    _save(fig, path)


def memory(idle, keys, path):
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4))
    a.bar(list(idle), list(idle.values()), color=["tab:gray", "tab:blue"])
    a.set_title("RSS per idle connection (bytes)")
    b.bar(list(keys), [v["used"] for v in keys.values()], color=["tab:gray", "tab:blue"])
    b.set_title("Memory per key (bytes, 16 B key + 32 B value)")
    _save(fig, path)


def backlog(timeline, path):
    fig, ax = plt.subplots(figsize=(9, 4))
    t = [p["t"] for p in timeline]
    ax.plot(t, [p["queued"] for p in timeline], label="keyloop_accept_queue_length (sum)")
    ax.plot(t, [p["max"] for p in timeline], "--", label="keyloop_accept_queue_max (sum)")
    stalled = [p["t"] for p in timeline if p["phase"] == "stalled"]
    if stalled:
        ax.axvspan(stalled[0], stalled[-1], alpha=0.15, color="red", label="workers stopped (SIGSTOP)")
    ax.set_xlabel("seconds")
    ax.set_ylabel("connections")
    ax2 = ax.twinx()
    ax2.plot(t, [p["overflows"] - timeline[0]["overflows"] for p in timeline], color="tab:red",
             label="listen overflows (increase)")
    ax2.set_ylabel("overflows")
    lines = ax.get_legend_handles_labels(), ax2.get_legend_handles_labels()
    ax.legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], loc="upper right", fontsize=8)
    ax.set_title("Backlog: workers stalled, clients keep connecting")
    _save(fig, path)


def reload(result, path):
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot([t for t, _ in result["probe"]], [ms for _, ms in result["probe"]], ".", markersize=2,
            label="GET latency (probe) under GET load")
    for i, r in enumerate(result["reloads"]):
        ax.axvspan(r["t"], r["end"], color="tab:red", alpha=0.3,
                   label="keyloop -s reload (start to answer)" if i == 0 else None)
        ax.annotate(f"→ {r['to']} workers" + (f"\n{r['moved']:,.0f} keys" if r["moved"] else "\nsettings"),
                    (r["t"], ax.get_ylim()[1] * 0.9), fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel("ms")
    ax.set_title("GET latency over time with reloads (keys handed over between generations)")
    ax.legend(loc="lower right")
    _save(fig, path)
