"""The strong baseline: our SVD++ against scikit-surprise's on the same exported split."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from trainer_fn.baseline import svdpp
from trainer_fn.hparams import BaselineParams

surprise = pytest.importorskip("surprise", reason="scikit-surprise is a test dependency (requirements-test.txt)")


def _split(prepared):
    ratings = pd.read_csv(prepared / "ratings_by_split.csv")
    users = {u: i for i, u in enumerate(sorted(ratings["user_id"].unique()))}
    movies = {m: i for i, m in enumerate(sorted(ratings["movie_id"].unique()))}

    def events(frame):
        return svdpp.Ratings(frame["user_id"].map(users).to_numpy(np.int64),
                             frame["movie_id"].map(movies).to_numpy(np.int64),
                             frame["rating"].to_numpy(np.float32))

    by = {s: ratings[ratings["split"] == s] for s in ("train", "eval")}
    test = pd.concat([pd.read_csv(prepared / "test" / f"{k}.csv") for k in ("pairs", "singles")])
    return ratings, by, events, users, movies, test


def _rmse(predict, test):
    pred = (predict(test["a_user"], test["movie"]) + predict(test["b_user"], test["movie"])) / 2
    return float(np.sqrt(np.mean((np.clip(pred, 1, 5) - test["label"]) ** 2)))


@pytest.fixture(scope="module")
def fitted(tiny_prepared):
    tf.config.experimental.enable_op_determinism()
    prepared, _ = tiny_prepared
    ratings, by, events, users, movies, test = _split(prepared)
    tables, history = svdpp.fit(events(by["train"]), events(by["eval"]), len(users), len(movies),
                                BaselineParams())
    ours = _rmse(lambda u, m: tables.predict(u.map(users).to_numpy(), m.map(movies).to_numpy()), test)
    return tables, history, ours, by, test


def test_svdpp_matches_scikit_surprise_on_the_same_split(fitted):
    _, _, ours, by, test = fitted
    train = surprise.Dataset.load_from_df(by["train"][["user_id", "movie_id", "rating"]],
                                          surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = surprise.SVDpp(random_state=0, cache_ratings=True)
    algo.fit(train)
    theirs = _rmse(lambda u, m: np.array([algo.predict(a, b).est for a, b in zip(u, m)]), test)
    mean = float(np.sqrt(np.mean((by["train"]["rating"].mean() - test["label"]) ** 2)))
    assert ours < mean - 0.03          # it learned something
    assert ours <= theirs + 0.01, (ours, theirs)


def test_the_epoch_with_the_best_eval_rmse_is_kept(fitted):
    tables, history, ours, *_ = fitted
    curve, params = history["val_rmse"], BaselineParams()
    best = int(np.argmin(curve))
    if len(curve) < params.epochs:      # stopped early: exactly `patience` epochs without a gain after the best
        assert len(curve) == best + 1 + params.patience, curve
    else:                               # ran every epoch: no run of `patience` epochs without a gain before the end
        assert all(min(curve[:i + 1]) < min(curve[:i + 1 - params.patience])
                   for i in range(params.patience, len(curve) - 1)), curve


def test_kinds_and_unseen_rows():
    # user 3 and movie 3 have no training event
    train = svdpp.Ratings(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 2, 1]),
                          np.array([5, 4, 1, 2, 3], np.float32))
    fit = lambda kind: svdpp.fit(train, train, 4, 4, BaselineParams(kind=kind, epochs=3, patience=5,  # noqa: E731
                                                                     batch_size=2, learning_rate=0.007))[0]
    with_implicit, plain, biases = fit("svdpp"), fit("mf"), fit("biases")
    assert not np.allclose(with_implicit.user_vectors, plain.user_vectors)
    assert np.all(biases.user_vectors == 0) and np.all(biases.movie_vectors == 0)
    for tables in (with_implicit, plain):
        assert np.all(tables.user_vectors[3] == 0) and tables.user_bias[3] == 0
        assert np.all(tables.movie_vectors[3] == 0) and tables.movie_bias[3] == 0
        # an unseen user gets the mean plus the movie's bias
        expected = np.clip(tables.mu + tables.movie_bias[1], 1, 5)
        assert tables.predict(np.array([3]), np.array([1]))[0] == pytest.approx(expected)


def test_same_data_and_seed_give_identical_tables(tiny_prepared):
    """The gate's decision must not flip between identical runs: training is deterministic."""
    tf.config.experimental.enable_op_determinism()
    prepared, _ = tiny_prepared
    ratings, by, events, users, movies, _ = _split(prepared)
    p = BaselineParams(epochs=4, patience=10)
    first, _ = svdpp.fit(events(by["train"]), events(by["eval"]), len(users), len(movies), p)
    second, _ = svdpp.fit(events(by["train"]), events(by["eval"]), len(users), len(movies), p)
    np.testing.assert_array_equal(first.user_vectors, second.user_vectors)
    np.testing.assert_array_equal(first.movie_bias, second.movie_bias)
    other, _ = svdpp.fit(events(by["train"]), events(by["eval"]), len(users), len(movies),
                         BaselineParams(epochs=4, patience=10, seed=7))
    assert not np.array_equal(first.user_vectors, other.user_vectors)


def test_epoch_order_visits_every_rating_once_in_short_runs_of_one_user():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(5), [1, 7, 70, 3, 40])
    rng.shuffle(users)
    order = svdpp._epoch_order(np.random.default_rng(1), users, chunk=8)
    assert sorted(order.tolist()) == list(range(len(users)))
    blocks = np.split(users[order], np.flatnonzero(np.diff(users[order])) + 1)
    # 17 runs of at most 8 (1 + 1 + 9 + 1 + 5); two runs of one user may meet by chance
    assert len(blocks) >= 9
    for user in (2, 4):   # the heavy users are spread over several blocks
        assert sum(b[0] == user for b in blocks) >= 2
    # a new epoch is a new order
    assert not np.array_equal(order, svdpp._epoch_order(np.random.default_rng(2), users, chunk=8))
