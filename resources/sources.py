"""Where production traffic and human labels come from: files the team exports, or the
built-in demo world (generated once, deterministically, under ``demo_dir``)."""

from __future__ import annotations

import glob
from pathlib import Path

from dagster import ConfigurableResource

DEMO = "demo"


class DataSources(ConfigurableResource):
    """``traffic``: a Parquet or CSV file of production requests, or ``demo``.
    ``labels``: a label file or glob (CSV, TSV, Parquet), or ``demo``."""

    traffic: str = DEMO
    labels: str = DEMO
    demo_dir: str = "data/demo"
    demo_rows: int = 2000
    demo_labels_per_dimension: int = 300
    demo_seed: int = 7

    def traffic_file(self) -> Path:
        if self.traffic != DEMO:
            return Path(self.traffic)
        return self._demo_files()[0]

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
