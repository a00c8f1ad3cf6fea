"""Names are data, never syntax (#22 item 4): region and model names drawn from arbitrary
Unicode ('/', '|', quotes, newlines, 'ALL', blank-looking strings) change nothing in what
``pipeline.compare.compare`` estimates, only the names it reports under.

One data shape throughout, so every example reuses the compiled model; the names are chosen
so that their sorted order is the baseline's, which makes the draws identical to the
baseline's, not merely close."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.compare import compare

TINY = {"draws": 100, "tune": 100, "chains": 1}
AWKWARD = ["ALL", "all", "/", "org/model", "a|b", "|", " ", "  ", "\n", "x\ny", "'", '"',
           "O'Brien \"q\"", "", "\\", "`*_<>[]", "None", "NULL", "é/ü", "∀"]
name = st.one_of(st.sampled_from(AWKWARD), st.text(min_size=0, max_size=12))


def frame(models=("A", "B"), regions=("0", "1", "2"), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 60
    item = np.repeat(np.arange(n), 2)
    is_b = np.tile([False, True], n)
    human = 3.0 + np.repeat(rng.normal(0, 1, n), 2) + 0.3 * is_b + rng.normal(0, 0.5, 2 * n)
    auto = human + rng.normal(0, 0.6, 2 * n)
    labelled = np.repeat(rng.permutation(n) < 30, 2)
    return pd.DataFrame({
        "item_id": item, "model": np.where(is_b, models[1], models[0]),
        "region": np.asarray(regions, dtype=object)[np.repeat(np.arange(n) % 3, 2)],
        "human": np.where(labelled, human, np.nan), "auto": auto})


_BASELINE = {}


def baseline():
    if not _BASELINE:
        _BASELINE["result"] = compare(frame(), "A", "B", group_col="region", **TINY)
    return _BASELINE["result"]


@pytest.mark.filterwarnings("ignore:The recursion limit")
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(models=st.lists(name, min_size=2, max_size=2, unique=True),
       regions=st.lists(name, min_size=3, max_size=3, unique=True))
def test_names_change_nothing_but_the_names(models, regions):
    regions = sorted(regions)  # the baseline's groups "0" < "1" < "2" in the same order
    result = compare(frame(models, regions), models[0], models[1], group_col="region", **TINY)
    base = baseline()
    assert (result.incumbent, result.candidate) == (models[0], models[1])
    np.testing.assert_array_equal(result.draws, base.draws)
    assert set(result.groups) == set(regions) and set(result.group_draws) == set(regions)
    for new, old in zip(regions, ["0", "1", "2"]):
        np.testing.assert_array_equal(result.group_draws[new], base.group_draws[old])
        assert result.groups[new] == base.groups[old]
    assert result.decision == base.decision
