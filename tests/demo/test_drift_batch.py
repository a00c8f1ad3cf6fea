"""The demo's drift scenario batch: later than the first batch, paired, and drifted only where
it says."""

import pandas as pd

from pipeline.demo import world
from pipeline.demo.drift_batch import DIMENSION, DRIFTED_MODEL, DRIFTED_REGION, drift_batch


def test_the_batch_follows_the_first_and_drifts_in_one_region_only():
    traffic = world.generate_traffic(600, seed=3)
    first = world.generate_labels(traffic, 60, seed=3, bad_rows=False)
    batch = drift_batch(traffic, first, per_region=10, in_drifted_region=30, seed=3)
    assert pd.to_datetime(batch["labeled_at"]).min() > pd.to_datetime(first["labeled_at"]).max()
    assert set(batch["dimension"]) == {DIMENSION}
    assert not set(batch["request_id"]) & set(first.loc[first["dimension"] == DIMENSION,
                                                         "request_id"])
    pairs = batch.groupby("request_id")["model"].agg(set)
    assert (pairs == {world.INCUMBENT, DRIFTED_MODEL}).all()  # every request labelled twice
    scored = batch.merge(traffic[["request_id", "region"]]).assign(
        score=lambda f: f["score"].astype(float))
    truth = world.true_scores(traffic, models=(world.INCUMBENT, DRIFTED_MODEL))
    truth = truth[truth["dimension"] == DIMENSION][["request_id", "model", "score"]]
    gap = scored.merge(truth, on=["request_id", "model"], suffixes=("", "_true"))
    gap = (gap["score"] - gap["score_true"]).groupby(
        [gap["region"] == DRIFTED_REGION, gap["model"] == DRIFTED_MODEL]).mean()
    assert gap[True, True] < -0.8  # judged far worse than it is, there only
    assert abs(gap[True, False]) < 0.4 and abs(gap[False, True]) < 0.4
