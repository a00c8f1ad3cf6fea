"""Importing the pipeline in many processes at once on a day's first run must not trip ArviZ's
daily-warning race (arviz-devs/arviz#2530): ``pipeline`` stamps the warning first."""

import os
import subprocess
import sys

import pytest

IMPORT_BOTH = "import pipeline, arviz"


def _env(cache):
    return {**os.environ, "XDG_CACHE_HOME": str(cache)}


def test_after_the_stamp_arviz_neither_warns_nor_writes(tmp_path):
    # ArviZ warns exactly when it is about to write its stamp: an import that turns the warning
    # into an error passes only if ArviZ reads today's date and writes nothing.
    done = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", IMPORT_BOTH],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "arviz").iterdir()) == ["daily_warning"]


@pytest.mark.slow  # a race: it can pass without the stamp, so it only backs up the test above
def test_processes_importing_at_once_on_a_fresh_cache_all_succeed(tmp_path):
    workers = [subprocess.Popen([sys.executable, "-c", IMPORT_BOTH], env=_env(tmp_path),
                                stderr=subprocess.PIPE, text=True) for _ in range(6)]
    failures = [w.stderr.read()[-1000:] for w in workers if w.wait(timeout=180) != 0]
    assert not failures, failures[0]
