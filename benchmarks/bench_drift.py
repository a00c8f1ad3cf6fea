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
* slope loss: the candidate's humans stop following what the metric sees (its latent quality
  is redrawn; the item effect stays). noise x2: the candidate's label noise sd is doubled.

Methods, each on the same streams:
* monitor: ``monitor_drift(frame, "inc", "cand", reference_end=<last reference time>)``.
* t every 25: paired residuals (d − OLS fit of d on the metric difference, fitted on the
  reference) of the stream's first n requests against the reference's, Welch two-sided at 5 %,
  at n = 25, 50, ..., `stream`; alarm at the first look that rejects.
* t Bonferroni: the same at 5 % / number of looks.
Detected = alarm within 150 requests of the change; delay = requests from the change to the
alarm (median over streams, a miss counting as never: "> N" when half or more miss).

Simulated (per request: item effect u ~ N(0, 1), per response quality q ~ N(0, 0.6²), metric
0.4 + 0.1 (u + q) + N(0, 0.05²), human latent 3 + u + q + N(0, 0.7²); continuous = the latent,
Likert = it rounded and clipped to 1-5, 0/1 = latent > 3.3; metric-human R² of the paired
difference about 0.25). Real (/work/shared/datasets): SummEval relevance and REALSumm
litepyramid with ROUGE-L F (a random system pair per stream, its 100 articles resampled with
replacement to reference + stream requests: i.i.d. from the pair's empirical distribution, so
drift-free by construction), XSTest refusal with the project's refusal detector (the two
systems' 450 prompts in a random order, every prompt once).
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

from pipeline.drift import monitor_drift  # noqa: E402

START = pd.Timestamp("2026-01-01")
DRIFTS = [("none", None, 0.0), ("cand -0.25 sd", "cand", 0.25), ("cand -0.5 sd", "cand", 0.5),
          ("cand -1 sd", "cand", 1.0), ("inc +0.5 sd", "inc", 0.5),
          ("slope loss", "slope", 1.0), ("noise x2", "noise", 1.0),
          ("cand -0.5 sd, late", "cand", 0.5)]
LATE = 100  # the late change comes after this many stream requests


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
    return _observe(h, scale), auto


def real_stream(rng, data, human, auto, n_ref, n_stream, drift, k, change):
    """Human and metric of one real stream: resampled (or permuted) paired items of a pair,
    with the drift injected after the change; sd = the pair's paired-difference sd."""
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
        else:
            h[post, col] += sign * k * sd
    return h, a


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
                    "median delay": (f"{median:.0f}" if np.isfinite(median)
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
            if shifts is None and drift in ("slope", "noise"):
                continue  # real data: shifts only (the latent quality is not known)
            change = LATE if scenario.endswith("late") else 0
            for r in range(null_streams if drift is None else streams):
                rng = np.random.default_rng([seed, s, d, r])
                if shifts is not None:
                    h, a = simulated_stream(rng, spec, drift, k, n_ref, n_stream, shifts, change)
                else:
                    h, a = real_stream(rng, *spec, n_ref, n_stream, drift, k, change)
                start = time.perf_counter()
                found = {"monitor": monitor_alarm(h, a, n_ref, seed=r)}
                timings.append(time.perf_counter() - start)
                found["t every 25"], found["t Bonferroni"] = welch_alarms(h, a, n_ref,
                                                                          n_stream)
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
