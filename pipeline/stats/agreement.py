"""Agreement between annotators: Krippendorff's alpha per quality dimension (the
``krippendorff`` package), over the responses that more than one annotator labelled.

1 is perfect agreement, 0 what chance gives; ordinal for graded scales, nominal for 0/1.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd

from pipeline.data.dimensions import DIMENSIONS

AGREEMENT_COLUMNS = ["dimension", "alpha", "level", "responses", "annotators"]


def annotator_agreement(labels: pd.DataFrame) -> pd.DataFrame:
    """One row per dimension of ``labels`` (human_labels' columns): ``alpha`` (NaN when no
    response has two labels, or every label is the same), its ``level`` of measurement, the
    ``responses`` labelled by two annotators or more, and the ``annotators``."""
    rows = []
    for dimension, group in labels.groupby("dimension", sort=True):
        level = "nominal" if DIMENSIONS[dimension].binary else "ordinal"
        response = group["request_id"].astype(str) + "\x1f" + group["model"].astype(str)
        shared = response.map(response.value_counts()) > 1
        matrix = (group[shared].assign(response=response[shared])
                  .pivot_table(index="annotator", columns="response", values="score",
                               aggfunc="first"))
        alpha = np.nan
        if matrix.shape[1] and np.unique(matrix.to_numpy()[~np.isnan(matrix.to_numpy())]).size > 1:
            alpha = float(krippendorff.alpha(reliability_data=matrix.to_numpy(),
                                              level_of_measurement=level))
        rows.append({"dimension": dimension, "alpha": alpha, "level": level,
                     "responses": int(matrix.shape[1]), "annotators": group["annotator"].nunique()})
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
