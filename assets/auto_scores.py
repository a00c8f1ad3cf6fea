"""auto_scores: automated scores of every successful response."""

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from pipeline.scoring import StyleGuide, bertscore, refusal_score, rouge_l, style_score
from pipeline.scoring import bert as bert_module
from pipeline.scoring import refusal as refusal_module
from pipeline.scoring import rouge as rouge_module
from pipeline.scoring import style as style_module
from pipeline.warehouse import insert_frame
from resources import Warehouse

from assets.replay_responses import replay_responses

_UNSCORED = """
SELECT r.request_id, r.model, r.response, t.reference, t.prompt, t.region
FROM responses r JOIN traffic t USING (request_id)
WHERE r.status = 'ok' AND NOT EXISTS (
    SELECT 1 FROM auto_scores s
    WHERE s.request_id = r.request_id AND s.model = r.model
      AND s.metric = ? AND s.metric_version = ? AND s.scored_at >= r.replayed_at)
"""


class StyleGuideConfig(Config):
    """A region's style guide (see pipeline.scoring.style.StyleGuide)."""

    max_words: int = 60
    min_words: int = 1
    banned_phrases: list[str] = ["as an ai language model"]
    required_phrases: list[str] = []
    plain_text: bool = True

    def guide(self) -> StyleGuide:
        return StyleGuide(self.max_words, self.min_words, tuple(self.banned_phrases),
                          tuple(self.required_phrases), self.plain_text)


class AutoScoresConfig(Config):
    bertscore: bool = True  # the heaviest scorer (~65 pairs/s on two cores): switch off to skip
    chunk_size: int = 2000  # responses scored and stored per step: progress survives a crash
    style_default: StyleGuideConfig = StyleGuideConfig()
    style_by_region: dict[str, StyleGuideConfig] = {}  # region -> its own guide


def _rouge(rows: pd.DataFrame, _config) -> dict[str, pd.Series]:
    has_reference = rows["reference"].notna()
    scores = rouge_l(rows["response"].tolist(), rows["reference"].fillna("").tolist())
    scores.index = rows.index
    return {f"rouge_l_{k}": scores[col].where(has_reference)
            for k, col in (("f", "f1"), ("p", "precision"), ("r", "recall"))}


def _bertscore(rows: pd.DataFrame, _config) -> dict[str, pd.Series]:
    has_reference = rows["reference"].notna()
    scored = rows[has_reference]
    if scored.empty:
        return {f"bertscore_{k}": pd.Series(float("nan"), index=rows.index) for k in ("f1", "p", "r")}
    values = bertscore(scored["response"].tolist(), scored["reference"].tolist())
    values.index = scored.index
    return {f"bertscore_{k}": values[col].reindex(rows.index)
            for k, col in (("f1", "f1"), ("p", "precision"), ("r", "recall"))}


def _refusal(rows: pd.DataFrame, _config) -> dict[str, pd.Series]:
    values = refusal_score(rows["response"].tolist(), rows["prompt"].tolist())
    return {"refusal": pd.Series(values, index=rows.index)}


def _style(rows: pd.DataFrame, config: AutoScoresConfig) -> dict[str, pd.Series]:
    guides = {region: c.guide() for region, c in config.style_by_region.items()}
    default = config.style_default.guide()
    per_row = [guides.get(region, default) for region in rows["region"]]
    return {"style": pd.Series(style_score(rows["response"].tolist(), per_row), index=rows.index)}


# metric family -> (version, the metric whose presence marks the family done, scorer)
SCORERS = {
    "rouge_l": (rouge_module.VERSION, "rouge_l_f", _rouge),
    "bertscore": (bert_module.VERSION, "bertscore_f1", _bertscore),
    "refusal": (refusal_module.VERSION, "refusal", _refusal),
    "style": (style_module.VERSION, "style", _style),
}


def _store(warehouse: Warehouse, rows: pd.DataFrame, version: str, scores: dict) -> None:
    now = pd.Timestamp.now(tz="UTC")
    frames = [
        rows[["request_id", "model"]].assign(metric=metric, metric_version=version,
                                             value=values.astype(float), scored_at=now)
        for metric, values in scores.items()
    ]
    with warehouse.connect() as conn:
        insert_frame(conn, "auto_scores", pd.concat(frames, ignore_index=True), or_replace=True)


@asset(deps=[replay_responses], group_name="scoring",
       description="ROUGE-L, BERTScore, refusal and style scores per response "
                   "(table `auto_scores`).")
def auto_scores(
    context: AssetExecutionContext, config: AutoScoresConfig, warehouse: Warehouse
) -> MaterializeResult:
    written = {}
    for family, (version, marker, scorer) in SCORERS.items():
        if family == "bertscore" and not config.bertscore:
            continue
        with warehouse.connect() as conn:
            rows = conn.execute(_UNSCORED, [marker, version]).df()
        written[family] = 0
        for start in range(0, len(rows), config.chunk_size):
            chunk = rows.iloc[start:start + config.chunk_size]
            _store(warehouse, chunk, version, scorer(chunk, config))
            written[family] += len(chunk)
            context.log.info(f"{family} ({version}): {written[family]}/{len(rows)} responses")
    with warehouse.connect() as conn:
        means = conn.execute(
            "SELECT model, metric, avg(value) AS mean FROM auto_scores GROUP BY ALL ORDER BY ALL"
        ).df()
    return MaterializeResult(metadata={
        "scored_this_run": written,
        "mean_by_model": {f"{r.model}/{r.metric}": round(float(r.mean), 4)
                          for r in means.dropna().itertuples(index=False)},
    })
