"""The quality dimensions a migration is judged on, and their human scales."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    name: str
    low: float
    high: float
    binary: bool  # 0/1 labels; otherwise graded on [low, high]

    def accepts(self, score: float) -> bool:
        if self.binary:
            return score in (0.0, 1.0)
        return self.low <= score <= self.high


DIMENSIONS: dict[str, Dimension] = {
    "correctness": Dimension("correctness", 1, 5, binary=False),
    "refusal": Dimension("refusal", 0, 1, binary=True),  # 1 = refused exactly when it should
    "style": Dimension("style", 1, 5, binary=False),
}
