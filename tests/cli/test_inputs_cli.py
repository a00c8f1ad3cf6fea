"""Paths and names typed at the command line: a clear one-line error, never a traceback."""

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main


@pytest.fixture
def scored(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"item_id": i, "model": m, "human": rng.normal(), "auto": rng.normal()}
                          for i in range(10) for m in ("old", "new")])
    path = tmp_path / "scored.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command", [
    ["compare", "{file}", "--incumbent", "old", "--candidate", "new"],
    ["propose-labels", "{file}", "--incumbent", "old", "--candidate", "new", "--k", "2"],
])
def test_a_missing_or_unreadable_file_is_named(tmp_path, capsys, command):
    missing = tmp_path / "nope.parquet"
    assert main([part.format(file=missing) for part in command]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.endswith(f"{missing}: no such file of scored responses")
    broken = tmp_path / "broken.parquet"
    broken.write_text("not,parquet\n")
    assert main([part.format(file=broken) for part in command]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert f"{broken}: cannot be read as Parquet" in line


@pytest.mark.parametrize("command", [
    ["compare", "{file}", "--incumbent", "old", "--candidate", "nwe"],
    ["propose-labels", "{file}", "--incumbent", "old", "--candidate", "nwe", "--k", "2"],
])
def test_an_unknown_candidate_lists_the_known_ones(scored, capsys, command):
    assert main([part.format(file=scored) for part in command]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "unknown model 'nwe'" in line and "new" in line and "old" in line
