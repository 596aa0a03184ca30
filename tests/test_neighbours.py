"""The neighbourhood term (trainer_fn/neighbours.py) against a plain loop over its formula."""

import numpy as np
import pytest
import tensorflow as tf

from trainer_fn.baseline.svdpp import FactorTables, Ratings
from trainer_fn.neighbours import PAD_KEY, NeighbourTerm, neighbourhood, padded, weights_of

N_USERS, N_MOVIES, K, ALPHA = 30, 20, 5, 0.3


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(0)
    tables = FactorTables(mu=3.5, user_bias=rng.normal(0, .3, N_USERS), movie_bias=rng.normal(0, .3, N_MOVIES),
                          user_vectors=rng.normal(0, .3, (N_USERS, 4)), movie_vectors=rng.normal(0, .3, (N_MOVIES, 4)))
    pairs = sorted({(u, m) for u, m in zip(rng.integers(1, N_USERS, 300), rng.integers(1, N_MOVIES, 300))})
    users, movies = np.array(pairs).T
    events = Ratings(users, movies, rng.integers(1, 6, len(users)).astype(np.float32))
    return tables, events


def loop(tables, events, hood, user, target, slots):
    """sum s_tj e_uj / (sum |s_tj| + alpha) over the target's nearest movies u has rated; a
    slot's residual where the row holds the movie, else the fit set's."""
    profile = {(u, m): r - tables.predict(np.array([u]), np.array([m]))[0]
               for u, m, r in zip(events.users, events.movies, events.ratings)}
    num = den = 0.0
    for j, s in zip(hood.movies[target], hood.similarity[target]):
        held = [r for m, r in slots if m == j]
        r = np.mean(held) if held else profile.get((user, j))
        if r is not None:
            num, den = num + s * r, den + abs(s)
    return num / (den + ALPHA)


def test_the_layer_computes_the_formula(fit):
    tables, events = fit
    hood = padded(neighbourhood(tables, events, N_MOVIES, K, 10.0), len(events.users) + 3)
    layer = NeighbourTerm(len(hood.keys), N_MOVIES, K, ALPHA)
    users, target = np.array([1, 2, 3, 4]), np.array([4, 5, 6, 7])
    slots = np.array([[1, 2, 0], [3, 3, 7], [0, 0, 0], [*hood.movies[7][:2], 0]])
    residuals = np.random.default_rng(1).normal(0, 1, (4, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0], [1, 1, 1], [0, 0, 0], [1, 1, 0]], np.float32)
    call = lambda: layer(*map(tf.constant, (users, target, slots, residuals, mask))).numpy()[:, 0]  # noqa: E731
    assert np.allclose(call(), 0.0)                       # built empty
    layer.set_weights(weights_of(hood))
    got = call()
    want = [loop(tables, events, hood, users[i], target[i],
                 [(slots[i, n], residuals[i, n]) for n in range(3) if mask[i, n]]) for i in range(4)]
    assert np.allclose(got, want, atol=1e-5)
    assert np.abs(got).max() > 0.01                        # not all empty
    # the last row's slots are two of the target's nearest: they replace the fit set's residuals
    plain = loop(tables, events, hood, users[3], target[3], [])
    assert not np.isclose(got[3], plain)


def test_the_tables(fit):
    tables, events = fit
    hood = neighbourhood(tables, events, N_MOVIES, K, 10.0)
    assert (np.diff(hood.keys) > 0).all() and len(hood.keys) == len(events.users)
    # no movie is its own neighbour; the nearest are the largest |s| of the row
    assert not (hood.movies == np.arange(N_MOVIES)[:, None]).any()
    assert hood.movies.shape == hood.similarity.shape == (N_MOVIES, K)
    assert np.abs(hood.similarity).max() <= 1.0
    big = padded(hood, len(hood.keys) + 4)
    assert (big.keys[-4:] == PAD_KEY).all() and (big.residuals[-4:] == 0).all()
    with pytest.raises(ValueError, match="does not fit"):
        padded(hood, len(hood.keys) - 1)


def test_in_the_model_it_is_the_fourth_recency_term_averaged_over_the_members():
    """build_model with a neighbourhood: recency weight 4 alone adds the mean of the two
    members' terms over their window and recent slots; (A, B) = (B, A); a masked slot's
    movie does not count."""
    from tests.test_model import SIZES, _baseline, _inputs, _swapped, _tables
    from trainer_fn.hparams import HParams
    from trainer_fn.model import RECENCY_LAYER, build_model
    from transform_fn import features as F

    tables = _tables()
    rng = np.random.default_rng(5)
    n_movies = F.embedding_rows(SIZES[F.MOVIE_VOCAB])
    pairs = sorted({(u, m) for u, m in zip(rng.integers(1, 20, 250), rng.integers(1, 30, 250))})
    users, movies = np.array(pairs).T
    events = Ratings(users, movies, rng.integers(1, 6, len(users)).astype(np.float32))
    hood = neighbourhood(tables, events, n_movies, 8, 5.0)
    tf.keras.utils.set_random_seed(0)
    hp = HParams(embedding_dim=8, neighbour_alpha=ALPHA, foldin_l2=0.0)   # the fold-in term off: knn is the fourth
    m = build_model(SIZES, hp, label_mean=3.5, baseline=tables, neighbourhood=hood)
    layer = m.get_layer(RECENCY_LAYER)
    assert layer.get_weights()[0].shape == (4, 1)
    weights = np.zeros((4, 1), np.float32)
    weights[3] = 1.0
    layer.set_weights([weights])
    x = _inputs(np.random.default_rng(6))
    got = m(x, training=False).numpy()
    want, knn = [], []
    for i in range(len(x[F.MOVIE_IDX])):
        terms = []
        for s in F.SIDES:
            u = x[F.USER_IDX.format(side=s)][i]
            slots = [(j, r - _baseline(tables, u, j)) for kind in (("HIST_IDX", "HIST_RATING", "HIST_MASK"),
                                                                   ("RECENT_IDX", "RECENT_RATING", "RECENT_MASK"))
                     for j, r, k in zip(*(x[getattr(F, name).format(side=s)][i] for name in kind)) if k]
            terms.append(loop(tables, events, hood, u, x[F.MOVIE_IDX][i], slots))
        start = np.mean([_baseline(tables, x[F.USER_IDX.format(side=s)][i], x[F.MOVIE_IDX][i]) for s in F.SIDES])
        want.append(start + np.mean(terms))
        knn.append(np.mean(terms))
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.abs(knn).max() > 0.05                      # the term is not empty on these rows
    np.testing.assert_allclose(m(_swapped(x), training=False).numpy(), got, atol=1e-5)


def test_the_similarities_a_block_of_movies_at_a_time_are_those_of_one_block(fit, monkeypatch):
    """The K-nearest table built 3 movies at a time (no movies x movies array held) equals the
    one built in one block, neighbour for neighbour."""
    from trainer_fn import neighbours

    tables, events = fit
    whole = neighbourhood(tables, events, N_MOVIES, K, shrink=10.0)
    monkeypatch.setattr(neighbours, "BLOCK_BYTES", 8 * N_MOVIES * 3)
    blocks = neighbourhood(tables, events, N_MOVIES, K, shrink=10.0)
    np.testing.assert_array_equal(np.sort(whole.movies, 1), np.sort(blocks.movies, 1))
    np.testing.assert_allclose(np.sort(whole.similarity, 1), np.sort(blocks.similarity, 1), atol=1e-7)
    assert all(m not in row for m, row in enumerate(blocks.movies))          # never its own neighbour
