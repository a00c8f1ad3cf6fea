"""ROUGE-L (longest common subsequence) with the tokenisation of Google's ``rouge-score``:
lower-case, every run of characters outside [a-z0-9] is a separator."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

VERSION = "rouge_l-1"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def tokenize(text: str | None) -> list[str]:
    return [t for t in _NON_ALNUM.split((text or "").lower()) if t]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, one row of the DP table at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if token == other else max(previous[j], current[-1]))
        previous = current
    return previous[-1]


def rouge_l(responses: Sequence[str], references: Sequence[str]) -> pd.DataFrame:
    """ROUGE-L precision, recall and F1 of each response against its reference.

    Returns one row per pair with columns ``precision``, ``recall``, ``f1``; a pair where either
    side has no tokens scores 0, as in ``rouge-score``.
    """
    if len(responses) != len(references):
        raise ValueError(
            f"rouge_l: {len(responses)} responses but {len(references)} references"
        )
    rows = []
    for response, reference in zip(responses, references):
        candidate, target = tokenize(response), tokenize(reference)
        lcs = lcs_length(candidate, target) if candidate and target else 0
        precision = lcs / len(candidate) if candidate else 0.0
        recall = lcs / len(target) if target else 0.0
        f1 = 2 * precision * recall / (precision + recall) if lcs else 0.0
        rows.append((precision, recall, f1))
    return pd.DataFrame(rows, columns=["precision", "recall", "f1"])
