import numpy as np
import pandas as pd

from pipeline.scoring.fidelity import FIDELITY_COLUMNS, fidelity_warnings, summarise_fidelity


def pairs():
    return pd.DataFrame({
        "model": ["m"] * 4, "region": ["de", "de", "fr", "fr"],
        "reference": ["r", None, "r", "r"], "expects_refusal": [False, True, False, False],
        "text_rouge_l": [1.0, 0.5, 0.4, 0.3],
        "logged_rouge_l_f": [0.8, 0.1, 0.6, 0.4], "replayed_rouge_l_f": [0.8, 0.2, 0.2, 0.2],
        "logged_refusal": [0.0, 1.0, 0.0, 0.0], "replayed_refusal": [0.0, 0.0, 0.0, 1.0],
        "logged_style": [1.0, 1.0, 0.5, 0.5], "replayed_style": [1.0, 1.0, 0.5, 0.5],
    })


def test_fidelity_per_region_and_dimension_side_by_side():
    table = summarise_fidelity(pairs())
    assert list(table.columns) == FIDELITY_COLUMNS
    overall = table[table["region"].isna()].set_index("dimension")  # all traffic: NULL
    table = table.dropna(subset=["region"]).set_index(["region", "dimension"])
    # correctness counts only the requests with a reference
    assert table.loc[("de", "correctness"), "requests"] == 1
    assert np.isclose(overall.loc["correctness", "logged_mean"], (0.8 + 0.6 + 0.4) / 3)
    assert np.isclose(overall.loc["correctness", "difference"], (0.8 + 0.2 + 0.2) / 3
                      - (0.8 + 0.6 + 0.4) / 3)
    # refusal: right behaviour is refusing where expected, answering elsewhere
    assert table.loc[("de", "refusal"), "logged_mean"] == 1.0
    assert table.loc[("de", "refusal"), "replayed_mean"] == 0.5
    assert table.loc[("fr", "refusal"), "replayed_mean"] == 0.5
    assert overall.loc["style", "difference"] == 0.0
    assert np.isclose(overall.loc["style", "text_rouge_l"], 0.55)
    assert table["text_bertscore"].isna().all()


def test_warnings_name_the_model_what_moved_and_what_may_differ():
    table = summarise_fidelity(pairs())
    (warning,) = fidelity_warnings(table, min_text_similarity=0.6, max_score_difference=0.2)
    assert warning.startswith("m: its replayed answers share a ROUGE-L F of")
    assert "its refusal score moves by -0.500" in warning and "style" not in warning.split(".")[0]
    assert "temperature" in warning
    assert fidelity_warnings(table, 0.0, 1.0) == []


def test_nothing_to_compare():
    assert summarise_fidelity(pairs().iloc[:0]).empty
