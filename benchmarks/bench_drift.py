"""Calibration drift: `pipeline.drift.monitor_drift` against repeated Welch t-tests, on the
same streams, simulated and real.

    python benchmarks/bench_drift.py [--streams 150] [--null-streams 400] [--seed 0]
                                     [--reference 150] [--stream 300] [--no-real] [--no-sim]

A stream: `reference` requests (both responses labelled, one label time per request) that the
calibration was fitted on, then `stream` more, one request per hour; a "label" in the tables is
one such request (two label rows). Drift starts at the first stream request (late-change rows:
at request 101 of the stream) and the automated scores never move. Scenarios:

* none: no drift; "false alarm" = the method ever alarms over the whole stream.
* cand -k sd: the candidate's human scores drop by k x sd of the paired human difference
  (k = 0.25, 0.5, 1); 0/1 and Likert labels move through their latent score, by the amount that
  drops the observed mean by k sd (0/1 real data: that share of labels flipped).
* inc +0.5 sd: the incumbent's human scores rise by 0.5 sd (the difference drops the same).
* slope loss: the candidate's humans stop following what the metric sees (simulated: its latent
  quality is redrawn, the item effect stays; real: the candidate's post-change scores are
  shuffled among requests whose incumbent score is in the same quartile). noise x2: the
  candidate's label noise sd is doubled (real: independent noise as large as the calibration
  residual added; 0/1 labels: a quarter flipped).

Methods, each on the same streams:
* monitor: ``monitor_drift(frame, "inc", "cand", reference_end=<last reference time>)``.
* t every 25: paired residuals (d − OLS fit of d on the metric difference, fitted on the
  reference) of the stream's first n requests against the reference's, Welch two-sided at 5 %,
  at n = 25, 50, ..., `stream`; alarm at the first look that rejects.
* t Bonferroni: the same at 5 % / number of looks.
* oracle 5 %, oracle at the stream's level: a bound, not a rival. It knows when the drift
  starts, its kind and direction and which model moved, and tests once, 150 requests after the
  change (``oracle_p``: a one-sided permutation test on the moved model's residual given both
  models' metrics and the other model's label), at 5 % and at the share of alpha that the
  monitor gives the stream, and the side of it, watching that drift. No monitor that must find
  the change without knowing any of that, at every label, can expect to beat it.
Detected = alarm within 150 requests of the change; delay = requests from the change to the
alarm (median over streams, a miss counting as never: "> N" when half or more miss).

Simulated (per request: item effect u ~ N(0, 1), per response quality q ~ N(0, 0.6²), metric
0.4 + 0.1 (u + q) + N(0, 0.05²), human latent 3 + u + q + N(0, 0.7²); continuous = the latent,
Likert = it rounded and clipped to 1-5, 0/1 = latent > 3.3; metric-human R² of the paired
difference about 0.25). Real (/work/shared/datasets): SummEval relevance and REALSumm
litepyramid with ROUGE-L F (a random system pair per stream, its 100 articles resampled with
replacement to reference + stream requests: i.i.d. from the pair's empirical distribution, so
drift-free by construction), XSTest refusal with the project's refusal detector (the two
systems' 450 prompts in a random order, every prompt once; drawn with replacement when
reference + stream exceeds 450).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_compare_real import tasks  # noqa: E402

from pipeline.drift import COMPONENTS, HARMFUL, HARMFUL_WEIGHT, monitor_drift  # noqa: E402

START = pd.Timestamp("2026-01-01")
DRIFTS = [("none", None, 0.0), ("cand -0.25 sd", "cand", 0.25), ("cand -0.5 sd", "cand", 0.5),
          ("cand -1 sd", "cand", 1.0), ("inc +0.5 sd", "inc", 0.5),
          ("slope loss", "slope", 1.0), ("noise x2", "noise", 1.0),
          ("cand -0.5 sd, late", "cand", 0.5)]
LATE = 100  # the late change comes after this many stream requests
ORACLE_N = 150  # the oracle tests once, at this many post-change requests


# ----------------------------------------------------------------------------- streams
def _latent(rng, n):
    u = rng.normal(0, 1, n)[:, None]
    q = rng.normal(0, 0.6, (n, 2))
    auto = 0.4 + 0.1 * (u + q) + rng.normal(0, 0.05, (n, 2))
    return u, q, auto, rng.normal(0, 0.7, (n, 2))


def _observe(latent, scale):
    if scale == "likert":
        return np.clip(np.round(latent), 1, 5)
    if scale == "binary":
        return (latent > 3.3).astype(float)
    return latent


def _latent_shifts(scale: str) -> tuple[float, dict]:
    """sd of the observed paired difference, and the latent drop of the candidate that
    lowers its observed mean by k sd (bisection on a large drift-free sample)."""
    rng = np.random.default_rng(12345)
    u, q, _, e = _latent(rng, 200_000)
    h = 3 + u + q + e
    obs = _observe(h, scale)
    sd = float(np.std(obs[:, 1] - obs[:, 0]))
    out = {}
    for k in (0.25, 0.5, 1.0):
        lo, hi = 0.0, 5.0
        for _ in range(40):
            mid = (lo + hi) / 2
            drop = obs[:, 1].mean() - _observe(h[:, 1] - mid, scale).mean()
            lo, hi = (mid, hi) if drop < k * sd else (lo, mid)
        out[k] = (lo + hi) / 2
    return sd, out


def simulated_stream(rng, scale, drift, k, n_ref, n_stream, shifts, change):
    """Human and metric (requests x [inc, cand]) for one simulated stream."""
    n = n_ref + n_stream
    u, q, auto, e = _latent(rng, n)
    post = np.arange(n) >= n_ref + change
    if drift == "slope":
        q[post, 1] = rng.normal(0, 0.6, post.sum())  # the metric keeps seeing the old q
    if drift == "noise":
        e[post, 1] *= 2.0
    h = 3 + u + q + e
    if drift in ("cand", "inc"):
        sign, col = (-1.0, 1) if drift == "cand" else (1.0, 0)
        h[post, col] += sign * shifts[k]
    return _observe(h, scale), auto, -1.0 if drift != "inc" else 1.0


def real_stream(rng, data, human, auto, n_ref, n_stream, drift, k, change):
    """Human and metric of one real stream: resampled (or permuted) paired items of a pair,
    with the drift injected after the change (sd = the pair's paired-difference sd), and the
    direction the moved model's human scores go (+1 up, -1 down)."""
    systems = sorted(data["system"].unique())
    pair = rng.choice(len(systems), 2, replace=False)
    inc, cand = systems[pair[0]], systems[pair[1]]
    if data["dataset"].iloc[0] == "xstest":
        inc, cand = "llama2orig", "mistralinstruct"
    wide = data[data["system"].isin([inc, cand])].pivot(index="item_id", columns="system",
                                                        values=[human, auto]).dropna()
    h_all = np.column_stack([wide[human][inc], wide[human][cand]]).astype(float)
    a_all = np.column_stack([wide[auto][inc], wide[auto][cand]]).astype(float)
    n = n_ref + n_stream
    idx = (rng.permutation(len(wide))[:n] if len(wide) >= n
           else rng.integers(0, len(wide), n))
    h, a = h_all[idx].copy(), a_all[idx]
    sd = float(np.std(h_all[:, 1] - h_all[:, 0]))
    post = np.arange(n) >= n_ref + change
    binary = set(np.unique(h_all)) <= {0.0, 1.0}
    direction = -1.0
    if drift in ("cand", "inc"):
        col, sign = (1, -1.0) if drift == "cand" else (0, 1.0)
        if binary:  # flip labels so that the mean moves by k sd in the drift's direction
            level = h_all[:, col].mean()
            toward = 0.0 if (sign < 0 and level > k * sd) or (sign > 0 and level > 1 - k * sd) \
                else 1.0
            pool = h[:, col] != toward
            share = k * sd / max(pool.mean(), 1e-9)
            flip = post & pool & (rng.random(n) < min(share, 1.0))
            h[flip, col] = toward
            direction = 1.0 if toward == 1.0 else -1.0
        else:
            h[post, col] += sign * k * sd
            direction = sign
    elif drift == "slope":
        h[:, 1] = _shuffle_within_strata(rng, h[:, 1], h[:, 0], post)
    elif drift == "noise":
        if binary:  # a quarter of the labels flipped at random
            flip = post & (rng.random(n) < 0.25)
            h[flip, 1] = 1.0 - h[flip, 1]
        else:  # independent noise: the calibration residual's variance doubles
            fit = np.polyval(np.polyfit(a_all[:, 1], h_all[:, 1], 1), a_all[:, 1])
            h[post, 1] += rng.normal(0, np.std(h_all[:, 1] - fit), post.sum())
        direction = 1.0
    return h, a, direction


def _shuffle_within_strata(rng, cand, inc, post):
    """The candidate's post-change scores shuffled among post-change requests whose incumbent
    score is in the same quartile (the same value for 0/1 labels): the request's difficulty
    and the score distribution stay, the link to what the candidate's metric sees goes."""
    values = np.unique(inc)
    strata = (np.searchsorted(np.quantile(inc, [0.25, 0.5, 0.75]), inc, side="right")
              if len(values) > 4 else np.searchsorted(values, inc))
    out = cand.copy()
    for stratum in np.unique(strata[post]):
        where = np.flatnonzero(post & (strata == stratum))
        out[where] = cand[rng.permutation(where)]
    return out


def frame_of(h, a):
    n = len(h)
    times = START + pd.to_timedelta(np.arange(n), unit="h")
    return pd.DataFrame({"item_id": np.repeat(np.arange(n), 2),
                         "model": np.tile(["inc", "cand"], n), "human": h.ravel(),
                         "auto": a.ravel(), "labeled_at": np.repeat(times, 2)})


# ----------------------------------------------------------------------------- methods
def monitor_alarm(h, a, n_ref, seed):
    """Stream requests until the monitor's alarm (1-based), or None."""
    result = monitor_drift(frame_of(h, a), "inc", "cand",
                           reference_end=START + pd.Timedelta(hours=n_ref - 1), seed=seed)
    if not result.alarm:
        return None
    return int((result.alarm_at - START) / pd.Timedelta(hours=1)) - n_ref + 1


def welch_alarms(h, a, n_ref, n_stream, every=25, alpha=0.05):
    """First look (stream requests) at which the repeated Welch test rejects, at alpha per
    look and at alpha / looks; None for never."""
    d = h[:, 1] - h[:, 0]
    dx = a[:, 1] - a[:, 0]
    slope, intercept = np.polyfit(dx[:n_ref], d[:n_ref], 1)
    resid = d - (intercept + slope * dx)
    looks = list(range(every, n_stream + 1, every))
    found = [None, None]
    for n in looks:
        p = stats.ttest_ind(resid[n_ref:n_ref + n], resid[:n_ref], equal_var=False).pvalue
        for j, level in enumerate((alpha, alpha / len(looks))):
            if found[j] is None and p < level:
                found[j] = n
    return found


def oracle_p(h, a, before, drift, direction, rng, n_post=ORACLE_N, perms=2000):
    """One-sided permutation p-value of the oracle: it knows the change point (``before``
    drift-free requests, reference included), the drift's kind and direction and which model
    moved, and tests once, at ``n_post`` post-change requests. The moved model's human score
    is regressed (OLS, on all ``before + n_post`` requests alike) on everything the pair
    shows: its own metric, the other model's metric and human score; each request's score is
    the residual times the direction (shift), minus the residual times the centred metric
    (slope loss), or the absolute residual (noise); the statistic is the mean score of the
    post-change requests, and its permutation distribution (which ``n_post`` of the requests
    are "post") makes the test exact under no drift. Drift-free streams get the candidate's
    downward shift test (its rejection rate is the oracle's false-alarm rate)."""
    cut = before + n_post
    mover, other = (0, 1) if drift == "inc" else (1, 0)
    y = h[:cut, mover]
    X = np.column_stack([np.ones(cut), a[:cut, mover], a[:cut, other], h[:cut, other]])
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    if drift == "slope":
        score = -resid * (a[:cut, mover] - a[:cut, mover].mean())
    elif drift == "noise":
        score = np.abs(resid)
    else:
        score = direction * resid
    observed = score[before:].mean()
    subsets = np.argsort(rng.random((perms, cut)), axis=1)[:, :n_post]
    null = score[subsets].mean(axis=1)
    return (1 + np.sum(null >= observed - 1e-12)) / (perms + 1)


def oracle_levels(drift, direction, alpha=0.05):
    """The oracle's levels: ``alpha`` (one-sided), and the level the monitor gives the side of
    the stream that watches this drift (its share of alpha times the weight of the side it
    bets on: HARMFUL_WEIGHT on the harmful side of a two-sided stream): an upper bound on what
    that stream alone can detect by ORACLE_N."""
    component = {"inc": "incumbent_shift", "slope": "slope",
                 "noise": "noise"}.get(drift, "candidate_shift")
    share, sides = COMPONENTS[component]
    if sides == 2:
        harmful = drift == "slope" or direction == HARMFUL[component]
        share *= HARMFUL_WEIGHT if harmful else 1.0 - HARMFUL_WEIGHT
    return {"oracle 5 %": alpha, "oracle, stream's level": alpha * share}


def summarise(rows, n_stream):
    table = pd.DataFrame(rows)
    out = []
    for (source, scenario, method), grp in table.groupby(["source", "scenario", "method"],
                                                         sort=False):
        delay = grp["delay"].to_numpy(float)  # NaN: never (or before the change)
        if scenario == "none":
            out.append({"source": source, "scenario": scenario, "method": method,
                        "streams": len(grp), "false alarm": f"{np.isfinite(delay).mean():.3f}",
                        "detected ≤150": "", "median delay": ""})
            continue
        caught = np.where(np.isfinite(delay), delay, np.inf)
        median = np.median(caught)
        early = grp["early"].mean()
        out.append({"source": source, "scenario": scenario, "method": method,
                    "streams": len(grp),
                    "false alarm": f"{early:.3f} (pre-change)" if early else "",
                    "detected ≤150": f"{np.mean(caught <= 150):.3f}",
                    "median delay": ("(one look)" if method.startswith("oracle")
                                     else f"{median:.0f}" if np.isfinite(median)
                                     else f"> {n_stream}")})
    return pd.DataFrame(out)


def run(streams, null_streams, n_ref, n_stream, seed, sim, real):
    rows = []
    sources = []
    if sim:
        for scale in ("continuous", "likert", "binary"):
            sd, shifts = _latent_shifts(scale)
            sources.append((f"sim {scale}", scale, shifts))
    if real:
        for name, data, human, autos in tasks(True, ["rouge_l"], "ours",
                                              ["summeval/relevance", "realsumm", "xstest"]):
            sources.append((f"real {name}", (data, human, autos[0]), None))
    timings = []
    for s, (source, spec, shifts) in enumerate(sources):
        for d, (scenario, drift, k) in enumerate(DRIFTS):
            change = LATE if scenario.endswith("late") else 0
            for r in range(null_streams if drift is None else streams):
                rng = np.random.default_rng([seed, s, d, r])
                if shifts is not None:
                    h, a, direction = simulated_stream(rng, spec, drift, k, n_ref, n_stream,
                                                       shifts, change)
                else:
                    h, a, direction = real_stream(rng, *spec, n_ref, n_stream, drift, k,
                                                  change)
                start = time.perf_counter()
                found = {"monitor": monitor_alarm(h, a, n_ref, seed=r)}
                timings.append(time.perf_counter() - start)
                found["t every 25"], found["t Bonferroni"] = welch_alarms(h, a, n_ref,
                                                                          n_stream)
                p = oracle_p(h, a, n_ref + change, drift, direction,
                             np.random.default_rng([seed, s, d, r, 1]))
                for method, level in oracle_levels(drift, direction).items():
                    found[method] = change + ORACLE_N if p <= level else None
                for method, at in found.items():
                    early = at is not None and at <= change
                    rows.append({"source": source, "scenario": scenario, "method": method,
                                 "early": early,
                                 "delay": at - change if at is not None and not early
                                 else np.nan})
    return summarise(rows, n_stream), np.array(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=150, help="streams per drift scenario")
    parser.add_argument("--null-streams", type=int, default=400,
                        help="drift-free streams per source (false alarms)")
    parser.add_argument("--reference", type=int, default=150)
    parser.add_argument("--stream", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--no-sim", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    table, timings = run(args.streams, args.null_streams, args.reference, args.stream,
                         args.seed, not args.no_sim, not args.no_real)
    print(f"reference={args.reference} requests, stream={args.stream}, alpha=0.05; "
          f"drift from stream request 1 (late: {LATE + 1}); detected = within 150 requests; "
          f"monitor {1000 * np.median(timings):.0f} ms per stream (median, "
          f"{args.reference + args.stream} requests); total {time.perf_counter() - start:.0f}s")
    print(table.to_markdown(index=False))


if __name__ == "__main__":
    main()
