"""Fixtures of the CLI tests."""

import pytest


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """A fresh, telemetry-free DAGSTER_HOME for a command that keeps its runs in the
    instance the UI shows."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home
