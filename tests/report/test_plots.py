"""The report's figures: drawn by ArviZ and matplotlib as PNG, names from data kept as text,
the worst parameter found by its own r_hat, the fitted calibration line exact."""

import arviz as az
import numpy as np
import pandas as pd
import pytest

from pipeline.report import plots
from pipeline.report.images import data_uri, markdown_image

PNG = b"\x89PNG\r\n\x1a\n"


def fit_with_a_stuck_entry(seed=0):
    """Two chains; beta[1]'s second chain sits elsewhere (r_hat far above 1), the rest mix."""
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=(2, 400, 2))
    beta[1, :, 1] += 3.0
    sigma = np.abs(rng.normal(1.0, 0.1, size=(2, 400)))
    return az.from_dict(posterior={"beta": beta, "sigma": sigma})


def test_a_name_is_text_in_a_figure():
    assert plots.label("$x$") == r"\$x\$"  # never mathtext
    assert plots.label(None) == "(all traffic)"
    assert plots.label("<b>eu</b>") == "<b>eu</b>"  # matplotlib draws it as it is


def test_the_worst_parameter_is_the_one_whose_chains_disagree():
    worst = plots.worst_parameter(fit_with_a_stuck_entry())
    assert worst["var_name"] == "beta" and worst["coords"] == {"beta_dim_0": 1}
    assert worst["r_hat"] > 1.5
    assert plots.parameter_label(worst) == "beta[beta_dim_0=1]"
    assert plots.trace_rank(fit_with_a_stuck_entry(), worst, "a $weird$ title").startswith(PNG)


def test_the_worst_entry_is_named_by_its_coordinates():
    idata = fit_with_a_stuck_entry()
    named = idata.posterior.assign_coords(
        beta_dim_0=np.array(["us", "<b>it</b>"], dtype=object))  # names, as a saved fit has
    idata.posterior = named
    assert plots.worst_parameter(idata)["coords"] == {"beta_dim_0": "<b>it</b>"}


def test_entries_fixed_by_construction_are_not_the_worst():
    idata = fit_with_a_stuck_entry()
    bias = np.random.default_rng(1).normal(size=(2, 400, 2))
    bias[..., 0] = 0.0  # the incumbent's zero bias: no variance, no r_hat
    idata.posterior["bias"] = (("chain", "draw", "bias_dim_0"), bias)
    assert plots.worst_parameter(idata, ["bias"])["coords"] == {"bias_dim_0": 1}


def test_the_calibration_line_is_the_least_squares_line_with_a_band_around_it():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 200)
    y = 1.0 + 3.0 * x + rng.normal(0, 0.5, 200)
    grid = np.linspace(0, 1, 11)
    mean, low, high = plots.linear_band(x, y, grid)
    assert np.allclose(mean, np.polyval(np.polyfit(x, y, 1), grid))
    assert (low < mean).all() and (mean < high).all()
    width = high - low
    assert width[5] < width[0] and width[5] < width[-1]  # narrowest near the data's middle
    points = pd.DataFrame({"model": ["inc"] * 100 + ["$cand$"] * 100, "auto": x,
                           "human": y})
    assert plots.calibration(points, "t", "x", "y").startswith(PNG)


def test_delta_posterior_draws_every_region_with_hostile_names():
    rng = np.random.default_rng(3)
    regions = [None, "<script>alert(1)</script>", "$5 region", "new\nline"]
    draws = pd.DataFrame([{"dimension": "correctness", "region": r, "delta": v}
                          for r in regions for v in rng.normal(0.3, 0.2, 300)])
    decisions = pd.DataFrame([{"dimension": "correctness", "region": r, "decision": d,
                               "margin": 0.1, "ci_low": -0.1, "ci_high": 0.7, "delta_mean": 0.3}
                              for r, d in zip(regions, ["migrate", "hold", "need_more_labels",
                                                        "fit_failed"])])
    assert plots.delta_posterior(draws, decisions, "cand: migrate").startswith(PNG)


def test_predictive_checks_for_graded_and_binary_data():
    rng = np.random.default_rng(4)
    graded = az.from_dict(posterior={"beta": rng.normal(size=(2, 50))},
                          posterior_predictive={"y": rng.normal(size=(2, 50, 80))},
                          observed_data={"y": rng.normal(size=80)})
    binary = az.from_dict(posterior={"beta": rng.normal(size=(2, 50))},
                          posterior_predictive={"y": (rng.random((2, 50, 80)) < 0.7) * 1.0},
                          observed_data={"y": (rng.random(80) < 0.7) * 1.0})
    few = az.from_dict(posterior={"beta": rng.normal(size=(2, 5))},  # a starved fit's
                       posterior_predictive={"y": rng.normal(size=(2, 5, 80))},
                       observed_data={"y": rng.normal(size=80)})
    for idata in (graded, binary, few):
        assert plots.predictive_check(idata, "y", "t").startswith(PNG)


def test_replay_costs_name_each_model_and_say_what_was_not_recorded():
    stats = pd.DataFrame({"model": ["inc", "cand|a"], "source": ["logged", "replay"],
                          "requests": [10, 10], "cost_usd": [None, 0.02],
                          "latency_p50_ms": [None, 30.0], "latency_p95_ms": [None, 60.0]})
    assert plots.replay_costs(stats).startswith(PNG)


def test_an_image_is_inlined_and_its_alt_text_escaped():
    assert data_uri(PNG).startswith("data:image/png;base64,")
    text = markdown_image(PNG, "posterior of ](evil) <b>")
    assert text.startswith(r"![posterior of \](evil) \<b\>](data:image/png;base64,")


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_a_constant_or_tiny_sample_gives_a_line_without_a_band(fraction):
    grid = np.array([0.0, 1.0])
    mean, low, high = plots.linear_band(np.array([fraction, fraction]), np.array([1.0, 2.0]),
                                        grid)
    assert np.allclose(low, mean) and np.allclose(high, mean)
