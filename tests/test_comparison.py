"""The blessing gate's statistics: paired, user-resampled bootstrap of an RMSE difference."""

import numpy as np
import pytest

from components import comparison


def _rows(n_users=200, per_user=20, seed=0):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    labels = rng.integers(1, 6, len(users)).astype(float)
    return rng, users, labels


def test_a_clearly_better_model_has_an_interval_below_zero():
    rng, users, labels = _rows()
    good = labels + rng.normal(0, 0.8, len(labels))
    bad = labels + rng.normal(0, 1.0, len(labels))
    d = comparison.rmse_difference(users, labels, good, bad, resamples=500, seed=1)
    assert d.diff == pytest.approx(d.rmse_a - d.rmse_b) and d.diff < 0
    assert d.low < d.diff < d.high < 0
    assert comparison.beats("beats", d, margin=0.0).passed
    assert not comparison.beats("beats", d, margin=abs(d.high) + 0.01).passed


def test_equal_models_are_not_called_better_or_worse():
    rng, users, labels = _rows()
    a = labels + rng.normal(0, 0.9, len(labels))
    b = labels + rng.normal(0, 0.9, len(labels))
    d = comparison.rmse_difference(users, labels, a, b, resamples=500, seed=1)
    assert d.low < 0 < d.high
    assert not comparison.beats("beats", d, 0.0).passed and comparison.not_worse("not worse", d, 0.0).passed


def test_identical_predictions_give_a_zero_interval_and_same_seed_same_interval():
    rng, users, labels = _rows()
    a = labels + rng.normal(0, 0.9, len(labels))
    d = comparison.rmse_difference(users, labels, a, a.copy(), resamples=200)
    assert (d.diff, d.low, d.high) == (0.0, 0.0, 0.0)
    b = labels + rng.normal(0, 0.9, len(labels))
    assert comparison.rmse_difference(users, labels, a, b, 200, seed=3) == \
        comparison.rmse_difference(users, labels, a, b, 200, seed=3)


def test_resampling_users_widens_the_interval_when_errors_cluster_by_user():
    """A per-user offset makes rows of one user move together: the interval must say so."""
    rng, users, labels = _rows(n_users=50, per_user=40)
    offset = rng.normal(0, 0.5, 50)[users]
    a = labels + offset + rng.normal(0, 0.5, len(labels))
    b = labels + rng.normal(0, 0.7, len(labels))
    clustered = comparison.rmse_difference(users, labels, a, b, 500, seed=2)
    per_row = comparison.rmse_difference(np.arange(len(labels)), labels, a, b, 500, seed=2)
    assert clustered.high - clustered.low > 1.5 * (per_row.high - per_row.low)


def test_no_rows_is_an_error():
    with pytest.raises(ValueError, match="no rows"):
        comparison.rmse_difference(np.array([]), np.array([]), np.array([]), np.array([]))


def test_check_records_print_their_verdict():
    check = comparison.below("below the mean predictor", 0.9, 1.0)
    assert check.passed and "must be < +1.0000: ok" in check.line()
