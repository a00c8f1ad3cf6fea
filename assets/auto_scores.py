"""auto_scores: automated scores of every successful response."""

import dataclasses
import time

import pandas as pd
from dagster import AssetExecutionContext, Config, MaterializeResult, asset

from assets.metadata import table_metadata
from assets.progress import PROGRESS
from assets.replay_responses import replay_responses
from pipeline.data.warehouse import insert_frame
from pipeline.scoring import (
    StyleGuide,
    bertscore,
    judge,
    language_score,
    refusal_score,
    rouge_l,
    style_score,
)
from pipeline.scoring import bert as bert_module
from pipeline.scoring import refusal as refusal_module
from pipeline.scoring import rouge as rouge_module
from pipeline.scoring import style as style_module
from pipeline.scoring.judge import DIMENSIONS as JUDGE_DIMENSIONS
from pipeline.scoring.judge import RUBRIC_VERSION
from resources import ModelRegistry, Warehouse

# The answers of record whose text has no score of this metric version yet, request by
# request: a chunk then holds every model's answer to a request, and BERTScore encodes each
# reference once for all of them.
_UNSCORED = """
SELECT r.request_id, r.model, r.response, r.response_hash, t.reference, t.prompt, t.region,
       t.language
FROM v_answers r JOIN traffic t USING (request_id)
WHERE r.status = 'ok' AND NOT EXISTS (
    SELECT 1 FROM auto_scores s
    WHERE s.request_id = r.request_id AND s.model = r.model
      AND s.metric = ? AND s.metric_version = ? AND s.response_hash = r.response_hash)
ORDER BY r.request_id, r.model
"""


class StyleGuideConfig(Config):
    """A region's style guide (see pipeline.scoring.style.StyleGuide)."""

    max_words: int = 60
    min_words: int = 1
    banned_phrases: list[str] = ["as an ai language model"]
    required_phrases: list[str] = []
    plain_text: bool = True
    language: str | None = None  # ISO 639-1; unset: the traffic row's `language`, if any

    def guide(self) -> StyleGuide:
        return StyleGuide(self.max_words, self.min_words, tuple(self.banned_phrases),
                          tuple(self.required_phrases), self.plain_text, self.language)


class AutoScoresConfig(Config):
    bertscore: bool = True  # the heaviest scorer (~65 pairs/s on two cores): switch off to skip
    chunk_size: int = 2000  # responses scored and stored per step: progress survives a crash
    style_default: StyleGuideConfig = StyleGuideConfig()
    style_by_region: dict[str, StyleGuideConfig] = {}  # region -> its own guide
    # A model of the registry that grades correctness, refusal and style with fixed rubrics
    # (pipeline.scoring.judge): one paid call per response and dimension. Unset: no judge.
    judge_model: str | None = None


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
        return {f"bertscore_{k}": pd.Series(float("nan"), index=rows.index)
                for k in ("f1", "p", "r")}
    values = bertscore(scored["response"].tolist(), scored["reference"].tolist())
    values.index = scored.index
    return {f"bertscore_{k}": values[col].reindex(rows.index)
            for k, col in (("f1", "f1"), ("p", "precision"), ("r", "recall"))}


def _refusal(rows: pd.DataFrame, _config) -> dict[str, pd.Series]:
    values = refusal_score(rows["response"].tolist(), rows["prompt"].tolist())
    return {"refusal": pd.Series(values, index=rows.index)}


def _traffic_language(code) -> str | None:
    """The traffic's language as the detector names it ("pt-BR" -> "pt"); None if unknown."""
    if not isinstance(code, str) or not code.strip():
        return None
    base = code.strip().lower().replace("_", "-").split("-")[0]
    return base if base in style_module.supported_languages() else None


def _style_guides(rows: pd.DataFrame, config: AutoScoresConfig) -> list[StyleGuide]:
    """Each row's guide: its region's, else the default; a guide naming no language takes
    the language the traffic table gives the request."""
    guides = {region: c.guide() for region, c in config.style_by_region.items()}
    default = config.style_default.guide()
    per_row = []
    for region, language in zip(rows["region"], rows["language"]):
        guide = guides.get(region, default)
        if guide.language is None and (language := _traffic_language(language)):
            guide = dataclasses.replace(guide, language=language)
        per_row.append(guide)
    return per_row


def _style(rows: pd.DataFrame, config: AutoScoresConfig) -> dict[str, pd.Series]:
    guides = _style_guides(rows, config)
    responses = rows["response"].tolist()
    return {
        "style": pd.Series(style_score(responses, guides), index=rows.index),
        "style_language": pd.Series(language_score(responses, [g.language for g in guides]),
                                    index=rows.index),
    }


