"""The demo models' token log-probabilities: deterministic, and informative about the answer.

A demo answer's quality is known (:func:`pipeline.demo.world.answer`'s ``truth``). Its tokens'
log-probabilities are drawn around a per-answer level that rises with that quality, plus noise
keyed by (model, prompt), so the same request always gets the same numbers and a model's mean
token log-probability ranks its answers roughly by how good they are, as a real model's does,
imperfectly: the answer's level is ``-2.2 + 2.0 q + N(0, 0.7)``, q in [0, 1] the answer's true
correctness ((score - 1) / 4) or, on a request that should be refused, whether it behaved
right; each token then moves by ``N(0, 0.5)``, capped at 0.
"""

from __future__ import annotations

import hashlib

import numpy as np

from pipeline.demo import world

LEVEL_AT_WORST, LEVEL_GAIN, LEVEL_NOISE_SD, TOKEN_NOISE_SD = -2.2, 2.0, 0.7, 0.5


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(map(str, ("logprobs", *parts))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def quality(model: str, system: str | None, prompt: str) -> float:
    """The answer's true quality in [0, 1], what its log-probabilities carry a signal of."""
    truth = world.answer(model, system, prompt).truth
    if truth["correctness"] is None:  # a request that should be refused
        return float(truth["refusal"])
    return (float(truth["correctness"]) - 1.0) / 4.0


def token_logprobs(model: str, system: str | None, prompt: str, n_tokens: int) -> list[float]:
    """One natural-log probability per completion token (at least one), deterministic."""
    rng = _rng(model, system, prompt)
    level = LEVEL_AT_WORST + LEVEL_GAIN * quality(model, system, prompt)
    level += rng.normal(0.0, LEVEL_NOISE_SD)
    values = np.minimum(0.0, level + rng.normal(0.0, TOKEN_NOISE_SD, max(1, n_tokens)))
    return [round(float(v), 6) for v in values]


def openai_logprobs(model: str, system: str | None, prompt: str, text: str) -> dict:
    """The ``choices[0].logprobs`` object of an OpenAI chat completion for ``text`` (tokens:
    its words, as the demo counts them), without top alternatives."""
    tokens = text.split() or [""]
    values = token_logprobs(model, system, prompt, len(tokens))
    return {"content": [{"token": token, "logprob": value,
                         "bytes": list(token.encode()), "top_logprobs": []}
                        for token, value in zip(tokens, values)],
            "refusal": None}
