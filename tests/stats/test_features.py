"""pipeline.stats.calibration.build_features and the signals the paired model gets from them."""

import numpy as np
import pandas as pd

from pipeline.stats.calibration import FEATURE_COLUMNS, build_features
from pipeline.stats.paired_deltas import signals


def _inputs(bertscore=(0.9, 0.8, 0.7, 0.6)):
    traffic = pd.DataFrame({"request_id": ["r1", "r2"], "region": ["us", "de"],
                            "expects_refusal": [False, True], "reference": ["ref", None]})
    auto_wide = pd.DataFrame({
        "request_id": ["r1", "r1", "r2", "r2"], "model": ["A", "B", "A", "B"],
        "rouge_l_f": [0.5, 0.4, 0.3, 0.2], "bertscore_f1": list(bertscore),
        "refusal": [0.1, 0.2, 0.9, 0.8], "style": [1.0, 0.5, 1.0, 0.75]})
    labels = pd.DataFrame({"request_id": ["r1", "r1"], "model": ["A", "A"],
                           "dimension": ["correctness", "correctness"], "score": [4.0, 5.0]})
    return traffic, auto_wide, labels


def test_correctness_carries_bertscore_as_its_second_signal():
    features = build_features(*_inputs())
    assert list(features.columns) == FEATURE_COLUMNS
    correctness = features[features["dimension"] == "correctness"].set_index("model")
    assert correctness["request_id"].tolist() == ["r1", "r1"]  # r2 has no reference
    assert correctness.loc["A", "auto_2"] == 0.9 and correctness.loc["B", "auto_2"] == 0.8
    assert correctness.loc["A", "human"] == 4.5 and correctness.loc["A", "n_labels"] == 2
    assert features.loc[features["dimension"] != "correctness", "auto_2"].isna().all()
    refusal = features[features["dimension"] == "refusal"].set_index(["request_id", "model"])
    assert np.isclose(refusal.loc[("r2", "A"), "auto"], 0.9)  # refusal expected: the score
    assert np.isclose(refusal.loc[("r1", "A"), "auto"], 0.9)  # not expected: one minus it


def test_second_signal_is_used_only_where_every_row_has_it():
    features = build_features(*_inputs())
    by_dimension = dict(list(features.groupby("dimension")))
    assert signals(by_dimension["correctness"]) == ("auto", "auto_2")
    assert signals(by_dimension["style"]) == ("auto",)
    switched_off = build_features(*_inputs(bertscore=(0.9, np.nan, 0.7, 0.6)))
    assert signals(switched_off[switched_off["dimension"] == "correctness"]) == ("auto",)
