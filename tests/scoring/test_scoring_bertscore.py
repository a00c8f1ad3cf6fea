"""BERTScore with all-MiniLM-L6-v2 (offline) must agree with the bert-score package."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pipeline.scoring import bertscore  # noqa: E402
from pipeline.scoring.bert import default_model_path, idf_weights  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def reference_bertscore(responses, references, idf):
    import multiprocessing.dummy

    import bert_score
    import bert_score.utils

    # bert-score counts idf in a forked process pool; forking this process (torch, tokenizer
    # and sampler threads running) can deadlock the child. The same counting code runs in a
    # thread pool instead.
    bert_score.utils.Pool = multiprocessing.dummy.Pool
    scorer = bert_score.BERTScorer(
        model_type=default_model_path(), num_layers=6, idf=idf,
        idf_sents=list(references) if idf else None, device="cpu",
    )
    p, r, f = scorer.score(list(responses), list(references))
    return np.c_[p.numpy(), r.numpy(), f.numpy()]


def test_identical_strings_score_one_and_unrelated_score_lower():
    responses = ["The cat sat on the mat.", "Quarterly revenue grew by four percent.", ""]
    references = ["The cat sat on the mat.", "A recipe for lemon cake with icing.", "anything"]
    df = bertscore(responses, references)
    assert list(df.columns) == ["precision", "recall", "f1"] and len(df) == 3
    assert df.loc[0].tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    assert df.loc[1, "f1"] < 0.9
    assert df.loc[2].tolist() == [0.0, 0.0, 0.0]  # empty response scores 0, as in bert-score


def test_paraphrase_beats_unrelated_text():
    reference = ["The company reported higher profits this year."]
    df = bertscore(
        ["The firm's earnings rose this year.", "Penguins live in the southern hemisphere."],
        reference * 2,
    )
    assert df.loc[0, "f1"] > df.loc[1, "f1"]


def test_idf_weights_follow_bert_score_formula():
    table, unseen = idf_weights([[101, 7, 8, 102], [101, 7, 102], [101, 7, 7, 102]])
    assert table[7] == pytest.approx(np.log(4 / 4))
    assert table[8] == pytest.approx(np.log(4 / 2))
    assert unseen == pytest.approx(np.log(4))


def test_truncates_long_texts_instead_of_failing():
    long_text = "word " * 2000
    df = bertscore([long_text], [long_text])
    assert df.loc[0, "f1"] == pytest.approx(1.0, abs=1e-5)


def test_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        bertscore(["a"], ["a", "b"])


@pytest.mark.parametrize("idf", [False, True])
def test_agrees_with_bert_score_package_on_summeval(idf):
    """Reads ../shared/datasets/summeval.parquet; skipped when absent."""
    path = SHARED / "summeval.parquet"
    if not path.exists():
        pytest.skip(f"{path} not available")
    data = pd.read_parquet(path, columns=["response", "reference"]).sample(30, random_state=3)
    responses, references = list(data.response), list(data.reference)
    ours = bertscore(responses, references, idf=idf).to_numpy()
    expected = reference_bertscore(responses, references, idf)
    assert np.abs(ours - expected).max() < 1e-4


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU and a CUDA build of torch")
def test_a_gpu_gives_the_cpu_numbers():
    responses = ["The parcel ships in two days.", "Ihr Paket kommt morgen.", ""]
    references = ["Your order ships within 2 days.", "Das Paket wird morgen geliefert.", "x"]
    on_cpu = bertscore(responses, references, device="cpu")
    on_gpu = bertscore(responses, references, device="cuda")
    assert np.allclose(on_cpu.to_numpy(), on_gpu.to_numpy(), atol=1e-4)


def test_the_device_defaults_to_what_torch_sees():
    from pipeline.scoring.bert import default_device

    assert default_device() == ("cuda" if _cuda() else "cpu")
    assert bertscore(["a b"], ["a b"], device="cpu")["f1"].iloc[0] == pytest.approx(1.0, abs=1e-5)
