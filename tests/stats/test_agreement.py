import numpy as np
import pandas as pd

from pipeline.stats.agreement import annotator_agreement


def labels(scores_a, scores_b, dimension="style"):
    rows = []
    for i, (a, b) in enumerate(zip(scores_a, scores_b)):
        rows += [{"request_id": f"r{i}", "model": "m", "dimension": dimension, "annotator": "x",
                  "score": a},
                 {"request_id": f"r{i}", "model": "m", "dimension": dimension, "annotator": "y",
                  "score": b}]
    return pd.DataFrame(rows)


def test_perfect_and_chance_agreement():
    same = annotator_agreement(labels([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]))
    assert same.loc[0, "alpha"] == 1.0 and same.loc[0, "level"] == "ordinal"
    assert same.loc[0, "responses"] == 5 and same.loc[0, "annotators"] == 2
    rng = np.random.default_rng(0)
    noise = annotator_agreement(labels(rng.integers(1, 6, 400), rng.integers(1, 6, 400)))
    assert abs(noise.loc[0, "alpha"]) < 0.1


def test_binary_labels_are_nominal_and_single_labels_give_no_alpha():
    binary = annotator_agreement(labels([0, 1, 1, 0, 1], [0, 1, 0, 0, 1], "refusal"))
    assert binary.loc[0, "level"] == "nominal" and 0 < binary.loc[0, "alpha"] < 1
    single = labels([1, 2], [3, 4]).iloc[::2]  # one annotator per response
    result = annotator_agreement(single)
    assert np.isnan(result.loc[0, "alpha"]) and result.loc[0, "responses"] == 0
