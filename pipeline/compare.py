"""Public path of the paired and joint comparison: ``from pipeline.compare import compare``.

The implementation lives in :mod:`pipeline.stats.compare` with the rest of the statistical core.
"""

from pipeline.stats.compare import (
                                    Comparison,
                                    MultiComparison,
                                    check_pair,
                                    compare,
                                    compare_many,
                                    p_best,
)

__all__ = ["Comparison", "MultiComparison", "check_pair", "compare", "compare_many", "p_best"]
