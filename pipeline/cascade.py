"""Public path of the cascade model: ``from pipeline.cascade import fit_cascade, evaluate_cascade``.

A cascade sends each request to the cheapest model first and defers to the next while the
model's confidence is below its threshold. The implementation (the Markov-copula model of
Zellinger & Thomson) lives in :mod:`pipeline.stats.cascade` with the rest of the statistical core.
"""

from pipeline.stats.cascade import CascadeEvaluation, CascadeFit, evaluate_cascade, fit_cascade

__all__ = ["CascadeEvaluation", "CascadeFit", "evaluate_cascade", "fit_cascade"]
