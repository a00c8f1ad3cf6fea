"""ROUGE-L (longest common subsequence), bit-for-bit equal to Google's ``rouge-score``.

Tokenisation is rouge-score's default: lower-case, every run of characters outside [a-z0-9]
is a separator, and with ``use_stemmer`` nltk's Porter stemmer is applied to tokens longer
than 3 characters. Precision, recall and F are computed with the same float expressions, so
the results are identical, not merely close.

Speed comes from two things rouge-score does not do: the LCS length is computed by rapidfuzz's
``LCSseq`` (the bit-parallel algorithm of Allison & Dix / Hyyrö in C++, instead of one Python
step per cell of the DP table), and stems are cached.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from functools import lru_cache
from itertools import repeat

import pandas as pd
from rapidfuzz.distance import LCSseq

VERSION = "rouge_l-2"
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")


@lru_cache(maxsize=1)
def _porter_stemmer():
    # Imported lazily: nltk is only needed when stemming is asked for.
    from nltk.stem import porter

    return porter.PorterStemmer()


@lru_cache(maxsize=200_000)
def _stem(token: str) -> str:
    # Porter stemming is the slowest step of tokenising; natural text repeats words a lot.
    return _porter_stemmer().stem(token)


def tokenize(text: str | None, use_stemmer: bool = False) -> list[str]:
    """Tokens exactly as ``rouge_score.tokenize.tokenize`` produces them (None counts as "")."""
    tokens = [t for t in _NON_ALNUM.split((text or "").lower()) if t]
    if use_stemmer:
        tokens = [_stem(t) if len(t) > 3 else t for t in tokens]
        # rouge-score re-validates after stemming; kept for exactness on odd inputs.
        tokens = [t for t in tokens if _VALID_TOKEN.match(t)]
    return tokens


def lcs_length(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest common subsequence of two token sequences (rapidfuzz's LCSseq).

    The tokens go to rapidfuzz as small ints, one per distinct token of ``a``, and one more
    for every token of ``b`` not in ``a``, which matches nothing: handed the tokens themselves,
    rapidfuzz would stand for each by its 64-bit hash, and two tokens with the same hash
    would match. With the ints the length is exact. ``benchmarks/bench_scoring.py`` times
    both ways and the hand-written bit-parallel kernel this replaced.
    """
    ids = {token: i for i, token in enumerate(a)}
    return LCSseq.similarity(list(map(ids.__getitem__, a)), list(map(ids.get, b, repeat(len(a)))))


def _fmeasure(precision: float, recall: float) -> float:
    # Same expression as rouge_score.scoring.fmeasure, so floats match exactly.
    if precision + recall > 0:
        return 2 * precision * recall / (precision + recall)
    return 0.0


def rouge_l(
    responses: Sequence[str], references: Sequence[str], *, use_stemmer: bool = False
) -> pd.DataFrame:
    """ROUGE-L precision, recall and F1 of each response against its reference.

    Equal to ``rouge_scorer.RougeScorer(['rougeL'], use_stemmer=use_stemmer)
    .score(reference, response)['rougeL']``. Returns one row per pair with columns
    ``precision``, ``recall``, ``f1``; a pair where either side has no tokens scores 0.
    """
    if len(responses) != len(references):
        raise ValueError(
            f"rouge_l: {len(responses)} responses but {len(references)} references"
        )
    rows = []
    for response, reference in zip(responses, references):
        candidate = tokenize(response, use_stemmer)
        target = tokenize(reference, use_stemmer)
        if not candidate or not target:
            rows.append((0.0, 0.0, 0.0))
            continue
        lcs = lcs_length(target, candidate)
        precision = lcs / len(candidate)
        recall = lcs / len(target)
        rows.append((precision, recall, _fmeasure(precision, recall)))
    return pd.DataFrame(rows, columns=["precision", "recall", "f1"], dtype=float)
