"""The label queue: a design per blocking slice, its budget the label plan's, capped."""

import numpy as np
import pandas as pd

from pipeline.stats.label_queue import QUEUE_COLUMNS, design_weights, label_queue


def features(n=200, labelled=40, seed=0):
    rng = np.random.default_rng(seed)
    region = np.where(np.arange(n) < n // 2, "de", "it")
    rows = []
    for model, shift in (("old", 0.0), ("new", 0.3)):
        human = rng.normal(3 + shift, 1, n)
        rows.append(pd.DataFrame({
            "request_id": [f"r{i}" for i in range(n)], "model": model, "region": region,
            "dimension": "style", "auto": human + rng.normal(0, 0.5, n), "auto_2": np.nan,
            "human": np.where(np.arange(n) % (n // labelled) == 0, human, np.nan)}))
    return pd.concat(rows, ignore_index=True)


def test_each_blocking_slice_gets_a_round_of_its_own_requests():
    blocking = pd.DataFrame({"candidate": ["new", "new"], "dimension": ["style", "style"],
                             "region": ["de", "it"], "labels_needed": [15, 500]})
    queue = label_queue(features(), blocking, "old", seed=1)
    assert list(queue.columns) == QUEUE_COLUMNS
    de, it = queue[queue["region"] == "de"], queue[queue["region"] == "it"]
    assert len(de) == len(it) == 100  # every request of the region answered by both
    assert set(de["request_id"]) == {f"r{i}" for i in range(100)}
    assert abs(de.loc[~de["labelled"], "inclusion_prob"].sum() - 15) < 1e-9
    assert (it.loc[~it["labelled"], "inclusion_prob"] == 1.0).all()  # capped: all 80 left
    assert not queue.loc[queue["labelled"], "to_label"].any()
    assert (queue["weight"] == 1 / queue["inclusion_prob"]).all()


def test_nothing_blocks_nothing_is_queued():
    empty = pd.DataFrame(columns=["candidate", "dimension", "region", "labels_needed"])
    assert label_queue(features(), empty, "old").empty


def test_design_weights_follow_the_rounds_that_drew_each_request():
    """Region de (r0..r49): every fifth request labelled first (p0 = 10/50); a round over de
    then drew r1 (pi 0.5) and r2 (pi 0.25), labelled since; the others had pi 0.1. A request's
    weight is 1 / (1 − (1 − p0) Π(1 − pi)); `it` had no round: 1 / p0 there."""
    rows = features(n=100, labelled=20)
    rows.loc[rows["request_id"].isin(["r1", "r2"]), "human"] = 3.0
    pi = {f"r{i}": 0.1 for i in range(50)} | {"r1": 0.5, "r2": 0.25}
    queue = pd.DataFrame({"candidate": "new", "dimension": "style", "region": "de",
                          "request_id": list(pi), "inclusion_prob": list(pi.values()),
                          "to_label": [r in ("r1", "r2") for r in pi]})
    weights = design_weights(rows, queue, "old").set_index("request_id")["weight"]
    assert len(weights) == 22  # the labelled requests only
    first = 10 / 50
    assert abs(weights["r0"] - 1 / (1 - (1 - first) * 0.9)) < 1e-12
    assert abs(weights["r1"] - 1 / (1 - (1 - first) * 0.5)) < 1e-12
    assert abs(weights["r2"] - 1 / (1 - (1 - first) * 0.75)) < 1e-12
    assert abs(weights["r50"] - 1 / first) < 1e-12


def test_no_round_no_weights():
    assert design_weights(features(), pd.DataFrame(columns=QUEUE_COLUMNS), "old").empty


def test_paired_deltas_weight_the_labels_a_round_drew():
    """The pipeline's Δ with the label-queue weights holds the truth that the unweighted fit,
    which takes the labels' mix for the region's, misses."""
    from pipeline.stats.paired_deltas import paired_delta_draws

    rng = np.random.default_rng(0)
    n = 800
    hard = rng.random(n) < 0.5
    level = rng.normal(3.0, 1.0, n)
    human = {"old": level + rng.normal(0, 0.5, n),
             "new": level + np.where(hard, -0.6, 0.2) + rng.normal(0, 0.5, n)}
    pi = np.where(hard, 0.6, 0.1)
    chosen = rng.random(n) < pi
    ids = [f"r{i}" for i in range(n)]
    rows = pd.concat([pd.DataFrame({
        "request_id": ids, "model": model, "region": "de", "dimension": "style",
        "auto": level + (0.2 if model == "new" else 0.0) + rng.normal(0, 0.3, n),
        "auto_2": np.nan, "human": np.where(chosen, human[model], np.nan)})
        for model in ("old", "new")], ignore_index=True)
    truth = float((human["new"] - human["old"]).mean())
    weights = pd.DataFrame({"candidate": "new", "dimension": "style", "request_id": ids,
                            "weight": 1 / pi})
    fast = {"draws": 500, "tune": 500}
    plain = paired_delta_draws(rows, "old", **fast).draws
    weighted = paired_delta_draws(rows, "old", weights=weights, **fast).draws

    def interval(draws):
        overall = draws.loc[draws["region"].isna(), "delta"]  # all traffic
        return overall.quantile(0.025), overall.quantile(0.975)

    low, high = interval(weighted)
    assert low <= truth <= high
    assert not interval(plain)[0] <= truth <= interval(plain)[1]
