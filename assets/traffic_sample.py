"""traffic_sample: the region-stratified sample of production requests to replay, and
production's logged answers to them (`responses` rows with source 'logged')."""

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from assets.metadata import table_metadata
from pipeline.data.answers import logged_answers
from pipeline.data.traffic import TRAFFIC_COLUMNS, TrafficFileError, read_traffic, sample_traffic
from pipeline.data.warehouse import insert_frame, transaction
from pipeline.replay.redaction import KINDS, Redactor, phone_regions_for
from resources import DataSources, ModelRegistry, Warehouse


class TrafficSampleConfig(Config):
    sample_size: int | None = None  # None: every request in the source
    seed: int = 0
    redact: list[str] = Field(list(KINDS), description=(
        "kinds of personal data and secrets replaced by placeholders in every system prompt, "
        "prompt, reference and logged answer before anything is stored or sent: "
        f"{', '.join(KINDS)} (README, Redaction)"))
    redact_patterns: dict[str, str] = Field({}, description=(
        "further placeholder name -> regular expression, e.g. {customer: 'C-\\d{5}'} gives "
        "[CUSTOMER_1]"))


def _check_logged_models(traffic: pd.DataFrame, path, models: ModelRegistry) -> None:
    unknown = traffic["response"].notna() & ~traffic["model"].isin(models.names())
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0]) + 1
        model = traffic["model"].iloc[row - 1]
        raise TrafficFileError(f"{path}, row {row}, field model: {model!r} "
                               f"is not a model of the registry ({models.names()})")


REDACTED_COLUMNS = ("system", "prompt", "reference", "response")


def redact_sample(sample: pd.DataFrame, kinds, patterns) -> dict[str, int]:
    """Redacts the system prompt, prompt, reference and logged answer of every request in
    place, one redactor per request (a value has one placeholder across its fields; the
    request's region, when a country code, adds its phone formats). Returns how many values
    of each kind were replaced."""
    counts: dict[str, int] = {}
    columns = [c for c in REDACTED_COLUMNS if c in sample.columns]
    rows = []
    for region, *texts in zip(sample["region"], *(sample[c] for c in columns)):
        redactor = Redactor(kinds, patterns, phone_regions_for(region))
        rows.append([redactor(text) for text in texts])
        for kind, n in redactor.counts.items():
            counts[kind] = counts.get(kind, 0) + n
    for i, column in enumerate(columns):
        sample[column] = [row[i] for row in rows] if rows else sample[column]
    return counts


@asset(group_name="replay", kinds={"duckdb"}, metadata=table_metadata("traffic"),
       description="Sampled production requests (table `traffic`), and production's logged "
                   "answers to them (`responses`, source 'logged').")
def traffic_sample(
    context: AssetExecutionContext, config: TrafficSampleConfig, sources: DataSources,
    models: ModelRegistry, warehouse: Warehouse,
) -> MaterializeResult:
    path = sources.traffic_file()
    traffic = read_traffic(path)
    _check_logged_models(traffic, path, models)
    sample = sample_traffic(traffic, config.sample_size, config.seed)
    original = sample["prompt"].copy()
    redacted = redact_sample(sample, config.redact, config.redact_patterns)
    now = pd.Timestamp.now(tz="UTC")
    logged = logged_answers(sample, now)
    with warehouse.connect() as conn, transaction(conn):
        insert_frame(conn, "traffic", sample[TRAFFIC_COLUMNS].assign(sampled_at=now),
                     or_replace=True)
        # A logged answer that changed in a new export replaces the old one (and its labels,
        # tied to the old text, leave the fits).
        insert_frame(conn, "responses", logged, or_replace=True)
        total = conn.execute("SELECT count(*) FROM traffic").fetchone()[0]
    context.log.info(f"sampled {len(sample)} requests from {path}, {len(logged)} with "
                     "production's logged answer")
    return MaterializeResult(metadata={
        "source": str(path),
        "sampled": len(sample),
        "logged_answers": logged["model"].value_counts().sort_index().to_dict(),
        "prompts_redacted": int((sample["prompt"] != original).sum()),
        "redactions": {kind: redacted.get(kind, 0) for kind in  # occurrences replaced
                       (*KINDS, *(name.lower() for name in config.redact_patterns))},
        "traffic_rows": total,
        "by_region": sample["region"].value_counts().sort_index().to_dict(),
        "dagster/row_count": int(total),
    })
