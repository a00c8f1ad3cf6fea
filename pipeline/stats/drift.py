"""Calibration drift: an anytime-valid sequential test of new human labels against the labels
the current calibration was fitted on.

Plain Python (numpy, scipy, pandas; no Dagster, no warehouse): the ``calibration_drift`` asset,
the CLI or a notebook call :func:`monitor_drift`.

Guarantee. With no drift (the labelled responses of the reference and of the stream are
exchangeable: the same relation between automated scores and people, in any order), the
probability that ``alarm`` is ever True, over a stream of any length looked at after every
label, is at most ``alpha``; this holds exactly for any number of reference labels and for 0/1,
Likert (ties) or continuous labels. With ``group_col`` it holds for the union over groups.

Method (conformal test martingales, Vovk et al.). Five observation streams, each in time order:

* ``paired_shift``: per request labelled for both models, the within-request difference
  d = human(candidate) − human(incumbent) against the difference of the automated scores (the
  pair enters when its second label arrives);
* ``candidate_shift`` / ``incumbent_shift``: per request labelled for both models, one
  model's human score against its automated scores and the other response's human and
  automated scores (they carry what the metric misses about the request, so the residual is
  smaller); a response whose request is not labelled for the other model is not tested;
* ``slope``: the paired residual times the centred calibrated prediction (negative when the
  metric loses its signal: the humans stop following what the metric sees);
* ``noise``: per request labelled for both models, the sum of the two models' absolute
  residuals, each model's calibration taking the other's label and metrics (larger when
  either model's labels get noisier).

When a stream observation arrives, a linear calibration (ridge on standardised metrics, with an
intercept) is refitted on the whole bag of the reference and the stream so far, a function
symmetric in those points, and the new point's score is ranked among the scores of the bag, ties
broken at random (``seed``). Under exchangeability these smoothed conformal p-values are
independent and exactly uniform, whatever the reference's size (no plug-in threshold, no
overfitting of the reference: every point is scored by the same fit). Each p-value is turned
into a normal score z = Φ⁻¹(1 − p), exactly N(0, 1) under no drift, and each stream bets on its
scores with a weighted average of test martingales: two thirds on a shift of the scores' mean
(a mixture of likelihood ratios exp(μ z − μ²/2) over a grid of μ, both signs, upward only for
``noise``, and two predictable plug-in bets whose μ is the soft-thresholded mean of the last 25
or 50 scores, which follow a change that comes late in a long stream), one third on tail steps
(mixtures over λ of ∏ (1 − λ + λ 1{p in the tail} / a) for the upper and lower 10 %, 20 % and
35 % of p-values, λ > 0 betting that the tail fills and λ < 0 that it empties: with 0/1 or
Likert labels a drift moves labels between blocks of tied residuals, and a step function sees
that with fewer labels than a bell-curve shift; a 0/1 drift away from the rarer label empties
that label's tail). Two-sided streams put 3/4 of each kind of bet on the harmful direction
(``HARMFUL``: the candidate worse, or the incumbent better, than their metrics say, which is
what would make a migrate verdict wrong; the metric losing its signal) and 1/4 on the other.
An average of test martingales with fixed weights is a test martingale, and by Ville's
inequality P(sup_t M_t ≥ 1/a) ≤ a. The level is split (Bonferroni, valid whatever the
dependence between the streams): ``alpha``/G per group, and within a group 0.4 of it to
``candidate_shift``, 0.2 each to ``paired_shift`` and ``incumbent_shift`` and 0.1 each to
``slope`` and ``noise``. ``statistic`` is the largest e-value times its share of ``alpha``;
the alarm fires when it reaches 1/alpha.

Which response's label counts: the first label of each (item, model) in time order (labels of
equal time in a random order drawn from ``seed``); further labels of a response (other
annotators) are not tested, since two labels of one response are not exchangeable with labels
of two responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logsumexp
from scipy.stats import norm

from pipeline.stats.frames import check_comparison_frame

__all__ = ["COMPONENTS", "HARMFUL", "HARMFUL_WEIGHT", "DriftResult", "monitor_drift"]

# stream name -> (share of a group's alpha, sides bet on: 2 = both, 1 = upward only)
COMPONENTS = {"paired_shift": (0.2, 2), "candidate_shift": (0.4, 2),
              "incumbent_shift": (0.2, 2), "slope": (0.1, 2), "noise": (0.1, 1)}
# stream name -> the sign of its normal scores when the drift would make a migrate verdict
# wrong (candidate worse or incumbent better than the metric says; the metric losing its
# signal; noisier labels). A two-sided stream stakes HARMFUL_WEIGHT of its bets on this side.
HARMFUL = {"paired_shift": -1, "candidate_shift": -1, "incumbent_shift": 1, "slope": -1,
           "noise": 1}
# what each stream's alarm means, for ``DriftResult.drifted`` readers
MEANING = {"paired_shift": "the candidate-minus-incumbent human difference moved against the "
                           "metric (either model's calibration)",
           "candidate_shift": "the candidate's human scores moved against its metric and "
                              "the incumbent's label of the same request",
           "incumbent_shift": "the incumbent's human scores moved against its metric and "
                              "the candidate's label of the same request",
           "slope": "the metric's slope changed (it lost or gained signal)",
           "noise": "the human scores got noisier around the calibration"}
_GRID = np.array([0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0])  # μ of the likelihood-ratio mixture
_WINDOWS = (25, 50)  # plug-in bets: the mean of the last W normal scores
_SHRINK = 0.1  # ... soft-thresholded by this much
_CAP = 1.0  # ... and capped
_RIDGE = 1.0  # ridge penalty on the standardised metrics' coefficients (not the intercept)
_SHIFT_WEIGHT = 2.0 / 3.0  # of each stream's e-process on mean shifts; the rest on tail steps
HARMFUL_WEIGHT = 0.75  # of a two-sided stream's bets on its HARMFUL side
_TAILS = (0.1, 0.2, 0.35)  # tail steps: the share a of the p-values they bet will fill or empty
_LAMBDAS = np.array([0.05, 0.1, 0.2, 0.35, 0.5, 0.7])  # ... how much they stake on filling
_EMPTYING = np.array([0.3, 0.6, 0.9])  # ... and on emptying, as a share of the most possible
_DECIMALS = 10  # scores are rounded so equal inputs tie exactly
# calibration_drift's code version: bump it when the monitor changes.
MONITOR_VERSION = "drift-ctm-3"
METHOD = ("conformal test martingales on ranks of calibration residuals (full-conformal "
          "refit on reference + stream; paired shift, per-model shifts, slope, noise), "
          "Bonferroni over streams and groups")


@dataclass(frozen=True)
class DriftResult:
    """What :func:`monitor_drift` found.

    ``statistic``: one row per stream label (the first label of an (item, model) after
    ``reference_end``, incumbent or candidate, in time order): ``time``, ``item``, ``model``,
    ``group``, ``statistic`` (the largest e-value of any group's stream times its share of
    ``alpha``, over every group, as of this label), ``threshold`` (1 / alpha), ``alarm``
    (statistic has reached the threshold at or before this label), and ``e_<stream>`` for
    each stream of :data:`COMPONENTS` (its e-value in this label's group).

    ``components``: one row per (group, stream): ``group``, ``component``, ``alpha`` (its share),
    ``threshold`` (1 / its share), ``n_reference``, ``n_stream`` (observations), ``e_value``
    (last), ``e_max``, ``alarm``, ``alarm_at``.

    ``groups``: one row per group (``"ALL"`` without ``group_col``): ``group``, ``alpha``,
    ``n_reference``, ``n_stream``, ``alarm``, ``alarm_at``, ``drifted`` (the alarmed streams,
    comma-separated, first to alarm first).
    """

    alarm: bool
    alarm_at: object  # the time_col value of the label at which the alarm fired, or None
    statistic: pd.DataFrame
    method: str
    alpha: float
    threshold: float  # 1 / alpha
    reference_end: object  # as given, or as resolved from None
    n_reference: int  # labels (first label per item x model) at or before reference_end
    n_stream: int  # labels after it
    drifted: tuple = ()  # streams that alarmed in any group, first to alarm first
    alarm_group: object = None  # the group whose stream fired first, or None
    alarm_component: str | None = None  # the stream that fired first, or None
    components: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    groups: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def to_dict(self) -> dict:
        """The scalar fields (no frames), for run metadata or JSON."""
        return {"alarm": self.alarm, "alarm_at": self.alarm_at, "method": self.method,
                "alpha": self.alpha, "threshold": self.threshold,
                "reference_end": self.reference_end, "n_reference": self.n_reference,
                "n_stream": self.n_stream, "drifted": list(self.drifted),
                "alarm_group": self.alarm_group, "alarm_component": self.alarm_component}


# ----------------------------------------------------------------------------- validation
def _labels(frame, incumbent, candidate, human_col, auto_cols, item_col, model_col, time_col,
            group_col, seed) -> pd.DataFrame:
    """The first label of each (item, model) of the two models, in time order, with a
    column ``_order`` (labels of equal time in a random order from ``seed``)."""
    where = "monitor_drift"
    needed = [item_col, model_col, human_col, *auto_cols, time_col] + (
        [group_col] if group_col else [])
    check_comparison_frame(where, frame, needed, model_col, incumbent, candidate)
    for col in [human_col, *auto_cols]:
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(
                frame[col]):
            raise ValueError(f"{where}: column {col!r} must be numeric")
    rows = frame[frame[model_col].astype(str).isin([str(incumbent), str(candidate)])]
    rows = rows[rows[human_col].notna()].copy()
    if rows.empty:
        raise ValueError(f"{where}: no human labels for either model in {human_col!r}")
    rows[model_col] = rows[model_col].astype(str)
    times = rows[time_col]
    if not (pd.api.types.is_datetime64_any_dtype(times) or pd.api.types.is_numeric_dtype(times)):
        try:
            times = pd.to_datetime(times)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{where}: column {time_col!r} must hold times (datetimes or "
                             f"numbers): {error}") from None
        rows[time_col] = times
    missing_time = int(times.isna().sum())
    if missing_time:
        raise ValueError(f"{where}: {missing_time} labelled rows have no {time_col!r} "
                         "(NaT); every label needs the time it arrived")
    for col in auto_cols:
        if rows[col].isna().any() or not np.isfinite(rows[col].to_numpy(float)).all():
            raise ValueError(f"{where}: automated score column {col!r} has missing values "
                             "on labelled rows")
    if not np.isfinite(rows[human_col].to_numpy(float)).all():
        raise ValueError(f"{where}: column {human_col!r} has infinite values")
    if group_col and rows[group_col].isna().any():
        raise ValueError(f"{where}: column {group_col!r} is missing on labelled rows")
    rng = np.random.default_rng(seed)
    rows["_tie"] = rng.permutation(len(rows))
    rows = rows.sort_values([time_col, "_tie"], kind="stable")
    rows = rows.drop_duplicates([item_col, model_col], keep="first")
    rows["_order"] = np.arange(len(rows))
    return rows.drop(columns="_tie")


def _resolve_reference_end(rows, time_col, reference_end):
    times = rows[time_col]
    if reference_end is None:
        # the earlier half of the labels: the time of the middle label in time order
        return times.iloc[(len(times) - 1) // 2]
    if pd.api.types.is_datetime64_any_dtype(times):
        try:
            reference_end = pd.Timestamp(reference_end)
        except (ValueError, TypeError) as error:
            raise ValueError(f"monitor_drift: reference_end {reference_end!r} is not a time: "
                             f"{error}") from None
        if (reference_end.tzinfo is None) != (times.dt.tz is None):
            raise ValueError("monitor_drift: reference_end and the column "
                             f"{time_col!r} must both have a time zone or both not")
    elif not isinstance(reference_end, int | float | np.number):
        raise ValueError(f"monitor_drift: reference_end {reference_end!r} must be a number "
                         f"like the column {time_col!r}")
    if not (times <= reference_end).any():
        raise ValueError(f"monitor_drift: no reference labels: no label has {time_col!r} <= "
                         f"reference_end ({reference_end}); the reference is the labels the "
                         "current calibration was fitted on")
    return reference_end


# ----------------------------------------------------------------------------- the test
def _bag_fits(y: np.ndarray, X: np.ndarray, n_ref: int):
    """For each stream step t (T = n - n_ref of them), the calibration y ~ 1 + X refitted on
    the bag of the first n_ref + t + 1 points: residuals and centred fitted values of every
    point (T x n each) and which points are in the bag (T x n).

    The ridge acts on the metrics standardised over the bag itself (not over the reference
    alone, which would make the fit depend on which points are the reference, and is undefined
    for an empty one). With an unpenalised intercept, centring changes nothing, and scaling a
    metric by its sd s is the same as penalising its raw coefficient by _RIDGE * s^2, so the
    fit stays one cumulative solve on the raw metrics."""
    n, k = X.shape
    T = n - n_ref
    Z = np.column_stack([np.ones(n), X])
    gram = np.cumsum(Z[:, :, None] * Z[:, None, :], axis=0)[n_ref:]  # T x (k+1) x (k+1)
    cross = np.cumsum(Z * y[:, None], axis=0)[n_ref:]
    size = np.arange(n_ref + 1, n + 1)[:, None]
    mean = np.cumsum(X, axis=0)[n_ref:] / size
    var = np.maximum(np.cumsum(X ** 2, axis=0)[n_ref:] / size - mean ** 2, 0.0)  # T x k
    var = np.where(var > 1e-24, var, 1.0)
    penalty = np.zeros((T, k + 1, k + 1))
    penalty[:, np.arange(1, k + 1), np.arange(1, k + 1)] = _RIDGE * var
    coef = np.linalg.solve(gram + penalty, cross[:, :, None])[:, :, 0]  # T x (k+1)
    inside = np.arange(n)[None, :] < (n_ref + np.arange(1, T + 1))[:, None]  # T x n: bag
    resid = y[None, :] - coef @ Z.T
    fitted = coef[:, 1:] @ X.T
    centre = (fitted * inside).sum(1, keepdims=True) / inside.sum(1, keepdims=True)
    return resid, fitted - centre, inside


def _rank_p(score: np.ndarray, inside: np.ndarray, n_ref: int,
            rng: np.random.Generator) -> np.ndarray:
    """Smoothed conformal p-value of each step's new point (column n_ref + t of row t) among
    the scores of its bag: large score -> small p, ties broken at random."""
    T = score.shape[0]
    score = np.round(score, _DECIMALS)
    new = score[np.arange(T), n_ref + np.arange(T)][:, None]
    greater = ((score > new) & inside).sum(1)
    equal = ((score == new) & inside).sum(1)  # the new point itself included
    tie = 1.0 - rng.random(T)  # in (0, 1]
    return (greater + tie * equal) / inside.sum(1)


def _conformal_p(y: np.ndarray, X: np.ndarray, n_ref: int, kind: str,
                 rng: np.random.Generator) -> np.ndarray:
    """Smoothed conformal p-values of observations n_ref, n_ref + 1, ... (large score -> small
    p). At each step the calibration y ~ 1 + X is refitted (ridge on the metrics) on every
    point so far, the new one included, so the score is a symmetric function of the bag:
    under exchangeability the p-values are independent U(0, 1). ``kind``: the score is the
    residual ("shift") or the residual times the centred fitted value ("slope"); the noise
    stream's is :func:`_conformal_p_noise`'s."""
    if len(y) <= n_ref:
        return np.zeros(0)
    resid, fitted, inside = _bag_fits(y, X, n_ref)
    return _rank_p(resid * fitted if kind == "slope" else resid, inside, n_ref, rng)


def _conformal_p_noise(fits: tuple, n_ref: int, rng: np.random.Generator) -> np.ndarray:
    """Conformal p-values of the requests labelled for both models, scored by the sum of the
    two models' absolute residuals, each model's calibration taking the other's label and
    metrics (``fits``: (y, X) pairs, one per model, one row per request): larger when either
    model's labels get noisier, and sharper than the residual of the difference, which carries
    both models' noise whichever got noisier."""
    if len(fits[0][0]) <= n_ref:
        return np.zeros(0)
    score, inside = 0.0, None
    for y, X in fits:
        resid, _, inside = _bag_fits(y, X, n_ref)
        score = score + np.abs(resid)
    return _rank_p(score, inside, n_ref, rng)


def _side_weights(directions: np.ndarray, harmful: int) -> np.ndarray:
    """Weights summing to one over bets that point in ``directions`` (+1 / −1): the harmful
    side shares HARMFUL_WEIGHT (when bets point both ways), each bet of a side alike."""
    directions = np.asarray(directions)
    if np.all(directions == directions[0]):
        return np.full(len(directions), 1.0 / len(directions))
    on_harm = directions == harmful
    return np.where(on_harm, HARMFUL_WEIGHT / on_harm.sum(),
                    (1.0 - HARMFUL_WEIGHT) / (~on_harm).sum())


def _log_e_process(z: np.ndarray, sides: int, harmful: int = 1) -> np.ndarray:
    """log M_t after each normal score: a weighted average of test martingales on the same
    scores (so itself one). Two thirds on shifts of the scores' mean: a likelihood-ratio
    mixture over _GRID and predictable plug-in bets over the last W scores. One third on tail
    steps (:func:`_log_tail_steps`). With two sides, HARMFUL_WEIGHT of the mixture's weight is on
    the ``harmful`` sign of μ."""
    if len(z) == 0:
        return np.zeros(0)
    mus = np.concatenate([_GRID, -_GRID]) if sides == 2 else _GRID
    steps = z[:, None] * mus[None, :] - mus[None, :] ** 2 / 2
    log_weight = np.log(_side_weights(np.sign(mus), harmful))
    parts = [logsumexp(np.cumsum(steps, axis=0) + log_weight, axis=1)]
    sums = np.concatenate([[0.0], np.cumsum(z)])
    t = np.arange(len(z))
    for window in _WINDOWS:
        lo = np.maximum(t - window, 0)
        count = t - lo
        mean = np.where(count > 0, (sums[t] - sums[lo]) / np.maximum(count, 1), 0.0)
        mu = np.sign(mean) * np.clip(np.abs(mean) - _SHRINK, 0.0, _CAP)
        if sides == 1:
            mu = np.maximum(mu, 0.0)
        parts.append(np.cumsum(mu * z - mu ** 2 / 2))
    shift = logsumexp(np.stack(parts), axis=0) - np.log(len(parts))
    tails = _log_tail_steps(z, sides, harmful)
    return logsumexp(np.stack([shift + np.log(_SHIFT_WEIGHT),
                               tails + np.log(1.0 - _SHIFT_WEIGHT)]), axis=0)


def _log_tail_steps(z: np.ndarray, sides: int, harmful: int = 1) -> np.ndarray:
    """log of a weighted average, over the tails a of _TAILS (upper, and lower for two sides),
    of mixtures over λ of prod_s (1 − λ + λ 1{p_s in the tail} / a): the likelihood ratio when
    the tail holds a share a (1 − λ) + λ of the labels instead of a. λ in _LAMBDAS bets that it
    fills (a share of the labels moves into it); with two sides, λ = −f a / (1 − a), f in
    _EMPTYING, bets that it empties (0/1 labels leaving the rarer label take its tail with
    them). An upper tail filling or a lower one emptying points up; the ``harmful`` direction
    gets HARMFUL_WEIGHT of the weight when bets point both ways."""
    p = norm.sf(z)
    t = np.arange(1, len(z) + 1)[:, None]
    parts, directions = [], []
    for a in _TAILS:
        for inside, up in [(p <= a, 1)] + ([(p >= 1.0 - a, -1)] if sides == 2 else []):
            k = np.cumsum(inside)[:, None]
            bets = [(_LAMBDAS, up)] + ([(-_EMPTYING * a / (1.0 - a), -up)] if sides == 2 else [])
            for lambdas, direction in bets:
                log_w = (t - k) * np.log1p(-lambdas) + k * np.log1p(lambdas * (1.0 / a - 1.0))
                parts.append(logsumexp(log_w, axis=1) - np.log(len(lambdas)))
                directions.append(direction)
    log_weight = np.log(_side_weights(np.array(directions), harmful))
    return logsumexp(np.stack(parts) + log_weight[:, None], axis=0)


def _streams(rows, incumbent, candidate, human_col, auto_cols, item_col, model_col, time_col,
             reference_end):
    """Per stream of COMPONENTS: (y, X, n_ref, order), one observation per request labelled
    for both models, in the order of its later label (its arrival: ``order``). For
    ``noise`` y is the two models' (y, X) calibrations and X is None.

    The per-model streams regress one model's label on its metrics, the other model's
    metrics and the other model's label: that label carries what the metric misses about the
    request (how hard it is), so the residual is smaller and a shift stands out sooner. Only
    requests with both labels enter, so every observation has the same covariates whatever
    the order labels arrive in; letting an unpaired label in with the other label "not yet
    known" made early labels differ from late ones (fewer mates are known early), which
    breaks exchangeability and false-alarmed on the drift-free demo."""
    inc = rows[rows[model_col] == incumbent].set_index(item_col)
    cand = rows[rows[model_col] == candidate].set_index(item_col)
    both = inc.index.intersection(cand.index)
    inc, cand = inc.loc[both], cand.loc[both]
    arrival = np.maximum(inc["_order"].to_numpy(), cand["_order"].to_numpy())
    sort = np.argsort(arrival, kind="stable")
    later = np.maximum(inc[time_col].to_numpy(), cand[time_col].to_numpy())[sort]
    n_ref = int((later <= reference_end).sum())  # the reference pairs come first
    order = arrival[sort]
    h_c, h_i = cand[human_col].to_numpy(float)[sort], inc[human_col].to_numpy(float)[sort]
    a_c = cand[list(auto_cols)].to_numpy(float)[sort]
    a_i = inc[list(auto_cols)].to_numpy(float)[sort]
    candidate_fit = (h_c, np.column_stack([a_c, a_i, h_i]))
    incumbent_fit = (h_i, np.column_stack([a_i, a_c, h_c]))
    paired = (h_c - h_i, a_c - a_i, n_ref, order)
    return {"paired_shift": paired, "slope": paired,
            "candidate_shift": (*candidate_fit, n_ref, order),
            "incumbent_shift": (*incumbent_fit, n_ref, order),
            "noise": ((candidate_fit, incumbent_fit), None, n_ref, order)}


def _monitor_group(rows, incumbent, candidate, human_col, auto_cols, item_col, model_col,
                   time_col, reference_end, rng):
    """Log e-values of each stream of one group as of each of the group's stream labels
    (labels x streams), the labels' ``_order`` and each stream's (reference, stream) counts."""
    streams = _streams(rows, incumbent, candidate, human_col, auto_cols, item_col, model_col,
                       time_col, reference_end)
    stream_orders = rows.loc[rows[time_col] > reference_end, "_order"].to_numpy()
    log_e = np.zeros((len(stream_orders), len(COMPONENTS)))
    counts = {}
    for j, (name, (_share, sides)) in enumerate(COMPONENTS.items()):
        y, X, n_ref, order = streams[name]
        if name == "noise":
            p = _conformal_p_noise(y, n_ref, rng)
        else:
            p = _conformal_p(y, X, n_ref, "slope" if name == "slope" else "shift", rng)
        z = norm.isf(np.clip(p, 1e-15, 1 - 1e-15))
        path = np.concatenate([[0.0], _log_e_process(z, sides, HARMFUL[name])])
        # as of each stream label: after the last observation that arrived at or before it
        log_e[:, j] = path[np.searchsorted(order[n_ref:], stream_orders, side="right")]
        counts[name] = (n_ref, len(order) - n_ref)
    return stream_orders, log_e, counts


# ----------------------------------------------------------------------------- public
def monitor_drift(frame: pd.DataFrame, incumbent: str, candidate: str, human_col: str = "human",
                  auto_cols=("auto",), item_col: str = "item_id", model_col: str = "model",
                  time_col: str = "labeled_at", reference_end=None, alpha: float = 0.05,
                  group_col: str | None = None, seed: int = 0) -> DriftResult:
    """Has the calibration of ``auto_cols`` against ``human_col`` drifted since the reference?

    ``frame`` is shaped as for ``pipeline.compare.compare`` (one row per (item, model) or per
    label, automated scores on every labelled row, ``human_col`` NaN where unlabelled) plus
    ``time_col``, when each label arrived (datetimes or numbers; NaT / NaN only where
    unlabelled). Only the rows of ``incumbent`` and ``candidate`` are read.

    ``reference_end``: labels with ``time_col <= reference_end`` are the reference (what the
    current calibration was fitted on); later labels are the stream, taken in time order.
    ``None``: the earlier half of the labels (the reference ends at the time of the middle one
    of the two models' first labels per response, in time order). After an alarm, restart the
    reference at the change: pass the alarm's time (or a later one) as the new reference_end
    once the calibration has been refitted on the labels after it.

    ``alpha``: with no drift, P(alarm ever fires, over a stream of any length, looked at after
    every label) <= alpha. ``group_col`` (the pipeline's regions): a separate monitor per group
    (its own reference, stream and calibration), each at alpha / number of groups, so the
    union (``alarm``) keeps alpha; ``groups`` says which group drifted. ``seed``: the random
    order of labels with equal times and the tie-breaking of equal scores (Likert, 0/1 labels);
    the guarantee holds for every seed, do not pick the seed after seeing the result.

    Raises ValueError, naming the column, for a missing column, an unknown model, a
    non-numeric score, labelled rows without a time or an automated score, no labels, or no
    label at or before ``reference_end``. Cost: O(stream x (reference + stream)) per stream
    (450 labelled requests: well under a second).
    """
    auto_cols = [auto_cols] if isinstance(auto_cols, str) else list(auto_cols)
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"monitor_drift: alpha must be in (0, 1), got {alpha!r}")
    alpha = float(alpha)
    rows = _labels(frame, incumbent, candidate, human_col, auto_cols, item_col, model_col,
                   time_col, group_col, seed)
    incumbent, candidate = str(incumbent), str(candidate)
    reference_end = _resolve_reference_end(rows, time_col, reference_end)
    rng = np.random.default_rng([seed, 1])
    names = list(COMPONENTS)
    group_names = sorted(pd.unique(rows[group_col]), key=str) if group_col else ["ALL"]
    alpha_group = alpha / len(group_names)
    # a stream alarms when e >= 1 / (share * alpha_group); scaled so that all alarm at 1/alpha
    log_scale = np.log(np.array([share for share, _ in COMPONENTS.values()]) * alpha_group
                       / alpha)
    stream = rows[rows[time_col] > reference_end]
    orders = stream["_order"].to_numpy()
    scaled = np.full((len(orders), len(group_names)), log_scale.max())  # e = 1 before data
    e_of_row = np.ones((len(orders), len(names)))
    component_rows, group_rows, fired = [], [], []
    time_of = dict(zip(orders, stream[time_col]))
    for g, group in enumerate(group_names):
        part = rows[rows[group_col] == group] if group_col else rows
        g_orders, log_e, counts = _monitor_group(part, incumbent, candidate, human_col,
                                                 auto_cols, item_col, model_col, time_col,
                                                 reference_end, rng)
        e_of_row[np.searchsorted(orders, g_orders)] = np.exp(log_e)
        upto = np.searchsorted(g_orders, orders, side="right")  # this group's latest value
        best = np.concatenate([[log_scale.max()], (log_e + log_scale).max(1)])
        scaled[:, g] = best[upto]
        group_fired = []
        for j, component in enumerate(names):
            crossed = np.flatnonzero(log_e[:, j] + log_scale[j] >= -np.log(alpha))
            first = int(g_orders[crossed[0]]) if len(crossed) else None
            if first is not None:
                group_fired.append((first, component))
            component_rows.append({
                "group": group, "component": component,
                "alpha": float(np.exp(log_scale[j]) * alpha),
                "threshold": float(1.0 / (np.exp(log_scale[j]) * alpha)),
                "n_reference": counts[component][0], "n_stream": counts[component][1],
                "e_value": float(np.exp(log_e[-1, j])) if len(log_e) else 1.0,
                "e_max": float(np.exp(max(log_e[:, j].max(), 0.0))) if len(log_e) else 1.0,
                "alarm": first is not None,
                "alarm_at": time_of[first] if first is not None else None})
        group_fired.sort()
        fired += [(order, group, component) for order, component in group_fired]
        n_ref = int((part[time_col] <= reference_end).sum())
        group_rows.append({"group": group, "alpha": alpha_group, "n_reference": n_ref,
                           "n_stream": len(part) - n_ref, "alarm": bool(group_fired),
                           "alarm_at": time_of[group_fired[0][0]] if group_fired else None,
                           "drifted": ",".join(c for _, c in group_fired)})
    threshold = 1.0 / alpha
    overall = np.exp(scaled.max(1))
    statistic = pd.DataFrame({
        "time": stream[time_col].to_numpy(), "item": stream[item_col].to_numpy(),
        "model": stream[model_col].to_numpy(),
        "group": stream[group_col].to_numpy() if group_col else np.full(len(orders), "ALL"),
        "statistic": overall, "threshold": threshold,
        "alarm": np.maximum.accumulate(np.log(overall) >= np.log(threshold) - 1e-12)
        if len(orders) else np.zeros(0, dtype=bool)})
    for j, component in enumerate(names):
        statistic[f"e_{component}"] = e_of_row[:, j]
    fired.sort(key=lambda f: f[0])
    first = fired[0] if fired else None
    return DriftResult(
        alarm=first is not None, alarm_at=time_of[first[0]] if first else None,
        statistic=statistic, method=METHOD, alpha=alpha, threshold=threshold,
        reference_end=reference_end, n_reference=len(rows) - len(stream),
        n_stream=len(stream), drifted=tuple(dict.fromkeys(c for _, _, c in fired)),
        alarm_group=first[1] if first else None, alarm_component=first[2] if first else None,
        components=pd.DataFrame(component_rows), groups=pd.DataFrame(group_rows))
