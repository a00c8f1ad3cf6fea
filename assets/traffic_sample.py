"""traffic_sample: the region-stratified sample of production requests to replay."""

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from pipeline.data.traffic import read_traffic, sample_traffic
from pipeline.data.warehouse import insert_frame
from pipeline.replay.redaction import redact
from resources import DataSources, Warehouse


class TrafficSampleConfig(Config):
    sample_size: int | None = None  # None: every request in the source
    seed: int = 0
    # Personal data removed from prompts and references before anything is stored or sent.
    redact: list[str] = ["email", "card", "phone"]
    redact_patterns: dict[str, str] = {}  # extra placeholder name -> regular expression


@asset(group_name="replay", description="Sampled production requests (table `traffic`).")
def traffic_sample(
    context: AssetExecutionContext, config: TrafficSampleConfig, sources: DataSources,
    warehouse: Warehouse,
) -> MaterializeResult:
    path = sources.traffic_file()
    sample = sample_traffic(read_traffic(path), config.sample_size, config.seed)
    original = sample["prompt"].copy()
    for column in ("prompt", "reference"):
        sample[column] = [redact(text, config.redact, config.redact_patterns)
                          for text in sample[column]]
    sample["sampled_at"] = pd.Timestamp.now(tz="UTC")
    with warehouse.connect() as conn:
        insert_frame(conn, "traffic", sample, or_replace=True)
        total = conn.execute("SELECT count(*) FROM traffic").fetchone()[0]
    context.log.info(f"sampled {len(sample)} requests from {path}")
    return MaterializeResult(metadata={
        "source": str(path),
        "sampled": len(sample),
        "prompts_redacted": int((sample["prompt"] != original).sum()),
        "traffic_rows": total,
        "by_region": sample["region"].value_counts().sort_index().to_dict(),
    })
