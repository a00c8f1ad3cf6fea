"""Benchmark of the automated scorers against their reference packages, run by hand:

    python benchmarks/bench_scoring.py [--bertscore-pairs 200] [--rounds 3] [--kernel-rounds 7]
                                       [--kernel-only]

Prints the ROUGE-L LCS kernels side by side (the bit-parallel one written here, which the
scorer used before, against rapidfuzz's ``LCSseq``), then one table of throughput and
agreement (our ROUGE-L vs ``rouge-score``, our BERTScore vs ``bert-score`` with the same
all-MiniLM-L6-v2 and layer 6, both timed in this run with the model already loaded, best of
interleaved rounds for BERTScore, plus the median of the per-round speed-ups), then the
refusal detector on XSTest against the human labels and the data set's own string-match
baseline. ``--kernel-only`` prints the kernel comparison alone.
Reads ../shared/datasets next to the repository (summeval, realsumm, xstest_open; the kernel
comparison reads summeval.parquet's ``response`` and ``reference`` columns); a missing file
skips its part.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline.scoring import bertscore, refusal_score, rouge_l  # noqa: E402
from pipeline.scoring import rouge as rouge_module  # noqa: E402
from pipeline.scoring.bert import default_model_path, load_encoder  # noqa: E402

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
PROJECTED_RESPONSES = 100_000


def load_pairs(*names: str) -> tuple[list[str], list[str]]:
    frames = [
        pd.read_parquet(SHARED / f"{n}.parquet", columns=["response", "reference"])
        for n in names if (SHARED / f"{n}.parquet").exists()
    ]
    if not frames:
        return [], []
    data = pd.concat(frames, ignore_index=True)
    return list(data.response), list(data.reference)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def reference_rouge(responses, references, use_stemmer):
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    scores = [scorer.score(ref, resp)["rougeL"] for resp, ref in zip(responses, references)]
    return np.array([(s.precision, s.recall, s.fmeasure) for s in scores])


def reference_bertscore(scorer, responses, references):
    p, r, f = scorer.score(responses, references)
    return np.c_[p.numpy(), r.numpy(), f.numpy()]


def comparison_row(metric, n, ours, ours_s, ref, ref_s):
    ours_rate, ref_rate = n / ours_s, n / ref_s
    return {
        "metric": metric,
        "pairs": n,
        "ours pairs/s": round(ours_rate, 1),
        "reference pairs/s": round(ref_rate, 1),
        "speed-up": round(ours_rate / ref_rate, 2),
        "max |diff|": float(np.abs(np.asarray(ours) - ref).max()),
        "ours 100k (min)": round(PROJECTED_RESPONSES / ours_rate / 60, 1),
        "reference 100k (min)": round(PROJECTED_RESPONSES / ref_rate / 60, 1),
    }


def rouge_rows() -> list[dict]:
    responses, references = load_pairs("summeval", "realsumm")
    rows = []
    for stem in (False, True):
        if not responses:
            break
        ref, ref_s = timed(lambda stem=stem: reference_rouge(responses, references, stem))
        ours, ours_s = timed(
            lambda stem=stem: rouge_l(responses, references, use_stemmer=stem).to_numpy())
        name = "ROUGE-L" + (" (stemmed)" if stem else "")
        rows.append(comparison_row(name, len(responses), ours, ours_s, ref, ref_s))
    return rows


def bit_parallel_lcs(a, b) -> int:
    """The LCS kernel ``pipeline.scoring.rouge`` had before rapidfuzz's, kept here to compare:
    bit-parallel (Hyyrö 2004) on Python big ints, one add/or/and per token of the shorter text."""
    if not a or not b:
        return 0
    if len(a) < len(b):
        a, b = b, a
    match_masks: dict[str, int] = {}
    for position, token in enumerate(a):
        match_masks[token] = match_masks.get(token, 0) | (1 << position)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        matches = match_masks.get(token)
        if matches is None:
            continue
        u = v & matches
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rapidfuzz_lcs_on_tokens(a, b) -> int:
    """rapidfuzz on the token lists as they are: it stands for each token by its 64-bit hash
    (so two tokens with the same hash would match), with no Python step per token."""
    from rapidfuzz.distance import LCSseq

    return LCSseq.similarity(a, b)


def _exact_scores(responses, references, use_stemmer, kernel) -> np.ndarray:
    # The scorer itself, with `kernel` as its LCS: same tokens, same float expressions.
    with mock.patch.object(rouge_module, "lcs_length", kernel):
        return rouge_l(responses, references, use_stemmer=use_stemmer).to_numpy()


def rouge_kernel_rows(rounds: int) -> list[dict]:
    """The LCS kernels on summeval's pairs, tokenised once beforehand (kernel time alone),
    then the whole scorer with each of them (tokenising included, stems already cached),
    its scores compared for exact equality with rouge-score's. Best of interleaved rounds,
    and the median of the per-round ratios, since the CPUs are shared."""
    path = SHARED / "summeval.parquet"
    if not path.exists():
        return []
    print(f"ROUGE-L kernels on {path.resolve()} (response vs reference)")
    responses, references = load_pairs("summeval")
    kernels = {
        "bit-parallel (hand-written)": bit_parallel_lcs,
        "rapidfuzz on token ids (the scorer's)": rouge_module.lcs_length,
        "rapidfuzz on token lists": rapidfuzz_lcs_on_tokens,
    }
    rows = []
    for stem in (False, True):
        pairs = [(rouge_module.tokenize(ref, stem), rouge_module.tokenize(resp, stem))
                 for resp, ref in zip(responses, references)]
        expected = reference_rouge(responses, references, stem)
        best = dict.fromkeys(kernels, float("inf"))
        best_scorer = dict.fromkeys(kernels, float("inf"))
        ratios: dict[str, list[float]] = {name: [] for name in kernels}
        lengths, scores = {}, {}
        for _ in range(rounds):
            round_s = {}
            for name, kernel in kernels.items():
                lengths[name], round_s[name] = timed(
                    lambda kernel=kernel, pairs=pairs: [kernel(a, b) for a, b in pairs])
                best[name] = min(best[name], round_s[name])
                scores[name], scorer_s = timed(
                    lambda stem=stem, kernel=kernel: _exact_scores(responses, references, stem,
                                                                   kernel))
                best_scorer[name] = min(best_scorer[name], scorer_s)
            for name in kernels:
                ratios[name].append(round_s["bit-parallel (hand-written)"] / round_s[name])
        baseline = "bit-parallel (hand-written)"
        for name in kernels:
            rows.append({
                "tokens": "stemmed" if stem else "plain",
                "kernel": name,
                "pairs": len(pairs),
                "kernel ms": round(best[name] * 1e3, 2),
                "speed-up vs hand-written": round(best[baseline] / best[name], 2),
                "median round speed-up": round(float(np.median(ratios[name])), 2),
                "scorer ms": round(best_scorer[name] * 1e3, 1),
                "scorer speed-up": round(best_scorer[baseline] / best_scorer[name], 2),
                "same LCS": lengths[name] == lengths[baseline],
                "scores == rouge-score": bool(np.array_equal(scores[name], expected)),
            })
    return rows


def bertscore_rows(n_pairs: int, rounds: int) -> list[dict]:
    import bert_score

    responses, references = load_pairs("summeval")
    if not responses:
        return []
    sample = np.random.default_rng(0).choice(len(responses), n_pairs, replace=False)
    responses = [responses[i] for i in sample]
    references = [references[i] for i in sample]
    # Both models are loaded before timing: the comparison is of scoring, not of start-up.
    load_encoder(default_model_path(), 6)
    scorer = bert_score.BERTScorer(model_type=default_model_path(), num_layers=6, device="cpu")
    # The CPUs are shared, so timings swing with other load: interleave the two scorers and
    # keep each one's best round; the median of the per-round ratios is less swayed by a
    # burst of load in one round.
    ref_s = ours_s = float("inf")
    ratios = []
    for _ in range(rounds):
        ref, ref_round = timed(lambda: reference_bertscore(scorer, responses, references))
        ours, ours_round = timed(lambda: bertscore(responses, references).to_numpy())
        ref_s, ours_s = min(ref_s, ref_round), min(ours_s, ours_round)
        ratios.append(ref_round / ours_round)
    row = comparison_row("BERTScore MiniLM-L6", len(responses), ours, ours_s, ref, ref_s)
    row["median round speed-up"] = round(float(np.median(ratios)), 2)
    return [row]


def roc_auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Probability a random refusal outscores a random non-refusal (ties count half)."""
    ranks = pd.Series(scores).rank().to_numpy()
    positives, negatives = truth.sum(), (~truth).sum()
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def refusal_rows() -> list[dict]:
    path = SHARED / "xstest_open.parquet"
    if not path.exists():
        return []
    data = pd.read_parquet(path)
    truth = data.human_refusal.to_numpy(dtype=bool)
    ours = refusal_score(list(data.response), list(data.prompt))
    baseline = (data.auto_strmatch_label == "2_full_refusal").to_numpy(dtype=float)
    rows = []
    for name, score in [("ours (refusal_score)", ours), ("XSTest auto_strmatch_label", baseline)]:
        flagged = score >= 0.5
        rows.append({
            "detector": name,
            "n": len(truth),
            "accuracy": round(float(np.mean(flagged == truth)), 3),
            "AUC": round(roc_auc(score, truth), 3),
            "precision": round(float(truth[flagged].mean()), 3),
            "recall": round(float(flagged[truth].mean()), 3),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bertscore-pairs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="BERTScore timing rounds")
    parser.add_argument("--kernel-rounds", type=int, default=7, help="ROUGE-L kernel rounds")
    parser.add_argument("--kernel-only", action="store_true",
                        help="only the ROUGE-L kernel comparison")
    args = parser.parse_args()
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 20)
    kernels = pd.DataFrame(rouge_kernel_rows(args.kernel_rounds))
    print(kernels.to_string(index=False) if len(kernels) else "summeval.parquet not found")
    if args.kernel_only:
        return
    import torch

    print(f"torch threads: {torch.get_num_threads()}, cpus: {os.cpu_count()}")
    table = pd.DataFrame(rouge_rows() + bertscore_rows(args.bertscore_pairs, args.rounds))
    print("\nScorer throughput and agreement (same run, models preloaded)")
    print(table.to_string(index=False) if len(table) else "shared data sets not found")
    refusal = pd.DataFrame(refusal_rows())
    print("\nRefusal detector on XSTest (human_refusal = full or partial refusal), threshold 0.5")
    print(refusal.to_string(index=False) if len(refusal) else "xstest_open.parquet not found")


if __name__ == "__main__":
    main()
