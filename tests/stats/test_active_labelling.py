"""pipeline.active_labelling: the design's inclusion probabilities, unbiasedness of the
estimate by a small Monte Carlo, and exact errors for bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.active_labelling import (
    active_estimate,
    ht_ppi_estimate,
    inclusion_probabilities,
    propose_labels,
)


def simulate(n_items=400, seed=0):
    """Paired rows; the metric flatters B by 0.3 and the human noise grows with difficulty."""
    rng = np.random.default_rng(seed)
    q = rng.normal(0, 1, n_items)
    rows = []
    for model, shift, flatter in (("A", 0.0, 0.0), ("B", 0.2, 0.3)):
        quality = q + shift + rng.normal(0, 0.5, n_items)
        human = quality + rng.normal(0, 1, n_items) * (0.1 + 1.5 / (1 + np.exp(-4 * q)))
        rows.append(pd.DataFrame({"item_id": np.arange(n_items), "model": model, "human": human,
                                  "a1": quality + flatter + rng.normal(0, 0.1, n_items)}))
    full = pd.concat(rows, ignore_index=True)
    truth = float(rows[1]["human"].mean() - rows[0]["human"].mean())
    return full, truth


def with_labels(full, items):
    return full.assign(human=full["human"].where(full["item_id"].isin(items)))


@pytest.fixture(scope="module")
def world():
    return simulate()


def test_inclusion_probabilities_sum_to_k_with_a_floor():
    u = np.r_[np.zeros(50), np.full(5, 100.0), np.linspace(0.1, 2, 45)]
    pi = inclusion_probabilities(u, k=20, floor=0.2)
    assert np.all(pi > 0) and np.all(pi <= 1)
    assert pi.sum() == pytest.approx(20)
    assert np.all(pi[50:55] == 1.0)  # capped, excess spread over the rest
    assert pi.min() >= 0.2 * pi[55:].min() / (0.8 * 0.1 / u.mean() + 0.2) - 1e-12
    counted = np.arange(100) >= 10  # the first ten are free (already labelled)
    pi = inclusion_probabilities(u, k=20, floor=0.2, counted=counted)
    assert pi[counted].sum() == pytest.approx(20)


def test_proposal_has_probabilities_weights_and_excludes_labelled_items(world):
    full, _ = world
    frame = with_labels(full, range(60))
    design = propose_labels(frame, 40, "A", "B", ["a1"], seed=1)
    assert len(design) == 400
    pool = ~design["labelled"]
    assert design["labelled"].sum() == 60
    assert design["inclusion_prob"].between(0, 1, inclusive="right").all()
    assert design.loc[pool, "inclusion_prob"].sum() == pytest.approx(40)
    np.testing.assert_allclose(design["weight"], 1 / design["inclusion_prob"])
    assert not design.loc[design["to_label"], "labelled"].any()
    assert design["to_label"].head(design["to_label"].sum()).all()  # proposals first
    # learned uncertainty: hard items (large q, noisy humans) are more likely
    hard = design["item_id"].isin(np.flatnonzero(np.random.default_rng(0).normal(0, 1, 400) > 1))
    assert (design.loc[hard & pool, "inclusion_prob"].mean()
            > design.loc[~hard & pool, "inclusion_prob"].mean())


def test_first_round_without_labels_is_uniform(world):
    full, _ = world
    design = propose_labels(with_labels(full, []), 50, "A", "B", "a1")
    np.testing.assert_allclose(design["inclusion_prob"], 50 / 400)
    assert (design["prediction"] == 0).all()


def test_uncertainty_from_a_per_row_sd_column(world):
    full, _ = world
    frame = with_labels(full, []).assign(sd=np.where(full["item_id"] < 100, 2.0, 0.5))
    design = propose_labels(frame, 50, "A", "B", "a1", uncertainty="sd",
                            floor=0.5).set_index("item_id")
    ratio = design.loc[0, "inclusion_prob"] / design.loc[399, "inclusion_prob"]
    mean_u = 0.25 * 2.0 + 0.75 * 0.5  # per-item u = sqrt(2) sd; the sqrt(2) cancels
    assert ratio == pytest.approx((0.5 * 2.0 / mean_u + 0.5) / (0.5 * 0.5 / mean_u + 0.5))


def test_two_round_estimate_is_unbiased_and_covers(world):
    """Uniform first round, active second round; Monte Carlo over the sampling only."""
    full, truth = world
    estimates = {"budget": [], "precision": []}
    covered = {"budget": [], "precision": []}
    for rep in range(100):
        first = propose_labels(with_labels(full, []), 30, "A", "B", "a1", seed=2 * rep)
        pilot = first.loc[first["selected"], "item_id"]
        second = propose_labels(with_labels(full, pilot), 50, "A", "B", "a1", seed=2 * rep + 1)
        labelled = with_labels(full, np.r_[pilot, second.loc[second["to_label"], "item_id"]])
        for combine in estimates:
            est = active_estimate(labelled, [first, second], "A", "B", combine=combine)
            estimates[combine].append(est.mean)
            covered[combine].append(est.ci_low <= truth <= est.ci_high)
    for combine, values in estimates.items():
        values = np.asarray(values)
        mc_se = values.std(ddof=1) / np.sqrt(len(values))
        assert abs(values.mean() - truth) < 3 * mc_se, combine
        assert np.mean(covered[combine]) >= 0.88, combine


def test_single_round_ht_estimate_is_exactly_unbiased():
    rng = np.random.default_rng(3)
    d = rng.normal(0.3, 1, 300) * np.linspace(0.2, 3, 300)
    f = 0.5 + 0.1 * rng.normal(size=300)  # a biased prediction
    pi = inclusion_probabilities(np.linspace(0.2, 3, 300), 60)
    draws = [ht_ppi_estimate(f, d, pi, rng.random(300) < pi) for _ in range(2000)]
    means = np.array([e.mean for e in draws])
    assert abs(means.mean() - d.mean()) < 3 * means.std() / np.sqrt(len(means))
    # the variance estimate is unbiased for the design variance
    design_var = (((1 - pi) / pi) * (d - f) ** 2).sum() / 300**2
    assert np.mean([e.se**2 for e in draws]) == pytest.approx(design_var, rel=0.1)


def test_k_larger_than_the_unlabelled_pool(world):
    full, _ = world
    with pytest.raises(ValueError,
                       match=r"^propose_labels: k=350 is larger than the 300 unlabelled items$"):
        propose_labels(with_labels(full, range(100)), 350, "A", "B", "a1")


def test_unknown_model_lists_the_models_present(world):
    full, _ = world
    with pytest.raises(ValueError,
                       match=r"^propose_labels: unknown model 'C'; models present: A, B$"):
        propose_labels(full, 5, "A", "C", "a1")


def test_missing_columns_are_named(world):
    full, _ = world
    with pytest.raises(ValueError, match=r"^propose_labels: missing columns: score, bert$"):
        propose_labels(full, 5, "A", "B", ["a1", "bert"], human_col="score")


def test_bad_k_and_floor(world):
    full, _ = world
    with pytest.raises(ValueError, match=r"^propose_labels: k must be a positive integer, got 0$"):
        propose_labels(full.assign(human=np.nan), 0, "A", "B", "a1")
    with pytest.raises(ValueError, match=r"^propose_labels: floor must be in \(0, 1\], got 0$"):
        propose_labels(full.assign(human=np.nan), 5, "A", "B", "a1", floor=0)


def test_estimate_names_selected_items_left_unlabelled(world):
    full, _ = world
    design = propose_labels(with_labels(full, []), 20, "A", "B", "a1", seed=4)
    with pytest.raises(ValueError, match=r"^active_estimate: \d+ selected item\(s\) "
                                         r"not labelled for both models: "):
        active_estimate(with_labels(full, []), design, "A", "B")
    with pytest.raises(ValueError,
                       match=r"^active_estimate: design is missing columns: inclusion_prob$"):
        active_estimate(full, design.drop(columns="inclusion_prob"), "A", "B")


def test_cli_prints_the_proposals_as_json(world, tmp_path, capsys):
    import json

    from pipeline.cli import main

    full, _ = world
    path = tmp_path / "scores.csv"
    with_labels(full, range(40)).to_csv(path, index=False)
    code = main(["propose-labels", str(path), "--incumbent", "A", "--candidate", "B",
                 "--auto-cols", "a1", "--k", "30", "--json",
                 "--save-design", str(tmp_path / "design.csv")])
    assert code == 0
    proposals = json.loads(capsys.readouterr().out)
    assert proposals and set(proposals[0]) == {"item_id", "inclusion_prob", "weight"}
    assert all(p["item_id"] >= 40 and 0 < p["inclusion_prob"] <= 1 for p in proposals)
    assert (tmp_path / "design.csv").exists()
    assert main(["propose-labels", str(path), "--incumbent", "A", "--candidate", "Z",
                 "--auto-cols", "a1", "--k", "3"]) == 2
    assert "unknown model 'Z'; models present: A, B" in capsys.readouterr().err
