"""Replay throughput against the loopback provider with simulated model latency.

    python benchmarks/bench_replay.py [--requests 2000] [--latency-ms 50] [--concurrency 32]

The provider runs in its own process (as a real one would) and answers each request `latency`
after reading it (computing the demo answer included, as a real model's latency would be); the
ideal is concurrency / latency requests per second. Prints achieved vs ideal per SDK, with the
client's and the server's CPU.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

import pandas as pd

from pipeline import demo_world, offline_server
from pipeline.replay import Limits, ModelSpec, replay


def _serve(latency_s: float, urls, stop) -> None:
    with offline_server.serve(latency_s=latency_s) as server:
        urls.put((server.base_url, server.anthropic_base_url))
        stop.wait()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()

    traffic = demo_world.generate_traffic(args.requests, seed=1)[["request_id", "system", "prompt"]]
    urls, stop = mp.Queue(), mp.Event()
    server = mp.Process(target=_serve, args=(args.latency_ms / 1000, urls, stop), daemon=True)
    server.start()
    openai_url, anthropic_url = urls.get(timeout=30)
    ideal = args.concurrency / (args.latency_ms / 1000)
    rows = []
    try:
        for provider, url in (("openai", openai_url), ("anthropic", anthropic_url)):
            spec = ModelSpec("bench", provider, "incumbent-v1")
            replay(traffic.head(args.concurrency), spec, "k", url, Limits(args.concurrency))  # warm
            started, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu_s(server.pid)
            out = replay(traffic, spec, "k", url, Limits(args.concurrency))
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            server_cpu = _cpu_s(server.pid) - server_cpu
            achieved = len(out) / elapsed
            rows.append({"sdk": provider, "requests": len(out), "ok": int((out.status == "ok").sum()),
                         "seconds": round(elapsed, 2), "req_per_s": round(achieved, 1),
                         "ideal_req_per_s": round(ideal, 1), "ratio": round(achieved / ideal, 3),
                         "client_cpu_ms_per_req": round(1000 * cpu / len(out), 2),
                         "client_cores": round(cpu / elapsed, 2),
                         "server_cores": round(server_cpu / elapsed, 2)})
    finally:
        stop.set()
        server.join(timeout=10)
    print(f"latency {args.latency_ms:g} ms, concurrency {args.concurrency}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
