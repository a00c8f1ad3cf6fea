import numpy as np
import pytest

from pipeline.stats.decision import HOLD, MIGRATE, NEED_MORE_LABELS, decide, labels_needed

rng = np.random.default_rng(0)


def test_clear_cases():
    assert decide(rng.normal(0.5, 0.1, 4000)).decision == MIGRATE
    assert decide(rng.normal(-0.5, 0.1, 4000)).decision == HOLD
    unsure = decide(rng.normal(0.05, 0.1, 4000), n_labels=100)
    assert unsure.decision == NEED_MORE_LABELS and unsure.labels_needed > 0


def test_margin_turns_a_small_loss_into_non_inferiority():
    draws = rng.normal(-0.02, 0.02, 4000)
    assert decide(draws, margin=0.0).decision == NEED_MORE_LABELS
    assert decide(draws, margin=0.1).decision == MIGRATE


def test_interval_and_probability():
    draws = rng.normal(0.1, 0.1, 20000)
    result = decide(draws, prob=0.95)
    assert result.ci_low == pytest.approx(0.1 - 1.96 * 0.1, abs=0.01)
    assert result.ci_high == pytest.approx(0.1 + 1.96 * 0.1, abs=0.01)
    assert result.p_better == pytest.approx(0.841, abs=0.01)


def test_projection_follows_the_square_root_law():
    # sd 0.1 at 100 labels, mean 0.1: the one-sided 95% bound clears 0 when sd = 0.1/1.645,
    # i.e. at 100 * 1.645**2 = 270.6 labels.
    assert labels_needed(0.1, 0.1, 0.0, 0.95, 100) == 171
    assert labels_needed(0.0, 0.1, 0.0, 0.95, 100) == 1_000_000


def test_rejects_bad_draws():
    with pytest.raises(ValueError, match="finite"):
        decide(np.array([0.1, np.nan]))
