"""Where production traffic and human labels come from: files the team exports, or the
built-in demo world (generated once, deterministically, under ``demo_dir``)."""

from __future__ import annotations

import glob
from pathlib import Path

from dagster import ConfigurableResource

DEMO = "demo"


class DataSources(ConfigurableResource):
    """``traffic``: production requests: a Parquet or CSV file, a glob of them (partitioned
    exports), an object-store path (``s3://...``), a table of another database
    (``duckdb:PATH#[schema.]table``), or ``demo`` (README, Input formats).
    ``labels``: a label file or glob (CSV, TSV, Parquet), or ``demo``."""

    traffic: str = DEMO
    labels: str = DEMO
    demo_dir: str = "data/demo"
    demo_rows: int = 2000
    demo_labels_per_dimension: int = 300
    demo_seed: int = 7

    def traffic_source(self) -> str:
        """The traffic setting as ``pipeline.data.traffic`` reads it (the demo: its file)."""
        return self.traffic if self.traffic != DEMO else str(self._demo_files()[0])

    def traffic_file(self) -> str:
        """The same as :meth:`traffic_source` (its name from when traffic was one file)."""
        return self.traffic_source()

    def label_files(self) -> list[Path]:
        if self.labels != DEMO:
            return [Path(p) for p in sorted(glob.glob(self.labels))] or [Path(self.labels)]
        return [self._demo_files()[1]]

    def _demo_files(self) -> tuple[Path, Path]:
        from pipeline.demo import world as demo_world  # only the demo source needs it

        folder = Path(self.demo_dir)
        stem = (f"{self.demo_rows}-{self.demo_labels_per_dimension}-{self.demo_seed}"
                f"-v{demo_world.WORLD_VERSION}")
        traffic_path = folder / f"traffic-{stem}.parquet"
        labels_path = folder / f"human_labels-{stem}.csv"
        if not (traffic_path.exists() and labels_path.exists()):
            folder.mkdir(parents=True, exist_ok=True)
            traffic = demo_world.generate_traffic(self.demo_rows, self.demo_seed)
            labels = demo_world.generate_labels(
                traffic, self.demo_labels_per_dimension, self.demo_seed
            )
            labels.to_csv(labels_path, index=False)
            traffic.to_parquet(traffic_path, index=False)  # last: its presence marks completion
        return traffic_path, labels_path
