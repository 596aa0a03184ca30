"""The second factor model (trainer_fn/als.py) on a small rating matrix made to be low-rank."""

import numpy as np
import pytest

from trainer_fn.als import fit_als
from trainer_fn.baseline.svdpp import Ratings


def _low_rank(seed=0, users=40, movies=30, rank=3, density=0.5):
    rng = np.random.default_rng(seed)
    p, q = rng.normal(0, 0.6, (users, rank)), rng.normal(0, 0.6, (movies, rank))
    full = np.clip(3.5 + rng.normal(0, 0.3, (users, 1)) + p @ q.T, 1, 5)
    seen = rng.random((users, movies)) < density
    u, m = np.nonzero(seen)
    return full, seen, Ratings(u.astype(np.int64), m.astype(np.int64), full[u, m].astype(np.float32))


def test_als_learns_a_low_rank_matrix_and_predicts_its_unseen_cells():
    full, seen, ratings = _low_rank()
    tables = fit_als(ratings, 41, 31, factors=3, l2=0.01, iterations=20, seed=0)   # one spare row each
    u, m = np.nonzero(~seen)
    unseen_rmse = np.sqrt(np.mean((tables.predict(u, m) - full[u, m]) ** 2))
    mean_rmse = np.sqrt(np.mean((ratings.ratings.mean() - full[u, m]) ** 2))
    fit_rmse = np.sqrt(np.mean((tables.predict(ratings.users, ratings.movies) - ratings.ratings) ** 2))
    assert fit_rmse < 0.15 and unseen_rmse < 0.5 * mean_rmse
    # a row without ratings gets zeros: the global mean and the movie's bias
    assert not tables.user_vectors[40].any() and tables.user_bias[40] == 0
    np.testing.assert_allclose(tables.predict(np.array([40]), np.array([0])),
                               np.clip(tables.mu + tables.movie_bias[0], 1, 5))


def test_a_larger_penalty_shrinks_the_fit_and_the_same_seed_gives_the_same_tables():
    _, _, ratings = _low_rank(seed=1)
    loose = fit_als(ratings, 40, 30, factors=3, l2=0.01, iterations=10, seed=0)
    tight = fit_als(ratings, 40, 30, factors=3, l2=1.0, iterations=10, seed=0)
    assert np.abs(tight.user_vectors).mean() < 0.5 * np.abs(loose.user_vectors).mean()
    again = fit_als(ratings, 40, 30, factors=3, l2=0.01, iterations=10, seed=0)
    np.testing.assert_array_equal(again.movie_vectors, loose.movie_vectors)
    with pytest.raises(ValueError, match="at least one rating"):
        fit_als(Ratings(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)), 4, 4, 2, 0.1, 2, 0)
