"""replay_fidelity: production's logged answers against the replay of the same requests."""

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.auto_scores import CODE_VERSION as SCORERS_VERSION
from assets.auto_scores import SCORERS, AutoScoresConfig
from assets.metadata import table_metadata
from assets.replay_responses import replay_responses
from pipeline.data.markdown import markdown_table
from pipeline.data.warehouse import replace_tables
from pipeline.scoring import bertscore, rouge_l
from pipeline.scoring.fidelity import fidelity_warnings, summarise_fidelity
from resources import Warehouse

CHECK = "replay_matches_production"

_BOTH_WAYS = """
SELECT l.request_id, l.model, t.region, t.reference, t.prompt, t.language, t.expects_refusal,
       l.response AS logged, r.response AS replayed
FROM responses l
JOIN responses r ON r.request_id = l.request_id AND r.model = l.model
JOIN traffic t ON t.request_id = l.request_id
WHERE l.source = 'logged' AND r.source IN ('replay', 'batch')
  AND l.status = 'ok' AND r.status = 'ok'
ORDER BY l.model, l.request_id
"""


class FidelityConfig(Config):
    min_text_similarity: float = Field(
        0.5, description="warn below this mean ROUGE-L F between logged and replayed texts")
    max_score_difference: float = Field(
        0.1, description="warn when a dimension's mean automated score moves more than this")
    bertscore: bool = Field(False, description="also BERTScore F1 between the texts (slow on "
                                               "CPU: about 65 pairs a second on two cores)")
    scoring: AutoScoresConfig = AutoScoresConfig()  # the style guides, as auto_scores has them


def _scored_side(rows: pd.DataFrame, side: str, config: AutoScoresConfig) -> dict:
    texts = rows.assign(response=rows[side])
    scores = {}
    for family in ("rouge_l", "refusal", "style"):
        scores.update(SCORERS[family][2](texts, config))
    return {f"{side}_{metric}": values for metric, values in scores.items()}


def fidelity_pairs(rows: pd.DataFrame, config: FidelityConfig) -> pd.DataFrame:
    """The requests answered both ways, with both sides' scores and the texts' similarity."""
    if rows.empty:
        return rows
    pairs = rows.assign(
        **_scored_side(rows, "logged", config.scoring),
        **_scored_side(rows, "replayed", config.scoring),
        text_rouge_l=rouge_l(rows["replayed"].tolist(), rows["logged"].tolist())["f1"].to_numpy(),
    )
    if config.bertscore:
        pairs["text_bertscore"] = bertscore(rows["replayed"].tolist(),
                                            rows["logged"].tolist())["f1"].to_numpy()
    return pairs


@asset(deps=[replay_responses], group_name="replay", kinds={"duckdb"},
       metadata=table_metadata("replay_fidelity"),
       code_version=SCORERS_VERSION,
       check_specs=[AssetCheckSpec(CHECK, asset="replay_fidelity",
                                   description="The replay is close to what production served "
                                               "(warns past the configured thresholds)")],
       description="How far replayed answers are from production's logged ones for the same "
                   "requests, per model, region and dimension (table `replay_fidelity`).")
def replay_fidelity(context: AssetExecutionContext, config: FidelityConfig,
                    warehouse: Warehouse):
    with warehouse.connect() as conn:
        rows = conn.execute(_BOTH_WAYS).df()
    table = summarise_fidelity(fidelity_pairs(rows, config))
    with warehouse.connect() as conn:
        replace_tables(conn, {"replay_fidelity": table.assign(
            measured_at=pd.Timestamp.now(tz="UTC"))})
    warnings = fidelity_warnings(table, config.min_text_similarity, config.max_score_difference)
    for warning in warnings:
        context.log.warning(warning)
    overall = table[table["region"].isna()].drop(columns="region")
    yield MaterializeResult(metadata={
        "models": sorted(table["model"].unique().tolist()),
        "dagster/row_count": len(table),
        "overall": MetadataValue.md(markdown_table(overall) if len(overall)
                                    else "no model has both logged and replayed answers"),
    })
    yield AssetCheckResult(
        check_name=CHECK, passed=not warnings, severity=AssetCheckSeverity.WARN,
        description=" | ".join(warnings) if warnings else
        ("every replay is within the thresholds" if len(table) else
         "nothing to compare: no model has both logged and replayed answers"),
        metadata={"min_text_similarity": config.min_text_similarity,
                  "max_score_difference": config.max_score_difference})
