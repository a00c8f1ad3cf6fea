"""Replay throughput against the loopback provider with simulated model latency.

    python benchmarks/bench_replay.py [--requests 2000] [--latency-ms 50] [--concurrency 32]
                                      [--client-processes 1]

The provider runs in its own process (as a real one would) and answers each request `latency`
after reading it (computing the demo answer included, as a real model's latency would be); the
ideal is concurrency / latency requests per second. Prints achieved vs ideal per SDK, with the
client's and the server's CPU.

The peer row, `aiohttp (no SDK)`, sends the same OpenAI-format requests with the same
concurrency straight through aiohttp, the SDKs' own transport, with none of the SDKs' request
building or error mapping. It shows what this machine and this server carry, so the rest of
the gap to the ideal is the client's CPU per request.

`--client-processes N` splits the requests over N forked client processes, each with 1/N of
the concurrency (the total in flight stays the same): an experiment in whether more cores on
the client side would close the gap on this machine. The replay itself runs in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import aiohttp
import pandas as pd

from pipeline.demo import server as offline_server
from pipeline.demo import world as demo_world
from pipeline.replay.online import Limits, ModelSpec, replay


def _serve(latency_s: float, urls, stop) -> None:
    with offline_server.serve(latency_s=latency_s) as server:
        urls.put((server.base_url, server.anthropic_base_url))
        stop.wait()


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _replay_without_sdk(requests: pd.DataFrame, url: str, concurrency: int) -> pd.DataFrame:
    """The peer: the same requests as the OpenAI SDK sends, on the same transport, no SDK."""
    async def send_all() -> list[str]:
        rows = iter(zip(requests["system"], requests["prompt"]))
        statuses: list[str] = []
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer k"}) as session:
            async def worker() -> None:
                for system, prompt in rows:
                    messages = [{"role": "system", "content": system}] if system else []
                    body = {"model": "incumbent-v1", "max_tokens": 512,
                            "messages": messages + [{"role": "user", "content": prompt}]}
                    async with session.post(f"{url}/chat/completions", json=body) as reply:
                        await reply.json()
                        statuses.append("ok" if reply.status == 200 else "error")
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return statuses
    return pd.DataFrame({"status": asyncio.run(send_all())})


def _timed(send, requests: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    cpu = time.process_time()
    out = send(requests)
    return out, time.process_time() - cpu


def _send_all(send, requests: pd.DataFrame, pool, processes: int) -> tuple[pd.DataFrame, float]:
    """The answers and the client CPU seconds they took, in this process or over the pool's."""
    if pool is None:
        return _timed(send, requests)
    shares = pool.map(_timed, [send] * processes, [requests.iloc[i::processes]
                                                   for i in range(processes)])
    outs, cpus = zip(*shares)
    return pd.concat(outs), sum(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--client-processes", type=int, default=1)
    args = parser.parse_args()

    traffic = demo_world.generate_traffic(args.requests, seed=1)[["request_id", "system", "prompt"]]
    urls, stop = mp.Queue(), mp.Event()
    server = mp.Process(target=_serve, args=(args.latency_ms / 1000, urls, stop), daemon=True)
    server.start()
    openai_url, anthropic_url = urls.get(timeout=30)
    ideal = args.concurrency / (args.latency_ms / 1000)
    processes = args.client_processes
    per_process = args.concurrency // processes
    pool = (ProcessPoolExecutor(processes, mp_context=mp.get_context("fork"))
            if processes > 1 else None)
    rows = []
    try:
        through_sdk = partial(replay, api_key="k", limits=Limits(per_process))
        clients = {
            "openai": partial(through_sdk, spec=ModelSpec("bench", "openai", "incumbent-v1"),
                              base_url=openai_url),
            "anthropic": partial(through_sdk, spec=ModelSpec("bench", "anthropic", "incumbent-v1"),
                                 base_url=anthropic_url),
            "aiohttp (no SDK)": partial(_replay_without_sdk, url=openai_url,
                                        concurrency=per_process),
        }
        for provider, send in clients.items():
            _send_all(send, traffic.head(args.concurrency), pool, processes)  # warm
            started, server_cpu = time.perf_counter(), _cpu_s(server.pid)
            out, cpu = _send_all(send, traffic, pool, processes)
            elapsed = time.perf_counter() - started
            server_cpu = _cpu_s(server.pid) - server_cpu
            achieved = len(out) / elapsed
            rows.append({"sdk": provider, "requests": len(out),
                         "ok": int((out.status == "ok").sum()),
                         "seconds": round(elapsed, 2), "req_per_s": round(achieved, 1),
                         "ideal_req_per_s": round(ideal, 1), "ratio": round(achieved / ideal, 3),
                         "client_cpu_ms_per_req": round(1000 * cpu / len(out), 2),
                         "client_cores": round(cpu / elapsed, 2),
                         "server_cores": round(server_cpu / elapsed, 2)})
    finally:
        if pool is not None:
            pool.shutdown()
        stop.set()
        server.join(timeout=10)
    print(f"latency {args.latency_ms:g} ms, concurrency {args.concurrency}, "
          f"client processes {processes}")
    table = pd.DataFrame(rows)
    table["vs_peer"] = (table["ratio"] / table["ratio"].iloc[-1]).round(3)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
