"""Automated scorers. Plain functions over lists of texts; no Dagster.

Every scorer has a ``VERSION``: stored with each score so a changed definition is recomputed.
``bertscore`` loads torch and its encoder only when first called.
"""

from pipeline.scoring.bert import bertscore
from pipeline.scoring.refusal import refusal_score
from pipeline.scoring.rouge import rouge_l
from pipeline.scoring.style import StyleGuide, style_score

__all__ = ["StyleGuide", "bertscore", "refusal_score", "rouge_l", "style_score"]
