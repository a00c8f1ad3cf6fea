"""Style adherence: checks from a per-region style guide, each in [0, 1], averaged to [0, 1].

Length, banned phrases, required phrases and plain text are pass (1) or fail (0). The language
check is graded: the probability that the response is in the guide's language, from langid.py's
naive Bayes model over byte n-grams (the ``py3langid`` package: about 140 languages, model
bundled with the package, no network, deterministic).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

VERSION = "style-checks-3"
_MARKDOWN = re.compile(r"^\s*(#{1,6}\s|[-*+]\s|\d+\.\s)|\*\*|__|```", re.MULTILINE)
# Below this many letters langid.py's probabilities are close to noise ("Danke." scores 0.04
# for German, "Obrigado." 0.09 for Portuguese), so such a text gets no language check at all.
MIN_LETTERS_FOR_LANGUAGE = 10


@dataclass(frozen=True)
class StyleGuide:
    """What a region's answers must look like. ``language`` is an ISO 639-1 code (``"de"``;
    ISO 639-3 for the few languages 639-1 lacks); None means the language is not checked."""

    max_words: int = 60
    min_words: int = 1
    banned_phrases: tuple[str, ...] = ("as an ai language model",)
    required_phrases: tuple[str, ...] = ()  # e.g. a sign-off the brand requires
    plain_text: bool = True  # no markdown headings, lists, bold or code fences
    language: str | None = None

    def __post_init__(self) -> None:
        if self.language is not None and self.language not in supported_languages():
            raise ValueError(
                f"StyleGuide: language {self.language!r} is not an ISO 639-1 code the language "
                f"detector knows; use one of {sorted(supported_languages())}"
            )

    def describe(self) -> str:
        """The guide in plain words, for a human or an LLM judge."""
        rules = [f"Between {self.min_words} and {self.max_words} words."]
        if self.language:
            rules.append(f"Written in the language with ISO 639-1 code '{self.language}'.")
        if self.plain_text:
            rules.append("Plain text: no markdown headings, lists, bold or code fences.")
        if self.banned_phrases:
            rules.append("Never uses: " + "; ".join(f'"{p}"' for p in self.banned_phrases) + ".")
        if self.required_phrases:
            rules.append("Always includes: "
                         + "; ".join(f'"{p}"' for p in self.required_phrases) + ".")
        return "\n".join(f"- {rule}" for rule in rules)


@lru_cache(maxsize=1)
def _language_identifier():
    # Loading the model takes about a second; one identifier per process, never the package's
    # module-level global, whose language subset other code could change.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=1)
def supported_languages() -> frozenset[str]:
    """The language codes the detector can recognise."""
    return frozenset(_language_identifier().labels)


def language_probability(text: str | None, language: str) -> float:
    """Probability in [0, 1] that ``text`` is written in ``language`` (ISO 639-1), against all
    the languages the detector knows (``supported_languages()``); NaN when the text has fewer than
    ``MIN_LETTERS_FOR_LANGUAGE`` letters (empty or too short to tell)."""
    text = text or ""
    if sum(c.isalpha() for c in text) < MIN_LETTERS_FOR_LANGUAGE:
        return float("nan")
    return float(dict(_language_identifier().rank(text)).get(language, 0.0))


def language_score(responses: Sequence[str], languages: Sequence[str | None]) -> np.ndarray:
    """Probability of each response's expected language; NaN where none is expected or the
    response is too short to tell (see ``language_probability``)."""
    if len(responses) != len(languages):
        raise ValueError(
            f"language_score: {len(responses)} responses but {len(languages)} languages")
    return np.array([float("nan") if language is None else language_probability(r, language)
                     for r, language in zip(responses, languages)], dtype=float)


def style_checks(response: str, guide: StyleGuide) -> dict[str, float]:
    """Each check the guide asks for, as a score in [0, 1]. A check that does not apply is
    left out, so it neither helps nor hurts: required phrases when the guide has none, the
    language when the guide names none or the response is too short to tell."""
    words = len(response.split())
    lowered = response.lower()
    checks = {
        "length": float(guide.min_words <= words <= guide.max_words),
        "banned_phrases": float(not any(p.lower() in lowered for p in guide.banned_phrases)),
        "format": float(not (guide.plain_text and _MARKDOWN.search(response))),
    }
    if guide.required_phrases:
        checks["required_phrases"] = float(
            all(p.lower() in lowered for p in guide.required_phrases))
    if guide.language:
        language = language_probability(response, guide.language)
        if not np.isnan(language):
            checks["language"] = language
    return checks


def style_score(responses: Sequence[str], guides: Sequence[StyleGuide] | StyleGuide) -> np.ndarray:
    """Mean of the style guide's check scores for each response, in [0, 1]."""
    if isinstance(guides, StyleGuide):
        guides = [guides] * len(responses)
    if len(responses) != len(guides):
        raise ValueError(f"style_score: {len(responses)} responses but {len(guides)} guides")
    return np.array(
        [np.mean(list(style_checks(r or "", g).values())) for r, g in zip(responses, guides)],
        dtype=float,
    )
