"""`llm-migrate run` on the sample files under examples/: the whole pipeline on your own
files (real Dagster run, real HTTP to the loopback provider through the SDKs, real DuckDB,
real PyMC), the verdict printed and returned as the exit status."""

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.cli.run import HOLD, MIGRATE, NEED_MORE_LABELS, NO_VERDICT, exit_code

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = ["--traffic", str(EXAMPLES / "traffic.csv"),
         "--labels", str(EXAMPLES / "labels" / "*.csv"),
         "--models", str(EXAMPLES / "models-offline.yaml")]


# slow: six paired fits and their compiles (about 50 s on two cores) for what the end-to-end
# pipeline test already samples; the command's own paths (bad inputs, exit codes, --json) are
# tested here in the fast suite.
@pytest.mark.slow
def test_the_examples_give_a_verdict_and_its_exit_status(tmp_path, dagster_home, run_cli):
    db = tmp_path / "w.duckdb"
    out = run_cli("run", *FILES, "--db", str(db), "--config",
                  str(EXAMPLES / "run-config.yaml"), "--json")
    payload = json.loads(out.stdout)
    assert set(payload) == {"exit_code", "warehouse", "verdicts", "decisions"}
    verdicts = {v["candidate"]: v["verdict"] for v in payload["verdicts"]}
    assert set(verdicts) == {"candidate-a", "candidate-b"}
    assert out.returncode == payload["exit_code"] == exit_code(pd.DataFrame(payload["verdicts"]))
    assert out.returncode in (MIGRATE, HOLD, NEED_MORE_LABELS), out.stderr
    assert verdicts["candidate-b"] != "migrate"  # far worse in `it` and on refusals
    with duckdb.connect(str(db), read_only=True) as conn:
        stored = dict(conn.execute("SELECT candidate, verdict FROM v_migration_verdict"
                                   ).fetchall())
        quarantined = conn.execute("SELECT count(*) FROM label_quarantine").fetchone()[0]
    assert stored == verdicts and quarantined > 0  # the sample has malformed rows on purpose
    assert {d["dimension"] for d in payload["decisions"]} == {"correctness", "refusal", "style"}
    # the run is in the instance the UI shows
    assert any(dagster_home.iterdir())
    # the console: a line per finished step (and warnings), no Dagster chatter
    lines = out.stderr.strip().splitlines()
    assert all(re.match(r"\[\s*\d+ s\] \w+: ", line) for line in lines), lines
    assert any("population_posterior: done in" in line for line in lines)

    printed = run_cli("decisions", "--db", str(db))
    assert printed.returncode == 0 and "candidate-a" in printed.stdout


@pytest.mark.parametrize("change, message", [
    (["--traffic", "nowhere.csv"], "--traffic nowhere.csv: no such file"),
    (["--labels", "nowhere/*.csv"], "--labels nowhere/*.csv: no file matches"),
    (["--models", "nowhere.yaml"], "--models nowhere.yaml: no such registry file"),
    (["--candidates", "candidate-z"],
     "--candidates: 'candidate-z' not a candidate of the registry (candidates: candidate-a, "
     "candidate-b; incumbent: incumbent-v1)"),
    (["--config", str(EXAMPLES / "models.yaml")], "the run configuration is not valid"),
])
def test_bad_inputs_are_named_before_anything_runs(tmp_path, dagster_home, run_cli, change,
                                                   message):
    args = dict(zip(FILES[::2], FILES[1::2]))
    args.update(dict(zip(change[::2], change[1::2])))
    out = run_cli("run", *[x for pair in args.items() for x in pair], "--db",
                  str(tmp_path / "w.duckdb"))
    assert out.returncode == NO_VERDICT
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_the_exit_status_is_the_best_verdict():
    def code(*verdicts):
        return exit_code(pd.DataFrame({"verdict": list(verdicts)}))

    assert code("hold", "migrate") == MIGRATE
    assert code("hold", "need_more_labels") == NEED_MORE_LABELS
    assert code("hold", "hold") == HOLD
    assert code("hold", "fit_failed") == NO_VERDICT  # might migrate once refitted
    assert code() == NO_VERDICT


def test_the_real_provider_template_is_a_valid_registry():
    from resources import ModelRegistry

    registry = ModelRegistry.from_file(EXAMPLES / "models.yaml")
    assert registry.incumbent == "gpt-4o-2024-08-06"
    assert registry.candidates() == ["claude-sonnet", "local-llama"]
