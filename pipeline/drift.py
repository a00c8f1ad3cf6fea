"""Public path of the calibration drift monitor: ``from pipeline.drift import monitor_drift``.

The implementation lives in :mod:`pipeline.stats.drift` with the rest of the statistical core.
"""

from pipeline.stats.drift import (
    COMPONENTS,
    HARMFUL,
    HARMFUL_WEIGHT,
    DriftResult,
    monitor_drift,
)

__all__ = ["COMPONENTS", "HARMFUL", "HARMFUL_WEIGHT", "DriftResult", "monitor_drift"]
