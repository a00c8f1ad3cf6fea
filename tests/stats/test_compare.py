"""pipeline.compare: recovery of a known Δ, exact errors for bad frames, and the CLI's JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.compare import Comparison, compare

FAST = {"draws": 500, "tune": 500}


def simulate(n_items=200, n_labelled=80, delta=0.4, seed=0, binary=False):
    """Paired (item, model) rows; metric a1 flatters model B by 0.3, a2 is a non-linear view."""
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(n_items), 2)
    model = np.tile(["A", "B"], n_items)
    region = np.repeat(rng.integers(0, 3, n_items), 2)
    human = (3.0 + np.repeat(rng.normal(0, 1, n_items), 2) + delta * (model == "B")
             + rng.normal(0, 0.6, 2 * n_items))
    a1 = human + rng.normal(0, 0.8, 2 * n_items) + 0.3 * (model == "B")
    a2 = np.tanh(human - 3.0) + rng.normal(0, 0.5, 2 * n_items)
    if binary:
        human = (human > 3.2).astype(float)
    truth = float(human[model == "B"].mean() - human[model == "A"].mean())
    labelled = np.repeat(rng.permutation(n_items) < n_labelled, 2)
    frame = pd.DataFrame({"item_id": item, "model": model, "region": region,
                          "human": np.where(labelled, human, np.nan), "a1": a1, "a2": a2})
    return frame, truth


def test_recovers_known_delta_and_migrates_on_a_clear_case():
    frame, truth = simulate(delta=0.6, seed=1)
    result = compare(frame, "A", "B", auto_cols=("a1", "a2"), group_col="region", **FAST)
    assert isinstance(result, Comparison)
    assert result.ci_low < truth < result.ci_high
    assert result.decision == "migrate"
    assert result.p_candidate_better > 0.95
    assert result.n_labeled == 160 and result.n_unlabeled == 240
    assert result.diagnostics["max_r_hat"] < 1.05
    assert set(result.groups) == {"0", "1", "2"}
    assert all(g["decision"] == "migrate" for g in result.groups.values())
    assert sum(g["n_labeled"] for g in result.groups.values()) == result.n_labeled
    # the reverse comparison holds, with the same (cached) compiled model
    reverse = compare(frame, "B", "A", auto_cols=("a1", "a2"), group_col="region", **FAST)
    assert reverse.decision == "hold"
    assert reverse.ci_low < -truth < reverse.ci_high


def test_needs_more_labels_when_there_is_no_difference():
    frame, truth = simulate(n_items=120, n_labelled=100, delta=0.0, seed=3)
    result = compare(frame, "A", "B", auto_cols=("a1",), **FAST)
    assert result.ci_low < truth < result.ci_high
    assert result.decision == "need_more_labels"
    # Δ sits on the margin: the 20 unlabelled requests would most likely leave it there
    assert result.plan == "cannot_settle" and result.labels_needed is None
    assert (result.labelled_requests, result.unlabelled_requests) == (100, 20)


def test_the_label_plan_asks_for_requests_that_exist():
    frame, _ = simulate(n_items=600, n_labelled=20, delta=0.2, seed=3)
    result = compare(frame, "A", "B", auto_cols=("a1",), **FAST)
    assert result.decision == "need_more_labels" and result.plan == "label"
    assert 0 < result.labels_needed <= result.unlabelled_requests == 580


@pytest.mark.slow
def test_binary_labels_use_bernoulli_and_cover():
    frame, truth = simulate(n_items=200, n_labelled=100, delta=1.0, seed=4, binary=True)
    result = compare(frame, "A", "B", auto_cols=("a1", "a2"), **FAST)
    assert result.likelihood == "bernoulli"
    assert result.ci_low < truth < result.ci_high
    assert -1.0 <= result.ci_low <= result.ci_high <= 1.0


@pytest.fixture(scope="module")
def small():
    return simulate(n_items=20, n_labelled=5, seed=5)[0]


def test_missing_columns_are_named(small):
    with pytest.raises(ValueError, match=r"^compare: missing columns: human_score, bert$"):
        compare(small, "A", "B", human_col="human_score", auto_cols=("a1", "bert"))


def test_unknown_model_lists_the_models_present(small):
    with pytest.raises(ValueError, match=r"^compare: unknown model 'C'; models present: A, B$"):
        compare(small, "A", "C", auto_cols=("a1",))


def test_no_labels(small):
    with pytest.raises(ValueError, match=r"^compare: no human labels for either model$"):
        compare(small.assign(human=np.nan), "A", "B", auto_cols=("a1",))


def test_labels_for_one_model_only(small):
    frame = small.copy()
    frame.loc[frame["model"] == "A", "human"] = np.nan
    with pytest.raises(ValueError, match=r"^compare: human labels for one model only \('B'\); "
                                         r"label some responses of 'A' too$"):
        compare(frame, "A", "B", auto_cols=("a1",))


def test_non_numeric_scores_name_the_column(small):
    frame = small.assign(a2=small["a2"].astype(str))
    with pytest.raises(ValueError, match=r"^compare: column 'a2' must be numeric$"):
        compare(frame, "A", "B", auto_cols=("a1", "a2"))


def test_cli_prints_the_json_contract(tmp_path, run_cli):
    frame, _ = simulate(n_items=60, n_labelled=30, delta=0.5, seed=6)
    path = tmp_path / "scores.parquet"
    frame.to_parquet(path)
    out = run_cli("compare", str(path), "--incumbent", "A", "--candidate", "B",
                  "--human-col", "human", "--auto-cols", "a1,a2", "--group-col", "region",
                  "--margin", "0.1", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    for key in ("delta_mean", "ci_low", "ci_high", "p_candidate_better", "decision",
                "n_labeled", "n_unlabeled", "labels_needed", "diagnostics"):
        assert key in payload
    assert payload["decision"] in {"migrate", "hold", "need_more_labels"}
    assert payload["n_labeled"] == 60 and payload["n_unlabeled"] == 60
    assert set(payload["diagnostics"]) == {"max_r_hat", "min_ess_bulk", "min_ess_tail",
                                           "divergences", "failures"}
    assert payload["diagnostics"]["failures"] == []


def test_cli_reports_a_bad_frame(tmp_path, run_cli):
    frame, _ = simulate(n_items=10, n_labelled=3, seed=7)
    path = tmp_path / "scores.csv"
    frame.to_csv(path, index=False)
    out = run_cli("compare", str(path), "--incumbent", "A", "--candidate", "Z",
                  "--auto-cols", "a1", "--json")
    assert out.returncode == 2
    assert "unknown model 'Z'; models present: A, B" in out.stderr


def test_paired_scale_needs_an_item_labelled_for_both_models(small):
    frame = small.copy()
    items = frame["item_id"].unique()
    frame["human"] = np.where(
        (frame["model"] == "A") & frame["item_id"].isin(items[:3])
        | (frame["model"] == "B") & frame["item_id"].isin(items[3:6]), 3.0, np.nan)
    frame.loc[frame["human"].notna(), "human"] += np.arange(frame["human"].notna().sum()) / 10
    with pytest.raises(ValueError, match=r"^compare: no item is labelled for both models"):
        compare(frame, "A", "B", auto_cols=("a1",))


def likert(n_items=150, n_labelled=60, shift=0.8, seed=8):
    """Paired 1-5 ratings, skewed towards 5 as real consistency ratings are; model B better."""
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(n_items), 2)
    model = np.tile(["A", "B"], n_items)
    latent = np.repeat(rng.normal(1.5, 1.0, n_items), 2) + shift * (model == "B")
    latent = latent + rng.logistic(0, 0.7, 2 * n_items)
    rating = np.clip(np.round(latent + 3.0), 1, 5)
    auto = latent + rng.normal(0, 1.0, 2 * n_items)
    truth = float(rating[model == "B"].mean() - rating[model == "A"].mean())
    labelled = np.repeat(rng.permutation(n_items) < n_labelled, 2)
    frame = pd.DataFrame({"item_id": item, "model": model,
                          "human": np.where(labelled, rating, np.nan), "auto": auto})
    return frame, truth


@pytest.mark.slow
def test_ordinal_likelihood_on_request_recovers_the_direction():
    frame, truth = likert()
    result = compare(frame, "A", "B", likelihood="ordinal", **FAST)
    assert result.likelihood == "ordinal"
    assert result.ci_low < truth < result.ci_high
    assert -4.0 <= result.ci_low <= result.ci_high <= 4.0


def test_likelihood_choice_follows_the_scale():
    from pipeline.stats.compare import _choose_likelihood

    assert _choose_likelihood("auto", np.array([0.0, 1.0, 1.0]), "h")[0] == "bernoulli"
    assert _choose_likelihood("auto", np.array([1.0, 5.0, 4 + 2 / 3, 3.0]), "h")[0] == "gaussian"
    kind, levels = _choose_likelihood("ordinal", np.array([1.0, 5.0, 4 + 2 / 3, 5.0]), "h")
    assert kind == "ordinal" and np.allclose(levels, [1.0, 4 + 2 / 3, 5.0])
    with pytest.raises(ValueError, match=r"^compare: likelihood 'ordinal' needs two or more"):
        _choose_likelihood("ordinal", np.array([4.0, 4.0]), "h")
    with pytest.raises(ValueError, match=r"^compare: unknown likelihood 'probit'$"):
        _choose_likelihood("probit", np.array([1.0]), "h")


def test_p_best_counts_draws_and_shares_ties():
    from pipeline.compare import p_best

    draws = {"B": np.array([1.0, -1.0, 2.0, 0.0]), "C": np.array([0.5, -2.0, 3.0, 0.0])}
    assert p_best("A", draws) == pytest.approx({"A": (1 + 1 / 3) / 4, "B": (1 + 1 / 3) / 4,
                                                "C": (1 + 1 / 3) / 4})
    clear = {"B": np.full(100, 0.5), "C": np.full(100, 0.2)}
    assert p_best("A", clear) == {"A": 0.0, "B": 1.0, "C": 0.0}


def test_cli_with_several_candidates_prints_p_best(tmp_path, run_cli):
    frame, _ = simulate(n_items=60, n_labelled=30, delta=0.8, seed=9)
    worse = frame[frame["model"] == "A"].assign(model="C")
    noise = np.random.default_rng(1).normal(0, 0.5, len(worse))
    worse["human"] -= 0.8 + noise
    worse["a1"] -= 0.8 + noise
    path = tmp_path / "scores.parquet"
    pd.concat([frame, worse]).to_parquet(path)
    out = run_cli("compare", str(path), "--incumbent", "A", "--candidate", "B",
                  "--candidate", "C", "--auto-cols", "a1", "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert [c["candidate"] for c in payload["comparisons"]] == ["B", "C"]
    assert set(payload["p_best"]) == {"A", "B", "C"}
    assert sum(payload["p_best"].values()) == pytest.approx(1.0)
    assert payload["p_best"]["B"] > 0.9
    assert payload["comparisons"][1]["decision"] == "hold"
    assert payload["method"] == "joint"


def test_every_group_must_clear_the_margin():
    from pipeline.stats.compare import _every_group_rule
    from pipeline.stats.decision import decide

    rng = np.random.default_rng(0)
    better = decide(rng.normal(0.5, 0.1, 2000), n_labels=50)
    worse = decide(rng.normal(-0.5, 0.1, 2000))
    unsure = decide(rng.normal(0.0, 0.3, 2000), n_labels=40)
    assert _every_group_rule(better, [better, better]) == ("migrate", None, None)
    assert _every_group_rule(better, [better, worse]) == ("hold", None, None)
    decision, needed, plan = _every_group_rule(better, [better, unsure])
    assert decision == "need_more_labels" and needed == unsure.labels_needed
    assert plan == unsure.plan


def simulate_many(gaps=(0.0, 0.6, -0.5, 0.1), n_items=150, n_labelled=60, seed=0):
    """Every model answers every item; the metric flatters the last model by 0.3."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, n_items)
    labelled = rng.permutation(n_items) < n_labelled
    frames, means = [], {}
    for m, gap in enumerate(gaps):
        name = "ABCD"[m]
        human = 3.0 + difficulty + gap + rng.normal(0, 0.6, n_items)
        a1 = human + rng.normal(0, 0.5, n_items) + (0.3 if m == len(gaps) - 1 else 0.0)
        means[name] = human.mean()
        frames.append(pd.DataFrame({"item_id": np.arange(n_items), "model": name,
                                    "region": np.arange(n_items) % 2,
                                    "human": np.where(labelled, human, np.nan), "a1": a1}))
    truth = {name: means[name] - means["A"] for name in means}
    return pd.concat(frames, ignore_index=True), truth


