#!/usr/bin/env python3
"""Turns loop_bench's results into a markdown table of keyloop/libuv ratios.

argv[1]: Google Benchmark JSON (median of repetitions, ops/s from CPU time;
         the async row uses real time because two threads take part).
argv[2]: "name instructions operations" lines from callgrind runs.
Ratios are keyloop over libuv for ops/s (> 1 means keyloop is faster) and
libuv over keyloop for instructions per op (> 1 means keyloop does less)."""
import json
import sys

SCENARIOS = [
    ("timer start+stop (10k armed)", "TimerStartStop_keyloop", "TimerStartStop_libuv", "timer"),
    ("socketpair ping-pong, level-triggered", "PingPong_keyloop_level", "PingPong_libuv",
     "pingpong"),
    ("socketpair ping-pong, edge-triggered", "PingPong_keyloop_edge", "PingPong_libuv", None),
    ("async wake-up ping-pong, 2 threads", "AsyncPingPong_keyloop", "AsyncPingPong_libuv",
     "async"),
]


def medians(path):
    with open(path) as f:
        data = json.load(f)
    rates = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") == "median":
            rates[b["run_name"].split("/")[0].removeprefix("BM_")] = b["items_per_second"]
    return data["context"], rates


def instructions(path):
    per_op = {}
    with open(path) as f:
        for line in f:
            name, total, ops = line.split()
            per_op[name] = int(total) / int(ops)
    return per_op


def main():
    context, rates = medians(sys.argv[1])
    per_op = instructions(sys.argv[2])
    print(f"{context.get('num_cpus')} CPUs, {context.get('date')}")
    print()
    print("| scenario | keyloop ops/s | libuv ops/s | ops/s ratio | keyloop instr/op "
          "| libuv instr/op | instr ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, ours, theirs, counted in SCENARIOS:
        a, b = rates[ours], rates[theirs]
        row = f"| {label} | {a:,.0f} | {b:,.0f} | {a / b:.2f} |"
        if counted:
            ia, ib = per_op[counted + "_keyloop"], per_op[counted + "_libuv"]
            row += f" {ia:,.0f} | {ib:,.0f} | {ib / ia:.2f} |"
        else:
            row += " | | |"
        print(row)


if __name__ == "__main__":
    main()