def _judge_scorer(dimension: str, models: ModelRegistry, spent: dict):
    """Scorer of one judge dimension. Failed calls are left out, so the next run retries them;
    unreadable answers are stored as NULL, and counted in ``spent``."""
    def score(rows: pd.DataFrame, config: AutoScoresConfig) -> dict[str, pd.Series]:
        items = rows.assign(style_guide=[g.describe() for g in _style_guides(rows, config)])
        with models.endpoint(config.judge_model) as (spec, api_key, base_url):
            graded = judge(items, spec, api_key, base_url, [dimension],
                           models.limits(config.judge_model))
        graded = graded.set_index("item")
        failed = graded["reason"].str.startswith("judge call failed", na=False)
        spent["cost_usd"] += float(graded["cost_usd"].sum())
        spent["unreadable"] += int((graded["reason"].notna() & ~failed).sum())
        spent["failed"] += int(failed.sum())
        return {f"judge_{dimension}": graded.loc[~failed, "score"]}
    return score


# metric family -> (version, the metric whose presence marks the family done, scorer)
SCORERS = {
    "rouge_l": (rouge_module.VERSION, "rouge_l_f", _rouge),
    "bertscore": (bert_module.VERSION, "bertscore_f1", _bertscore),
    "refusal": (refusal_module.VERSION, "refusal", _refusal),
    "style": (style_module.VERSION, "style", _style),
}


# Dagster shows auto_scores (and what follows it) stale when a scorer's version changes.
CODE_VERSION = ",".join([*(version for version, _, _ in SCORERS.values()), RUBRIC_VERSION])


def _families(config: AutoScoresConfig, models: ModelRegistry, spent: dict) -> dict:
    """The scorers this run uses, in SCORERS' layout; judge versions name the judge model, so
    a different judge rescores."""
    families = {f: s for f, s in SCORERS.items() if f != "bertscore" or config.bertscore}
    if config.judge_model:
        models.model(config.judge_model)  # fails now, naming the registry, if it is not there
        version = f"{RUBRIC_VERSION}/{config.judge_model}"
        for dimension in JUDGE_DIMENSIONS:
            metric = f"judge_{dimension}"
            families[metric] = (version, metric, _judge_scorer(dimension, models, spent))
    return families


CONSOLE_PROGRESS_AFTER_S = 5.0


def progress(done: int, total: int, seconds: float) -> str:
    """``done/total responses``, with the rate so far and the time left at that rate."""
    rate = done / seconds if seconds > 0 else float("inf")
    left = (total - done) / rate if rate > 0 else float("inf")
    return f"{done}/{total} responses, {rate:.0f}/s, about {left:.0f} s left"


def _store(warehouse: Warehouse, rows: pd.DataFrame, version: str, scores: dict) -> None:
    now = pd.Timestamp.now(tz="UTC")
    # A scorer may return a subset of the rows (the judge leaves failed calls out).
    frames = [
        rows.loc[values.index, ["request_id", "model", "response_hash"]].assign(
            metric=metric, metric_version=version, value=values.astype(float).to_numpy(),
            scored_at=now)
        for metric, values in scores.items()
    ]
    with warehouse.connect() as conn:
        insert_frame(conn, "auto_scores", pd.concat(frames, ignore_index=True), or_replace=True)


@asset(deps=[replay_responses], group_name="scoring", kinds={"duckdb"},
       metadata=table_metadata("auto_scores"),
       code_version=CODE_VERSION,
       description="ROUGE-L, BERTScore, refusal, style and (optional) LLM-judge scores per "
                   "response (table `auto_scores`).")
def auto_scores(
    context: AssetExecutionContext, config: AutoScoresConfig, warehouse: Warehouse,
    models: ModelRegistry,
) -> MaterializeResult:
    written = {}
    spent = {"cost_usd": 0.0, "unreadable": 0, "failed": 0}
    for family, (version, marker, scorer) in _families(config, models, spent).items():
        with warehouse.connect() as conn:
            rows = conn.execute(_UNSCORED, [marker, version]).df()
        written[family] = 0
        started = time.monotonic()
        for start in range(0, len(rows), config.chunk_size):
            chunk = rows.iloc[start:start + config.chunk_size]
            _store(warehouse, chunk, version, scorer(chunk, config))
            written[family] += len(chunk)
            elapsed = time.monotonic() - started
            line = f"{family}: {progress(written[family], len(rows), elapsed)}"
            # on the console only while a long family is still under way
            shown = written[family] < len(rows) and elapsed > CONSOLE_PROGRESS_AFTER_S
            context.log.info(f"{PROGRESS}{line}" if shown else line)
    with warehouse.connect() as conn:
        means = conn.execute(
            "SELECT model, metric, avg(value) AS mean FROM auto_scores GROUP BY ALL ORDER BY ALL"
        ).df()
        (rows,) = conn.execute("SELECT count(*) FROM auto_scores").fetchone()
    judged = {"judge": {k: round(v, 6) for k, v in spent.items()}} if config.judge_model else {}
    return MaterializeResult(metadata={
        "scored_this_run": written,
        **judged,
        "mean_by_model": {f"{r.model}/{r.metric}": round(float(r.mean), 4)
                          for r in means.dropna().itertuples(index=False)},
        "dagster/row_count": int(rows),
    })
