"""Public path of the single-pass predictive moments: ``from pipeline.predictive import
predictive_moments``. The implementation lives in :mod:`pipeline.stats.predictive`."""

from pipeline.stats.predictive import PredictiveMoments, moments_by_draws, predictive_moments

__all__ = ["PredictiveMoments", "predictive_moments", "moments_by_draws"]
