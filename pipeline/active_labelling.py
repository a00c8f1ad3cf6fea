"""Public path of active labelling: ``from pipeline.active_labelling import propose_labels,
active_estimate``. The implementation lives in :mod:`pipeline.stats.active_labelling`."""

from pipeline.stats.active_labelling import (
                                             ActiveEstimate,
                                             active_estimate,
                                             ht_ppi_estimate,
                                             inclusion_probabilities,
                                             propose_labels,
)

__all__ = ["ActiveEstimate", "active_estimate", "ht_ppi_estimate", "inclusion_probabilities",
           "propose_labels"]
