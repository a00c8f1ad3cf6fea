"""Automated scorers. Plain functions over lists of texts; no Dagster.

Every scorer has a ``VERSION`` (the judge: ``RUBRIC_VERSION``): stored with each score so a
changed definition is recomputed. ``bertscore`` loads torch and its encoder only when first
called, the style scorer its language model only when a guide names a language.

May import ``pipeline.replay``: the judge calls its model through it.
"""

from pipeline.scoring.bert import bertscore
from pipeline.scoring.judge import judge
from pipeline.scoring.refusal import refusal_score
from pipeline.scoring.rouge import rouge_l
from pipeline.scoring.style import StyleGuide, language_score, style_score

__all__ = ["StyleGuide", "bertscore", "judge", "language_score", "refusal_score", "rouge_l",
           "style_score"]
