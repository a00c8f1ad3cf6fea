"""The next requests to label, for every slice that keeps a verdict from resolving.

For each (candidate, dimension, region) whose decision needs more labels and whose label plan
says labelling can settle it, one round of active labelling (``propose_labels``) over that
slice's requests: about ``labels_needed`` new requests (capped by those still unlabelled),
drawn with probabilities proportional to how unsure the automated prediction is there, with a
uniform floor. The whole design (every request's inclusion probability, and which were drawn)
is kept, since an unbiased estimate from these labels needs it (``active_estimate``; or
``compare(..., weight_col=...)`` with 1 / inclusion probability). Region ``ALL`` stands for a
dimension whose regions all resolved while the traffic-weighted total did not: its round
covers every region.
"""

from __future__ import annotations

import pandas as pd

from pipeline.stats.active_labelling import propose_labels
from pipeline.stats.paired_deltas import signals

QUEUE_COLUMNS = ["candidate", "dimension", "region", "request_id", "labelled", "uncertainty",
                 "prediction", "inclusion_prob", "weight", "selected", "to_label"]


def label_queue(features: pd.DataFrame, blocking: pd.DataFrame, incumbent: str, *,
                floor: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """One design row per (blocking slice, request answered by both models).

    ``features``: rows of ``pipeline.stats.calibration.build_features`` (request_id, model,
    region, dimension, auto, auto_2, human). ``blocking``: candidate, dimension, region,
    labels_needed, one row per slice to queue. Returns the QUEUE_COLUMNS; ``to_label`` marks
    the requests to send to annotators (both models' responses on that dimension).
    """
    designs = []
    for number, blocked in enumerate(blocking.itertuples(index=False)):
        rows = features[(features["dimension"] == blocked.dimension)
                        & features["model"].isin([incumbent, blocked.candidate])]
        if blocked.region != "ALL":
            rows = rows[rows["region"] == blocked.region]
        budget = min(int(blocked.labels_needed), _unlabelled_requests(rows, incumbent,
                                                                       blocked.candidate))
        if budget < 1:
            continue
        design = propose_labels(rows, budget, incumbent, blocked.candidate,
                                auto_cols=signals(rows), item_col="request_id",
                                model_col="model", human_col="human", seed=seed + number,
                                floor=floor)
        designs.append(design.assign(candidate=blocked.candidate,
                                     dimension=blocked.dimension, region=blocked.region))
    if not designs:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    return pd.concat(designs, ignore_index=True)[QUEUE_COLUMNS]


def _unlabelled_requests(rows: pd.DataFrame, incumbent: str, candidate: str) -> int:
    """Requests answered by both models and not labelled for both."""
    labelled = (rows.assign(_labelled=rows["human"].notna())
                .groupby(["request_id", "model"])["_labelled"].any().unstack("model"))
    if not {incumbent, candidate} <= set(labelled.columns):
        return 0
    answered = labelled[[incumbent, candidate]].notna().all(axis=1)
    both = labelled[incumbent].eq(True) & labelled[candidate].eq(True)
    return int((answered & ~both).sum())
