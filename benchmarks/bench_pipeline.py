"""How the pipeline's cost grows with the traffic: every stage at 2k, 20k and 100k sampled
requests on the offline demo world (three models, 300 labels per dimension), with each stage's
wall time and peak resident memory.

    python benchmarks/bench_pipeline.py [--sizes 2000 20000 100000] [--bertscore-up-to 2000]

Each stage is materialized on its own, in graph order, in this process, against a fresh DuckDB
file, with the real loopback provider (real HTTP through the SDKs) and real PyMC. BERTScore runs
for the sizes up to ``--bertscore-up-to`` only (about 65 pairs a second on two cores,
benchmarks/bench_scoring.py, so 60,000 answers take hours). The ratio column is each stage's
time over its time at the smallest size: linear growth in the traffic would be the size ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from dagster import DagsterInstance, materialize  # noqa: E402

from assets import ALL_ASSETS  # noqa: E402
from assets.partitions import all_models_tags, ensure_model_partitions  # noqa: E402
from pipeline import config  # noqa: E402
from resources import DataSources, ModelConfig, ModelRegistry, Warehouse  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 100000])
    parser.add_argument("--bertscore-up-to", type=int, default=2000)
    args = parser.parse_args()
    results = {}
    for rows in args.sizes:
        print(f"{rows} requests (BERTScore {'on' if rows <= args.bertscore_up_to else 'off'}):")
        results[rows] = run_size(rows, rows <= args.bertscore_up_to)
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
