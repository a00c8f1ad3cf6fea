"""llm-migrate cascade: the JSON contract on a simulated scored file, in-process."""

import json

from pipeline.stats.cascade import Copula, simulate_cascade


def _file(tmp_path):
    frame = simulate_cascade(150, [0.0, 0.8], [1.0, 1.0], [Copula("gaussian", 0.5)],
                             [0.0, 0.8], [1.5, 1.5], [1.0, 4.0], seed=2)
    frame["model"] = frame["model"].map({"m0": "small", "m1": "large"})
    path = tmp_path / "scored.csv"
    frame.to_csv(path, index=False)
    return path


def test_cascade_prints_the_json_contract(tmp_path, run_cli):
    path = _file(tmp_path)
    done = run_cli("cascade", str(path), "--models", "small,large", "--cost-weight", "0.05",
                   "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["models"] == ["small", "large"] and out["n_items"] == 150
    assert out["cost_weight"] == 0.05 and len(out["curve"]) == 1
    point = out["point"]
    assert len(point["thresholds"]) == 1 and 0 <= point["expected_error"] <= 1
    assert {"expected_cost", "measured_error", "measured_cost", "in_sample_error",
            "in_sample_cost", "answered_share", "deferral"} <= set(point)
    assert out["measured_on"].startswith("5-fold cross-validation (seed 0)")
    assert abs(sum(point["answered_share"]) - 1) < 1e-9
    assert set(out["best_single"]) == {"model", "error", "cost"}


def test_cascade_refuses_one_model_and_unknown_ones(tmp_path, run_cli):
    path = _file(tmp_path)
    one = run_cli("cascade", str(path), "--models", "small")
    assert one.returncode == 2 and "at least two models" in one.stderr
    unknown = run_cli("cascade", str(path), "--models", "small,huge", "--json")
    assert unknown.returncode == 2 and "huge" in unknown.stderr and not unknown.stdout


def test_cascade_measures_the_curve_held_out_by_the_folds_asked(tmp_path, run_cli):
    path = _file(tmp_path)
    done = run_cli("cascade", str(path), "--models", "small,large", "--folds", "3",
                   "--seed", "4")
    assert done.returncode == 0, done.stderr
    assert "measured held out, by 3-fold cross-validation (seed 4)" in done.stdout
    header, *points = done.stdout.splitlines()[2:]
    assert header.split() == ["cost_weight", "thresholds", "exp_error", "exp_cost", "ho_error",
                              "ho_cost"]
    assert len(points) >= 5
