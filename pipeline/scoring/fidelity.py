"""Replay fidelity: how far a model's replayed answers are from the ones production served.

Where a model has both a logged and a replayed answer to the same requests, the replay should
reproduce production: the same system prompt version, temperature, tools and model version.
This module summarises the comparison per model, region and quality dimension: how similar the
two texts are (ROUGE-L F between them, BERTScore F1 when computed) and the automated score
each dimension is calibrated on, its mean over the logged and over the replayed answers side by
side. Plain pandas; the scores come from the scorers of ``auto_scores``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ALL_REGIONS = None  # all traffic: region NULL, never a region's name
FIDELITY_COLUMNS = ["model", "region", "dimension", "requests", "text_rouge_l",
                    "text_bertscore", "logged_mean", "replayed_mean", "difference"]


def dimension_signals(pairs: pd.DataFrame, side: str) -> dict[str, pd.Series]:
    """Each dimension's automated signal for one side ('logged' or 'replayed'), as the
    calibration reads it (pipeline.stats.calibration.build_features): ROUGE-L F against the
    reference for correctness (requests with a reference only), the probability the refusal
    behaviour is right, and the share of style checks passed."""
    refusal = pairs[f"{side}_refusal"]
    return {
        "correctness": pairs[f"{side}_rouge_l_f"].where(pairs["reference"].notna()),
        "refusal": refusal.where(pairs["expects_refusal"].astype(bool), 1.0 - refusal),
        "style": pairs[f"{side}_style"],
    }


def summarise_fidelity(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, region, dimension) and per (model, None, dimension): all traffic.

    ``pairs``: one row per (request, model) answered both ways, with ``model``, ``region``,
    ``reference``, ``expects_refusal``, ``text_rouge_l`` (and optionally ``text_bertscore``)
    between the two texts, and ``logged_``/``replayed_`` + ``rouge_l_f``, ``refusal``,
    ``style``. ``difference`` is replayed minus logged."""
    if pairs.empty:
        return pd.DataFrame(columns=FIDELITY_COLUMNS)
    logged, replayed = dimension_signals(pairs, "logged"), dimension_signals(pairs, "replayed")
    bert = pairs["text_bertscore"] if "text_bertscore" in pairs else np.nan
    frames = []
    for dimension in logged:
        long = pd.DataFrame({
            "model": pairs["model"], "region": pairs["region"], "dimension": dimension,
            "text_rouge_l": pairs["text_rouge_l"], "text_bertscore": bert,
            "logged": logged[dimension], "replayed": replayed[dimension],
        }).dropna(subset=["logged", "replayed"])
        frames += [long, long.assign(region=ALL_REGIONS)]
    table = (pd.concat(frames, ignore_index=True)
             .groupby(["model", "region", "dimension"], sort=True, dropna=False)
             .agg(requests=("logged", "size"), text_rouge_l=("text_rouge_l", "mean"),
                  text_bertscore=("text_bertscore", "mean"), logged_mean=("logged", "mean"),
                  replayed_mean=("replayed", "mean"))
             .reset_index())
    table["region"] = table["region"].astype(object).where(table["region"].notna(), None)
    table["difference"] = table["replayed_mean"] - table["logged_mean"]
    return table[FIDELITY_COLUMNS]


def fidelity_warnings(table: pd.DataFrame, min_text_similarity: float,
                      max_score_difference: float) -> list[str]:
    """A sentence for each model whose replay, over all regions, is further from production
    than the thresholds allow."""
    overall = table[table["region"].isna()]
    found = []
    for model, rows in overall.groupby("model", sort=True):
        similarity = float(rows["text_rouge_l"].mean())
        off = rows[rows["difference"].abs() > max_score_difference]
        problems = []
        if similarity < min_text_similarity:
            problems.append(f"its replayed answers share a ROUGE-L F of {similarity:.2f} with the "
                            f"logged ones (threshold {min_text_similarity:g})")
        problems += [f"its {r.dimension} score moves by {r.difference:+.3f} (threshold "
                     f"{max_score_difference:g})" for r in off.itertuples()]
        if problems:
            found.append(f"{model}: {'; '.join(problems)}. The replay may not run as production "
                         "did: compare the system prompt version, temperature and max_tokens, "
                         "tools or retrieval context, and the model version behind the id")
    return found