@pytest.mark.slow
def test_joint_model_recovers_every_delta_and_ranks_the_candidates():
    from pipeline.compare import compare_many

    frame, truth = simulate_many(seed=4)
    result = compare_many(frame, "A", ["B", "C", "D"], auto_cols=("a1",), group_col="region",
                          **FAST)
    assert result.method == "joint"
    assert [c.candidate for c in result.comparisons] == ["B", "C", "D"]
    for c in result.comparisons:
        assert c.ci_low < truth[c.candidate] < c.ci_high, c.candidate
        assert c.n_labeled == 120 and c.n_unlabeled == 180
        assert set(c.groups) == {"0", "1"}
        assert c.diagnostics["max_r_hat"] < 1.05
    decisions = {c.candidate: c.decision for c in result.comparisons}
    assert decisions["B"] == "migrate" and decisions["C"] == "hold"
    assert sum(result.p_best.values()) == pytest.approx(1.0)
    assert result.p_best["B"] > 0.95
    assert result.to_dict()["method"] == "joint"


def test_joint_likelihood_is_that_of_the_within_item_deviations():
    from pipeline.stats.joint import _within_item_design

    items = np.array([0, 0, 1, 1, 1, 2])  # item 2 is labelled for one model only
    y = np.array([1.0, 3.0, 2.0, 2.0, 5.0, 4.0])
    X = np.array([[0.0], [2.0], [1.0], [1.0], [4.0], [9.0]])
    cells = np.array([0, 1, 0, 1, 2, 0])
    yc, Xc, C, dof, _ = _within_item_design(items, X, y, 3, cells)
    assert dof == 3  # five rows kept, in two items
    assert np.allclose(yc, [-1.0, 1.0, -1.0, -1.0, 2.0])  # two models: ±d/2
    assert np.allclose(Xc[:, 0], [-1.0, 1.0, -1.0, -1.0, 2.0])
    assert np.allclose(C[0], [0.5, -0.5, 0.0]) and np.allclose(C[2], [2 / 3, -1 / 3, -1 / 3])


