"""The demo's drift scenario: a second label batch in which candidate-a's answers in one
region are judged far worse than before while its automated scores do not move (an update of
the candidate that the metric cannot see). ``llm-migrate demo --drift`` streams it in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.demo import world

DRIFTED_MODEL, DRIFTED_REGION, DIMENSION = "candidate-a", "de", "correctness"
SHIFT = 1.5  # points on the 1-5 scale the drifted region's labels lose
BATCH_START = pd.Timestamp("2026-11-23", tz="UTC")  # after every label of the first batch


def drift_batch(traffic: pd.DataFrame, first_batch: pd.DataFrame, per_region: int = 25,
                in_drifted_region: int = 100, seed: int = 7) -> pd.DataFrame:
    """Correctness labels of the incumbent and ``DRIFTED_MODEL`` on requests that the first
    batch did not label (``in_drifted_region`` of them there, ``per_region`` in each other
    region), given after it, with the drifted region's candidate scores lowered by ``SHIFT``
    (clipped to the scale). The drifted region gets more: its monitor holds only its share of
    the false-alarm budget, so it needs more evidence. Same columns as
    ``world.generate_labels``."""
    rng = np.random.default_rng(seed + 101)
    labelled = set(first_batch.loc[first_batch["dimension"] == DIMENSION, "request_id"])
    scores = world.true_scores(traffic, models=(world.INCUMBENT, DRIFTED_MODEL))
    scores = scores[(scores["dimension"] == DIMENSION) & ~scores["request_id"].isin(labelled)]
    chosen = [request for region, group in scores.groupby("region", sort=True)
              for request in rng.permutation(group["request_id"].unique())[
                  :in_drifted_region if region == DRIFTED_REGION else per_region]]
    rows = scores[scores["request_id"].isin(chosen)].copy()
    noise = np.round(rng.normal(0.0, world.LABEL_NOISE_SD, len(rows)))
    drifted = (rows["model"] == DRIFTED_MODEL) & (rows["region"] == DRIFTED_REGION)
    rows["score"] = np.clip(rows["score"] + noise - SHIFT * drifted, 1, 5)
    rows["annotator"] = rng.choice(world.ANNOTATORS, size=len(rows))
    minutes = np.sort(rng.integers(0, 5 * 1440, len(rows)))
    rows = rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    rows["labeled_at"] = [(BATCH_START + pd.Timedelta(minutes=int(m))).isoformat()
                          for m in minutes]
    rows["score"] = rows["score"].map(lambda s: f"{s:g}")
    return rows[["request_id", "model", "dimension", "annotator", "score", "labeled_at"]]
