"""Style adherence: checks from a per-region style guide, each pass/fail, averaged to [0, 1]."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

VERSION = "style-checks-2"
_MARKDOWN = re.compile(r"^\s*(#{1,6}\s|[-*+]\s|\d+\.\s)|\*\*|__|```", re.MULTILINE)


@dataclass(frozen=True)
class StyleGuide:
    """What a region's answers must look like."""

    max_words: int = 60
    min_words: int = 1
    banned_phrases: tuple[str, ...] = ("as an ai language model",)
    required_phrases: tuple[str, ...] = ()  # e.g. a sign-off the brand requires
    plain_text: bool = True  # no markdown headings, lists, bold or code fences


def style_checks(response: str, guide: StyleGuide) -> dict[str, bool]:
    """Each check the guide asks for, passed or not (a guide without required phrases has no
    such check, so it neither helps nor hurts the score)."""
    words = len(response.split())
    lowered = response.lower()
    checks = {
        "length": guide.min_words <= words <= guide.max_words,
        "banned_phrases": not any(p.lower() in lowered for p in guide.banned_phrases),
        "format": not (guide.plain_text and _MARKDOWN.search(response)),
    }
    if guide.required_phrases:
        checks["required_phrases"] = all(p.lower() in lowered for p in guide.required_phrases)
    return checks


def style_score(responses: Sequence[str], guides: Sequence[StyleGuide] | StyleGuide) -> np.ndarray:
    """Share of the style guide's checks each response passes, in [0, 1]."""
    if isinstance(guides, StyleGuide):
        guides = [guides] * len(responses)
    return np.array(
        [np.mean(list(style_checks(r or "", g).values())) for r, g in zip(responses, guides)]
    )