def test_compare_many_fits_each_pair_when_labels_are_binary():
    from pipeline.stats.compare import _compare_joint

    frame, _ = simulate_many(seed=5)
    frame["human"] = (frame["human"] > 3.0).astype(float).where(frame["human"].notna())
    assert _compare_joint(frame, "A", ["B", "C"], auto_cols=("a1",)) is None


def test_compare_many_names_an_unknown_candidate():
    from pipeline.compare import compare_many

    frame, _ = simulate_many(seed=6)
    with pytest.raises(ValueError,
                       match=r"^compare: unknown model 'E'; models present: A, B, C, D$"):
        compare_many(frame, "A", ["B", "E"], auto_cols=("a1",))


def simulate_unseen_regression(seed=0, n_items=600, small_share=0.08, label_share=0.5,
                               gap=0.2, small_gap=-0.5):
    """Five regions where B is better by ``gap`` and one small region where it is worse by
    ``small_gap``, which the metric does not see (it shows ``gap`` there too)."""
    rng = np.random.default_rng(seed)
    small = rng.random(n_items) < small_share
    region = np.where(small, "small", rng.choice(["r1", "r2", "r3", "r4", "r5"], n_items))
    level = rng.normal(3.0, 1.0, n_items)
    rows = []
    for model in ("A", "B"):
        shift = np.where(small, small_gap, gap) if model == "B" else 0.0
        seen = gap if model == "B" else 0.0
        human = level + shift + rng.normal(0, 0.6, n_items)
        auto = level + seen + rng.normal(0, 0.4, n_items)
        rows.append(pd.DataFrame({"item_id": np.arange(n_items), "model": model,
                                  "region": region, "human": human, "auto": auto}))
    frame = pd.concat(rows, ignore_index=True)
    truth = (frame[frame.model == "B"].groupby("region")["human"].mean()
             - frame[frame.model == "A"].groupby("region")["human"].mean())
    unlabelled = np.tile(rng.random(n_items) >= label_share, 2)
    frame.loc[unlabelled, "human"] = np.nan
    return frame, truth


