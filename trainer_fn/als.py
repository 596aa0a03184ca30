"""A second factor model beside SVD++: biased matrix factorisation by alternating least squares
with weighted-lambda regularisation (ALS-WR; Zhou et al., "Large-scale parallel collaborative
filtering for the Netflix Prize", 2008).

    r(u, i) = mu + b_u + b_i + p_u . q_i,  minimising  sum (r - r^)^2 + lambda (n_u |[p_u, b_u]|^2 + n_i |[q_i, b_i]|^2)

Each half-step solves every user's (then every movie's) ridge regression in closed form, the
penalty growing with the number of ratings, so it is a differently regularised fit of the same
ratings than SVD++'s SGD (more factors, no implicit part). The model blends its prediction in
as one more term of the recency layer (its weight fitted on eval, trainer_fn/run.py), fitted on
the same sets as the baseline: every train rating for training and the weights, every train +
eval rating for the pushed model (trainer_fn/known_ratings.py).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from trainer_fn.baseline.svdpp import FactorTables, Ratings
from transform_fn.features import RATING_MIN


def _half_step(matrix: sp.csr_matrix, fixed: np.ndarray, fixed_bias: np.ndarray, mu: float,
               l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Every row's (vector, bias) given the other side's; rows without ratings get zeros."""
    k = fixed.shape[1]
    vectors, biases = np.zeros((matrix.shape[0], k)), np.zeros(matrix.shape[0])
    design = np.hstack([fixed, np.ones((len(fixed), 1))])
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if start == end:
            continue
        cols = matrix.indices[start:end]
        x = design[cols]
        target = matrix.data[start:end] - mu - fixed_bias[cols]
        solution = np.linalg.solve(x.T @ x + l2 * (end - start) * np.eye(k + 1), x.T @ target)
        vectors[row], biases[row] = solution[:k], solution[k]
    return vectors, biases


def fit_als(ratings: Ratings, n_users: int, n_movies: int, factors: int, l2: float, iterations: int,
            seed: int, rating_min: float = RATING_MIN) -> FactorTables:
    """The ALS-WR tables of `ratings` (ids below n_users / n_movies), in the baseline's format
    (predictions clipped to [rating_min, RATING_MAX])."""
    if not len(ratings):
        raise ValueError("ALS needs at least one rating")
    users, movies = ratings.users.astype(np.int64), ratings.movies.astype(np.int64)
    values = ratings.ratings.astype(np.float64)
    mu = float(values.mean())
    by_user = sp.csr_matrix((values, (users, movies)), shape=(n_users, n_movies))
    by_movie = by_user.T.tocsr()
    rng = np.random.default_rng(seed)
    movie_vectors = rng.normal(0.0, 0.1, (n_movies, factors))
    movie_bias = np.zeros(n_movies)
    for _ in range(iterations):
        user_vectors, user_bias = _half_step(by_user, movie_vectors, movie_bias, mu, l2)
        movie_vectors, movie_bias = _half_step(by_movie, user_vectors, user_bias, mu, l2)
    return FactorTables(mu=mu, user_bias=user_bias.astype(np.float32), movie_bias=movie_bias.astype(np.float32),
                        user_vectors=user_vectors.astype(np.float32), movie_vectors=movie_vectors.astype(np.float32),
                        rating_min=rating_min)
