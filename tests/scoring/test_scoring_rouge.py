"""ROUGE-L must equal Google's rouge-score exactly, on hand-made and real summaries."""

from pathlib import Path

import pandas as pd
import pytest
from rouge_score import rouge_scorer

from pipeline.scoring import rouge_l
from pipeline.scoring.rouge import lcs_length, tokenize

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def reference_scores(responses, references, use_stemmer):
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    rows = []
    for response, reference in zip(responses, references):
        s = scorer.score(reference, response)["rougeL"]
        rows.append((s.precision, s.recall, s.fmeasure))
    return pd.DataFrame(rows, columns=["precision", "recall", "f1"], dtype=float)


def assert_identical(responses, references, use_stemmer):
    ours = rouge_l(responses, references, use_stemmer=use_stemmer)
    expected = reference_scores(responses, references, use_stemmer)
    assert list(ours.columns) == ["precision", "recall", "f1"]
    assert len(ours) == len(responses)
    # Exact float equality, not closeness: same tokens, same LCS, same expressions.
    pd.testing.assert_frame_equal(ours, expected, check_exact=True)


def brute_force_lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            if x == y:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def test_bit_parallel_lcs_matches_dynamic_programming():
    import random

    rng = random.Random(5)
    for _ in range(300):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 90))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 70))]
        assert lcs_length(a, b) == brute_force_lcs(a, b)


def test_known_values_and_edge_cases():
    df = rouge_l(["the cat sat on the mat", "", "x"], ["the cat is on the mat", "a b", ""])
    assert df.loc[0, "precision"] == pytest.approx(5 / 6)
    assert df.loc[0, "recall"] == pytest.approx(5 / 6)
    assert df.loc[1].tolist() == [0.0, 0.0, 0.0]
    assert df.loc[2].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        rouge_l(["a"], [])


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_matches_rouge_score_on_hand_written_texts(use_stemmer):
    responses = [
        "Running runners ran; the RUNNER's 3rd run-through (2024) was running late!",
        "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 -- \u00fcber stra\u00dfe \u0130stanbul",
        "policies generalization generously connected connections",
        "   ",
    ]
    references = [
        "The runner runs the 3rd run through in 2024, late.",
        "cafe naive resume uber strasse istanbul",
        "policy general generous connect connection",
        "something",
    ]
    assert_identical(responses, references, use_stemmer)


def test_tokenize_stems_only_long_tokens():
    assert tokenize("Cats running ran", use_stemmer=True) == ["cat", "run", "ran"]
    assert tokenize("was has", use_stemmer=True) == ["was", "has"]


@pytest.mark.parametrize("name", ["summeval", "realsumm"])
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_matches_rouge_score_on_shared_datasets(name, use_stemmer):
    """Reads ../shared/datasets/{summeval,realsumm}.parquet; skipped when absent."""
    path = SHARED / f"{name}.parquet"
    if not path.exists():
        pytest.skip(f"{path} not available")
    data = pd.read_parquet(path, columns=["response", "reference"]).sample(400, random_state=0)
    assert_identical(list(data.response), list(data.reference), use_stemmer)