def test_a_small_region_regressing_unseen_by_the_metric_is_not_outvoted():
    """The small region's Δ rests on its own labels: its interval holds its truth, and the
    candidate does not migrate, although the metric says it is better everywhere."""
    frame, truth = simulate_unseen_regression(seed=3)
    result = compare(frame, "A", "B", group_col="region", margin=0.1, **FAST)
    small = result.groups["small"]
    assert small["ci_low"] <= truth["small"] <= small["ci_high"]
    assert small["delta_mean"] < 0 and small["decision"] != "migrate"
    assert result.decision != "migrate"
    assert all(result.groups[r]["ci_low"] <= truth[r] <= result.groups[r]["ci_high"]
               for r in ("r1", "r2", "r3", "r4", "r5"))


@pytest.mark.parametrize("binary", [False, True])
def test_a_starved_sampler_gives_no_verdict(binary):
    frame, _ = simulate(delta=0.6, seed=1, binary=binary)
    result = compare(frame, "A", "B", auto_cols=("a1",), group_col="region", draws=20, tune=5)
    assert result.decision == "fit_failed" and result.labels_needed is None
    assert {g["decision"] for g in result.groups.values()} == {"fit_failed"}
    assert any("ESS" in failure for failure in result.diagnostics["failures"])
    assert result.to_dict()["diagnostics"]["failures"] == result.diagnostics["failures"]


