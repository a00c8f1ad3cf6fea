"""The next requests to label, for every slice that keeps a verdict from resolving.

For each (candidate, dimension, region) whose decision needs more labels and whose label plan
says labelling can settle it, one round of active labelling (``propose_labels``) over that
slice's requests: about ``labels_needed`` new requests (capped by those still unlabelled),
drawn with probabilities proportional to how unsure the automated prediction is there, with a
uniform floor. The whole design (every request's inclusion probability, and which were drawn)
is kept, since an unbiased estimate from these labels needs it (``active_estimate``; or
``compare(..., weight_col=...)`` with 1 / inclusion probability). Region None (NULL) stands for a
dimension whose regions all resolved while the traffic-weighted total did not: its round
covers every region.
"""

from __future__ import annotations

import pandas as pd

from pipeline.stats.active_labelling import propose_labels
from pipeline.stats.frames import request_status
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
        if not pd.isna(blocked.region):  # None: the round covers all traffic
            rows = rows[rows["region"] == blocked.region]
        status = request_status(rows, incumbent, blocked.candidate, "human", "request_id",
                                "model")
        budget = min(int(blocked.labels_needed), int((~status["labelled"]).sum()))
        if budget < 1:
            continue
        design = propose_labels(rows, budget, incumbent, blocked.candidate,
                                auto_cols=signals(rows), item_col="request_id",
                                model_col="model", human_col="human", seed=seed + number,
                                floor=floor)
        designs.append(design.assign(candidate=blocked.candidate,
                                     dimension=blocked.dimension,
                                     region=None if pd.isna(blocked.region) else blocked.region))
    if not designs:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    return pd.concat(designs, ignore_index=True)[QUEUE_COLUMNS]


def design_weights(features: pd.DataFrame, queue: pd.DataFrame, incumbent: str) -> pd.DataFrame:
    """Design weights (1 / probability of being labelled) of every labelled request of each
    (candidate, dimension) that label-queue rounds have drawn from; none for the others.

    A request is labelled if the first, uniform labelling of its region took it (probability
    p0: the region's labelled requests that no round asked for, over its requests) or some
    round drew it (probability pi_t from that round's design): P = 1 − (1 − p0) Π_t (1 − pi_t),
    the rounds being independent Poisson draws given the labels before them. Returns
    candidate, dimension, request_id, weight.
    """
    out = []
    if queue.empty:
        return pd.DataFrame(columns=["candidate", "dimension", "request_id", "weight"])
    for (candidate, dimension), rounds in queue.groupby(["candidate", "dimension"]):
        rows = features[(features["dimension"] == dimension)
                        & features["model"].isin([incumbent, candidate])]
        status = request_status(rows, incumbent, candidate, "human", "request_id", "model",
                                "region").rename(columns={"group": "region"})
        missed = (1 - rounds["inclusion_prob"]).groupby(rounds["request_id"]).prod()
        asked = set(rounds.loc[rounds["to_label"].astype(bool), "request_id"])
        status["missed"] = status.index.map(missed).fillna(1.0)
        status["asked"] = status.index.isin(asked)
        first = status[status["labelled"] & ~status["asked"]].groupby("region").size()
        p0 = (first / status.groupby("region").size()).reindex(status["region"].unique())
        status["p0"] = status["region"].map(p0.fillna(0.0))
        labelled = status[status["labelled"]]
        chance = 1 - (1 - labelled["p0"]) * labelled["missed"]
        out.append(pd.DataFrame({"candidate": candidate, "dimension": dimension,
                                 "request_id": labelled.index, "weight": 1 / chance.to_numpy()}))
    return pd.concat(out, ignore_index=True)

