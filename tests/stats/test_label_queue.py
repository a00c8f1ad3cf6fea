"""The label queue: a design per blocking slice, its budget the label plan's, capped."""

import numpy as np
import pandas as pd

from pipeline.stats.label_queue import QUEUE_COLUMNS, label_queue


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