def simulate_active_selection(seed=0, n_items=800):
    """Labels drawn unequally: 'hard' requests (where the metric over-rates the candidate by
    0.8) are labelled with probability 0.6, the others with 0.1; the design weight is 1/pi."""
    rng = np.random.default_rng(seed)
    hard = rng.random(n_items) < 0.5
    level = rng.normal(3.0, 1.0, n_items)
    effect = np.where(hard, -0.6, 0.2)
    human_a = level + rng.normal(0, 0.5, n_items)
    human_b = level + effect + rng.normal(0, 0.5, n_items)
    auto_a = level + rng.normal(0, 0.3, n_items)
    auto_b = level + 0.2 + rng.normal(0, 0.3, n_items)  # blind to the hard requests' loss
    pi = np.where(hard, 0.6, 0.1)
    chosen = rng.random(n_items) < pi
    truth = float((human_b - human_a).mean())
    frame = pd.DataFrame({
        "item_id": np.tile(np.arange(n_items), 2), "model": np.repeat(["A", "B"], n_items),
        "human": np.where(np.tile(chosen, 2), np.concatenate([human_a, human_b]), np.nan),
        "auto": np.concatenate([auto_a, auto_b]), "weight": np.tile(1.0 / pi, 2)})
    return frame, truth


def test_design_weights_undo_an_unequal_choice_of_labels():
    frame, truth = simulate_active_selection()
    weighted = compare(frame, "A", "B", weight_col="weight", **FAST)
    unweighted = compare(frame, "A", "B", **FAST)
    assert weighted.ci_low <= truth <= weighted.ci_high
    assert not unweighted.ci_low <= truth <= unweighted.ci_high  # the labels' mix, not Δ
    assert unweighted.delta_mean < truth - 0.15


def test_design_weights_must_be_positive_on_labelled_rows():
    frame, _ = simulate_active_selection()
    frame.loc[frame["human"].notna().idxmax(), "weight"] = 0.0
    with pytest.raises(ValueError, match="design weight column 'weight' must be a positive"):
        compare(frame, "A", "B", weight_col="weight", **FAST)
