"""How the pipeline's cost grows with the traffic: every stage at 2k, 20k and 100k sampled
requests on the offline demo world (three models, 300 labels per dimension), with each stage's
wall time and peak resident memory.

    python benchmarks/bench_pipeline.py [--sizes 2000 20000 100000] [--bertscore-up-to 2000]

Each stage is materialized on its own, in graph order, in this process, against a fresh DuckDB
file, with the real loopback provider (real HTTP through the SDKs) and real PyMC. BERTScore runs
for the sizes up to ``--bertscore-up-to`` only (about 65 pairs a second on two cores,
benchmarks/bench_scoring.py, so 60,000 answers take hours). The ratio column is each stage's
time over its time at the smallest size: linear growth in the traffic would be the size ratio.

How it grows with workers (issue 20, item 7):

    python benchmarks/bench_pipeline.py --workers 1 2 4 [--sizes 20000 100000]
                                        [--latency 0.5] [--candidates 4] [--concurrency 64]

replays every model partition of a registry with ``--candidates`` candidates (the demo's
candidate-a on Anthropic's API and candidate-b on an OpenAI-compatible server, then more on
OpenAI's and the OpenAI-compatible API; the retired incumbent's logged answers stand) as a
``dagster asset materialize --partition M`` process each, all started at once against one
warehouse file and one Dagster instance on disk whose `llm_replay` pool lets ``W`` of them
replay at a time (``dagster instance concurrency set llm_replay W``; the others wait for a
slot, as queued runs do). One loopback provider, in
this process, answers every request after ``--latency`` seconds. Each worker runs its step in
its own process (``in_process`` executor), so a worker is one process. Printed per size and
worker count: the wall time from launch to the last exit, each worker's peak resident memory,
rows lost (sampled requests x candidates minus the successful answers stored; 0), rows doubled
(0), and lock errors (DuckDB's "Could not set lock" or WarehouseBusy in any worker's output,
and runs that failed; 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import duckdb  # noqa: E402
from dagster import DagsterInstance, materialize  # noqa: E402

from assets import ALL_ASSETS, traffic_sample  # noqa: E402
from assets.partitions import all_models_tags, ensure_model_partitions  # noqa: E402
from assets.replay_responses import REPLAY_POOL  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.demo import server as offline_server  # noqa: E402
from resources import (  # noqa: E402
    Artifacts,
    DataSources,
    ModelConfig,
    ModelRegistry,
    Warehouse,
)

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = str(Path(sys.executable).parent / "dagster")

PAGE = os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """The process's peak resident memory while the block runs, sampled every 50 ms."""

    def __enter__(self):
        self.peak, self._stop = self.rss(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * PAGE

    def _watch(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.rss())


def resources(folder: Path, rows: int) -> dict:
    registry = config.demo_registry()
    return {"warehouse": Warehouse(database=str(folder / "w.duckdb")),
            "artifacts": Artifacts(root=str(folder / "artifacts")),
            "models": ModelRegistry(incumbent=registry["incumbent"], offline=True,
                                    models=[ModelConfig(**m) for m in registry["models"]]),
            "sources": DataSources(demo_dir=str(folder / "demo"), demo_rows=rows)}


def run_size(rows: int, bertscore: bool) -> dict[str, tuple[float, float]]:
    """stage -> (seconds, peak GiB) for one pipeline run on ``rows`` requests."""
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        res = resources(Path(tmp), rows)
        res["sources"].traffic_file()  # the demo world is written before the clock starts
        instance = DagsterInstance.ephemeral()
        ensure_model_partitions(instance, res["models"].names())
        run_config = {"ops": {"auto_scores": {"config": {"bertscore": bertscore}}}}
        for asset in ALL_ASSETS:
            (key,) = asset.keys
            started = time.perf_counter()
            with PeakMemory() as memory:
                result = materialize(ALL_ASSETS, selection=[key], resources=res,
                                     instance=instance, run_config=_only(run_config, key),
                                     tags=all_models_tags(instance) if asset.partitions_def
                                     else None, raise_on_error=False)
            if not result.success:
                raise SystemExit(f"{key.to_user_string()} failed at {rows} rows")
            stage = key.to_user_string()
            timings[stage] = (time.perf_counter() - started, memory.peak / 2**30)
            print(f"  {rows:>7} {stage:<22} {timings[stage][0]:8.1f} s "
                  f"{timings[stage][1]:6.2f} GiB", flush=True)
    return timings


def _only(run_config: dict, key) -> dict:
    name = key.to_user_string()
    return {"ops": {k: v for k, v in run_config["ops"].items() if k == name}}


# --- workers -------------------------------------------------------------------------------

# The candidates, in order: provider, and the model id the loopback provider answers as.
CANDIDATES = [("candidate-a", "anthropic", "candidate-a"),
              ("candidate-b", "openai_compatible", "candidate-b"),
              ("candidate-c", "openai", "candidate-c"),
              ("candidate-d", "openai_compatible", "candidate-d")]
KEYS = {"OPENAI_API_KEY": "offline", "ANTHROPIC_API_KEY": "offline"}
LOCK_ERRORS = ("Could not set lock", "WarehouseBusy")


def write_registry(path: Path, server, candidates: int, concurrency: int) -> list[str]:
    """A registry of the retired incumbent and ``candidates`` candidates, all served by the one
    loopback provider as real providers are; returns the candidates' names."""
    chosen = CANDIDATES[:candidates]
    lines = [f"incumbent: incumbent-v1\nconcurrency: {concurrency}\nmodels:",
             "  - {name: incumbent-v1, provider: openai, model_id: incumbent-v1, retired: true}"]
    for name, provider, model_id in chosen:
        url = server.anthropic_base_url if provider == "anthropic" else server.base_url
        lines.append(f"  - {{name: {name}, provider: {provider}, model_id: {model_id}, "
                     f"base_url: '{url}'}}")
    path.write_text("\n".join(lines) + "\n")
    return [name for name, *_ in chosen]


def launch_worker(name: str, env: dict, log: Path) -> tuple[subprocess.Popen, Path]:
    """One run of the model's partition, its step in this one process, its output in ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(
            [DAGSTER, "asset", "materialize", "-m", "assets.definitions", "--select",
             "replay_responses", "--partition", name,
             "--config-json", json.dumps({"execution": {"config": {"in_process": {}}}})],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT), log


def wait_for(worker: subprocess.Popen, log: Path) -> tuple[int, float, str]:
    """(exit status, peak resident GiB, output) of a finished worker."""
    _, status, usage = os.wait4(worker.pid, 0)
    worker.returncode = os.waitstatus_to_exitcode(status)
    return worker.returncode, usage.ru_maxrss * 1024 / 2**30, log.read_text()


def count_rows(database: Path, names: list[str]) -> tuple[int, int]:
    """(successful replayed answers of ``names``, rows doubled)."""
    with duckdb.connect(str(database), read_only=True) as conn:
        ok, total, distinct = conn.execute(
            "SELECT count(*) FILTER (status = 'ok'), count(*), "
            "count(DISTINCT (request_id, model, source)) FROM responses "
            "WHERE source <> 'logged' AND list_contains(?, model)", [names]).fetchone()
    return ok, total - distinct


def run_workers(rows: int, workers: int, args) -> dict:
    """One replay of every candidate partition through ``workers`` replay slots."""
    with tempfile.TemporaryDirectory() as tmp, \
            offline_server.serve(latency_s=args.latency, retired={"incumbent-v1"}) as server:
        folder = Path(tmp)
        home = folder / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        registry = folder / "models.yaml"
        names = write_registry(registry, server, args.candidates, args.concurrency)
        database = folder / "w.duckdb"
        sources = DataSources(demo_dir=str(args.demo_dir), demo_rows=rows)
        traffic = sources.traffic_file()
        models = ModelRegistry.from_file(registry, openai_api_key="offline",
                                         anthropic_api_key="offline")
        with DagsterInstance.from_config(str(home)) as instance:
            # `dagster instance concurrency set llm_replay W`, before any run reaches the pool
            instance.event_log_storage.set_concurrency_slots(REPLAY_POOL, workers)
            ensure_model_partitions(instance, models.names())
            assert materialize([traffic_sample], instance=instance, resources={
                "warehouse": Warehouse(database=str(database)), "models": models,
                "sources": DataSources(traffic=str(traffic))}).success
        env = {**os.environ, **KEYS, "DAGSTER_HOME": str(home),
               "LLM_MIGRATE_DB": str(database), "LLM_MIGRATE_MODELS": str(registry),
               "LLM_MIGRATE_TRAFFIC": str(traffic),
               "LLM_MIGRATE_ARTIFACTS": str(folder / "artifacts")}
        started = time.perf_counter()
        launched = [launch_worker(name, env, folder / f"worker-{i}.log")
                    for i, name in enumerate(names)]
        finished = [wait_for(worker, log) for worker, log in launched]
        wall = time.perf_counter() - started
        stored, doubled = count_rows(database, names)
        asked = len(server.arrival_times)
    failed = [output for code, _, output in finished if code != 0]
    for output in failed:  # the error lines of each failed run, not its whole log
        print("\n".join(line for line in output.splitlines() if "Error" in line),
              file=sys.stderr)
    return {"rows": rows, "workers": workers, "wall_s": wall, "requests": asked,
            "peak_gib": [round(peak, 2) for _, peak, _ in finished],
            "lost": rows * len(names) - stored, "doubled": doubled, "failed_runs": len(failed),
            "lock_errors": sum(output.count(e) for _, _, output in finished
                               for e in LOCK_ERRORS)}


def print_workers_table(results: list[dict], args) -> None:
    print(f"\nreplay of {args.candidates} candidate partitions, loopback provider answering in "
          f"{args.latency} s, {args.concurrency} in flight per model:")
    print("| requests | workers | wall s | speed-up | peak GiB per worker | rows lost | "
          "rows doubled | lock errors |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        one = next((o for o in results if o["rows"] == r["rows"] and o["workers"] == 1), None)
        speedup = f"{one['wall_s'] / r['wall_s']:.2f}x" if one else "-"
        print(f"| {r['rows']:,} x {args.candidates} | {r['workers']} | {r['wall_s']:.0f} | "
              f"{speedup} | {', '.join(f'{g:.2f}' for g in r['peak_gib'])} | {r['lost']} | "
              f"{r['doubled']} | {r['lock_errors'] + r['failed_runs']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="sampled requests (default: 2000 20000 100000; with --workers: "
                             "20000 100000)")
    parser.add_argument("--bertscore-up-to", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+",
                        help="replay every candidate partition through this many replay "
                             "slots, each a process (e.g. 1 2 4)")
    parser.add_argument("--latency", type=float, default=0.5,
                        help="seconds the loopback provider takes to answer (--workers)")
    parser.add_argument("--candidates", type=int, default=4, choices=range(1, 5),
                        help="candidate partitions replayed (--workers)")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="requests in flight per model, the registry's (--workers)")
    parser.add_argument("--demo-dir", type=Path, default=ROOT / "data" / "bench_demo",
                        help="where the demo traffic of each size is written once (--workers)")
    args = parser.parse_args()
    if args.workers:
        results = []
        for rows in args.sizes or [20000, 100000]:
            for workers in args.workers:
                results.append(run_workers(rows, workers, args))
                print(json.dumps(results[-1]), flush=True)
        print_workers_table(results, args)
        return
    stages(args.sizes or [2000, 20000, 100000], args.bertscore_up_to)


def stages(sizes: list[int], bertscore_up_to: int) -> None:
    results = {}
    for rows in sizes:
        print(f"{rows} requests (BERTScore {'on' if rows <= bertscore_up_to else 'off'}):")
        results[rows] = run_size(rows, rows <= bertscore_up_to)
    smallest = min(results)
    print(f"\n| stage | {' | '.join(f'{n:,} s (GiB)' for n in results)} | "
          f"ratio to {smallest:,} |")
    print("|---|" + "---|" * (len(results) + 1))
    for stage in results[smallest]:
        cells = [f"{results[n][stage][0]:.1f} ({results[n][stage][1]:.2f})" for n in results]
        base = results[smallest][stage][0]
        ratios = ", ".join(f"{results[n][stage][0] / base:.1f}x" for n in results if n != smallest)
        print(f"| {stage} | {' | '.join(cells)} | {ratios or '-'} |")
    totals = {n: sum(t for t, _ in results[n].values()) for n in results}
    growth = ", ".join(f"{totals[n] / totals[smallest]:.1f}x" for n in results if n != smallest)
    print(f"| total | {' | '.join(f'{totals[n]:.1f}' for n in results)} | {growth} |")


if __name__ == "__main__":
    main()
