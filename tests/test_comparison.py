"""The blessing gate's statistics (a paired bootstrap of an RMSE difference, clustered on
users and movies) and its decision."""

import numpy as np
import pytest

from common import comparison


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
    assert not comparison.beats("beats", d, 0.0).passed
    # Non-inferiority needs the whole interval at or below the tolerance: "not significantly
    # worse" is not enough, so a zero tolerance fails on a tie and a tolerance above the noise passes.
    assert not comparison.not_worse("not worse", d, 0.0).passed
    assert comparison.not_worse("not worse", d, d.high + 1e-9).passed


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


def test_resampling_movies_too_widens_the_interval_when_errors_cluster_by_movie():
    """Pair rows share their movie: a per-movie error must widen the interval, which a
    user-only bootstrap misses."""
    rng = np.random.default_rng(4)
    n = 6000
    a_users, b_users = rng.integers(0, 600, n), rng.integers(0, 600, n)
    movies = rng.integers(0, 30, n)
    labels = rng.integers(1, 6, n).astype(float)
    a = labels + rng.normal(0, 0.6, 30)[movies] + rng.normal(0, 0.5, n)
    b = labels + rng.normal(0, 0.75, n)
    two_way = comparison.rmse_difference({"user": (a_users, b_users), "movie": (movies,)}, labels, a, b, 400, seed=1)
    users_only = comparison.rmse_difference({"user": (a_users, b_users)}, labels, a, b, 400, seed=1)
    assert two_way.clusters == {"user": 600, "movie": 30}
    assert two_way.high - two_way.low > 2 * (users_only.high - users_only.low)


def test_a_single_person_row_counts_its_user_once():
    rng, users, labels = _rows(n_users=100, per_user=10)
    a = labels + rng.normal(0, 0.8, len(labels))
    b = labels + rng.normal(0, 0.9, len(labels))
    one = comparison.rmse_difference({"user": (users,)}, labels, a, b, 300, seed=5)
    twice = comparison.rmse_difference({"user": (users, users)}, labels, a, b, 300, seed=5)
    assert (one.low, one.high) == (twice.low, twice.high)


def _gate_rows(seed=0, n_users=300, per_user=10):
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(n_users), per_user)
    b = rng.integers(0, n_users, len(a))
    movies = rng.integers(0, 200, len(a))
    labels = rng.integers(1, 6, len(a)).astype(float)
    kinds = np.where(rng.random(len(a)) < 0.5, "pair", "single")
    b = np.where(kinds == "single", a, b)
    return rng, {"user": (a, b), "movie": (movies,)}, labels, kinds


def _decide(predictions, clusters, labels, kinds, **kw):
    from components.blessing_gate import decide

    args = dict(baseline_margin=0.0, change_tolerance=0.01, rmse_upper_bound=None, resamples=300, seed=0)
    args.update(kw)
    return decide(clusters, labels, kinds, predictions, **args)


def test_the_gate_blesses_a_clearly_better_candidate_and_writes_every_check():
    rng, clusters, labels, kinds = _gate_rows()
    good, base = labels + rng.normal(0, 0.6, len(labels)), labels + rng.normal(0, 1.0, len(labels))
    result = _decide({"candidate": good, "baseline": base}, clusters, labels, kinds, rmse_upper_bound=1.5)
    assert result["blessed"]
    assert [c["name"] for c in result["checks"]] == ["beats the strong baseline", "below the mean predictor"]
    assert {"candidate - baseline (all)", "candidate - baseline (pair)", "candidate - baseline (single)"} <= \
        set(result["intervals"])


def test_the_gate_refuses_a_candidate_no_better_than_the_baseline_or_worse_than_the_last_blessed():
    rng, clusters, labels, kinds = _gate_rows(1)
    same = labels + rng.normal(0, 0.8, len(labels))
    other = labels + rng.normal(0, 0.8, len(labels))
    assert not _decide({"candidate": same, "baseline": other}, clusters, labels, kinds)["blessed"]
    good, base = labels + rng.normal(0, 0.7, len(labels)), labels + rng.normal(0, 1.2, len(labels))
    better_last = labels + rng.normal(0, 0.5, len(labels))
    result = _decide({"candidate": good, "baseline": base, "last_blessed": better_last}, clusters, labels, kinds)
    checks = {c["name"]: c["passed"] for c in result["checks"]}
    assert checks == {"beats the strong baseline": True, "not worse than the last blessed model": False}
    assert not result["blessed"]
    # About as good as the last blessed model (a re-run with another seed): within the tolerance.
    twin = good + rng.normal(0, 0.01, len(labels))
    result = _decide({"candidate": good, "baseline": base, "last_blessed": twin}, clusters, labels, kinds,
                     change_tolerance=0.05)
    assert result["blessed"]


def test_the_gate_refuses_the_last_blessed_model_itself():
    rng, clusters, labels, kinds = _gate_rows(2)
    good, base = labels + rng.normal(0, 0.6, len(labels)), labels + rng.normal(0, 1.0, len(labels))
    result = _decide({"candidate": good, "baseline": base, "last_blessed": good}, clusters, labels, kinds,
                     same_as_last_blessed=True)
    assert not result["blessed"] and result["checks"][-1]["name"] == "is a new model"
