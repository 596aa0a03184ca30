"""The BaselineTrainer as the strongest fair peer: the recency terms over every rating a row
can read, against its own tables, their weights fitted by least squares, and the factor
model's graph computing the same."""

import numpy as np
import pytest
import tensorflow as tf

from trainer_fn.baseline import run as B
from trainer_fn.baseline import svdpp
from transform_fn import features as F

H, R = F.HISTORY_LENGTH, F.RECENT_LENGTH


def _tables(seed=0, users=6, movies=9, k=3):
    rng = np.random.default_rng(seed)
    return svdpp.FactorTables(mu=3.5, user_bias=rng.normal(0, 0.3, users).astype(np.float32),
                              movie_bias=rng.normal(0, 0.3, movies).astype(np.float32),
                              user_vectors=rng.normal(0, 0.5, (users, k)).astype(np.float32),
                              movie_vectors=rng.normal(0, 0.5, (movies, k)).astype(np.float32))


def _features(a, b, movie, hist, ratings, mask, recent=None, raters=None):
    """recent: {side: (movies, ratings, mask)} [n, R]; raters: (users, ratings, mask) [n, R]."""
    n = len(a)
    empty = (np.zeros((n, R), np.int64), np.zeros((n, R)), np.zeros((n, R)))
    out = {F.USER_IDX.format(side="a"): np.array(a), F.USER_IDX.format(side="b"): np.array(b),
           F.MOVIE_IDX: np.array(movie)}
    for side in F.SIDES:
        out[F.HIST_IDX.format(side=side)] = np.array(hist[side], np.int64)
        out[F.HIST_RATING.format(side=side)] = np.array(ratings[side], np.float32)
        out[F.HIST_MASK.format(side=side)] = np.array(mask[side], np.float32)
        movies, stars, filled = (recent or {}).get(side, empty)
        out[F.RECENT_IDX.format(side=side)] = np.array(movies, np.int64)
        out[F.RECENT_RATING.format(side=side)] = np.array(stars, np.float32)
        out[F.RECENT_MASK.format(side=side)] = np.array(filled, np.float32)
    users, stars, filled = raters or empty
    out[F.RATER_IDX], out[F.RATER_RATING] = np.array(users, np.int64), np.array(stars, np.float32)
    out[F.RATER_MASK] = np.array(filled, np.float32)
    return out


def _pad(rows, width=R, dtype=float):
    return np.array([list(r) + [0] * (width - len(r)) for r in rows], dtype)


def test_the_history_residual_pools_both_members_and_counts_one_person_once():
    t = _tables()
    hist = {"a": [[1, 2, 3], [1, 2, 3]], "b": [[4, 5, 0], [1, 2, 3]]}
    ratings = {"a": [[5, 4, 3], [5, 4, 3]], "b": [[2, 1, 0], [5, 4, 3]]}
    mask = {"a": [[1, 1, 1], [1, 1, 1]], "b": [[1, 1, 0], [1, 1, 1]]}
    f = _features([1, 2], [3, 2], [7, 7], hist, ratings, mask)
    r = B.readable_residuals(t, f)
    pair = ([5 - t.predict(1, 1), 4 - t.predict(1, 2), 3 - t.predict(1, 3), 2 - t.predict(3, 4), 1 - t.predict(3, 5)])
    single = [5 - t.predict(2, 1), 4 - t.predict(2, 2), 3 - t.predict(2, 3)]   # (2, 2): once, not twice
    assert r[:, 0] == pytest.approx([np.mean(pair), np.mean(single)], abs=1e-5)
    assert r[:, 1] == pytest.approx([0.0, 0.0])     # no recent raters of the movie
    empty = _features([1], [1], [7], {"a": [[0] * H], "b": [[0] * H]}, {"a": [[0] * H], "b": [[0] * H]},
                      {"a": [[0] * H], "b": [[0] * H]})
    assert B.readable_residuals(t, empty)[0] == pytest.approx([0.0, 0.0])


def test_the_recent_slots_join_the_window_once_and_the_raters_are_a_second_term():
    t = _tables()
    # One person (A, A): window 1, 2, 3; recent 3 (the same rating as the window's last slot), 6, 8.
    hist = {s: [[1, 2, 3]] for s in F.SIDES}
    ratings = {s: [[5, 4, 3]] for s in F.SIDES}
    mask = {s: [[1, 1, 1]] for s in F.SIDES}
    recent = {s: (_pad([[3, 6, 8]], dtype=np.int64), _pad([[3, 2, 5]]), _pad([[1, 1, 1]])) for s in F.SIDES}
    raters = (_pad([[4, 5]], dtype=np.int64), _pad([[1, 4]]), _pad([[1, 1]]))
    f = _features([2], [2], [7], hist, ratings, mask, recent, raters)
    r = B.readable_residuals(t, f)
    member = [5 - t.predict(2, 1), 4 - t.predict(2, 2), 3 - t.predict(2, 3), 2 - t.predict(2, 6), 5 - t.predict(2, 8)]
    movie = [1 - t.predict(4, 7), 4 - t.predict(5, 7)]
    assert r[0] == pytest.approx([np.mean(member), np.mean(movie)], abs=1e-5)


def test_the_recency_weights_are_the_least_squares_ones_and_the_graph_computes_the_same():
    t = _tables(1)
    rng = np.random.default_rng(2)
    n = 400
    a, b = rng.integers(1, 6, n), rng.integers(1, 6, n)
    hist = {s: rng.integers(1, 9, (n, H)) for s in F.SIDES}
    ratings = {s: rng.integers(1, 6, (n, H)).astype(float) for s in F.SIDES}
    mask = {s: (rng.random((n, H)) < 0.8).astype(float) for s in F.SIDES}
    recent = {s: (rng.integers(1, 9, (n, R)), rng.integers(1, 6, (n, R)).astype(float),
                  (rng.random((n, R)) < 0.5).astype(float)) for s in F.SIDES}
    raters = (rng.integers(1, 6, (n, R)), rng.integers(1, 6, (n, R)).astype(float), (rng.random((n, R)) < 0.5).astype(float))
    movie = rng.integers(1, 9, n)
    f = _features(a, b, movie, hist, ratings, mask, recent, raters)
    base = (t.predict(a, movie) + t.predict(b, movie)) / 2
    r = B.readable_residuals(t, f)
    label = base + r @ np.array([0.4, 0.2]) + rng.normal(0, 0.05, n)
    batches = [({k: tf.constant(v[i:i + 100]) for k, v in f.items()}, tf.constant(label[i:i + 100]))
               for i in range(0, n, 100)]
    w = B.fit_recency_weight(t, batches)
    assert w == pytest.approx([0.4, 0.2], abs=0.03)
    model = B.build_factor_model(t, w)
    inputs = {name: tf.constant(f[name]) for name in model.input.keys()}
    assert np.asarray(model(inputs)) == pytest.approx(base + r @ np.array(w), abs=1e-4)


def test_the_train_tables_round_trip(tmp_path):
    t = _tables(3)
    path = str(tmp_path / svdpp.TRAIN_TABLES_FILE)
    svdpp.write_tables(path, t)
    back = svdpp.read_tables(path)
    assert back.mu == t.mu and np.array_equal(back.user_vectors, t.user_vectors)
    assert svdpp.read_tables(str(tmp_path / "missing.npz")) is None


def test_the_rating_scale_floor_follows_the_data():
    assert F.rating_floor(np.array([1.0, 3.0, 5.0])) == F.RATING_MIN == 1.0       # ML-100K, ML-1M
    assert F.rating_floor(np.array([1.0, 3.5, 5.0])) == F.HALF_STAR_MIN == 0.5    # ML-10M on
    assert F.rating_floor(np.array([0.5, 3.0])) == 0.5
    assert F.rating_floor(np.array([], np.float32)) == 1.0


def test_half_star_tables_clip_at_half_a_star_in_numpy_in_the_graph_and_on_disk(tmp_path):
    """A prediction below 1 is kept down to 0.5 on a half-star scale (clipped at 1 on a
    whole-star one): by the tables, the baseline's graph, the Trainer's frozen baseline, the
    tables file and the SavedModel's variable the Trainer reads the floor from."""
    import dataclasses

    from trainer_fn.model import FrozenBaseline

    low = dataclasses.replace(_tables(4), mu=0.2, rating_min=0.5)     # predictions around 0.2 and below 1
    whole = dataclasses.replace(low, rating_min=1.0)
    users, movies = np.arange(6), np.arange(6)
    raw = low.mu + low.user_bias[users] + low.movie_bias[movies] + (low.user_vectors[users] * low.movie_vectors[movies]).sum(-1)
    assert (raw < 1).any() and (raw > 0.5).any() and (raw < 0.5).any()
    assert np.allclose(low.predict(users, movies), np.clip(raw, 0.5, 5.0))
    assert np.allclose(whole.predict(users, movies), np.clip(raw, 1.0, 5.0))
    frozen = FrozenBaseline(low).rating(tf.constant(users), tf.constant(movies)).numpy()
    assert frozen == pytest.approx(np.clip(raw, 0.5, 5.0), abs=1e-5)
    path = str(tmp_path / svdpp.EARLY_TABLES_FILE)
    svdpp.write_tables(path, low)
    assert svdpp.read_tables(path).rating_min == 0.5
    model = B.build_factor_model(low)
    tf.saved_model.save(model, str(tmp_path / "baseline"))
    assert svdpp.load_tables(str(tmp_path / "baseline")).rating_min == 0.5
    n = len(users)
    empty = {side: np.zeros((n, H)) for side in F.SIDES}
    f = _features(users, users, movies, {side: np.zeros((n, H), np.int64) for side in F.SIDES}, empty, empty)
    graph = np.asarray(model({name: tf.constant(f[name]) for name in model.input.keys()}))
    assert graph == pytest.approx(np.clip(raw, 0.5, 5.0), abs=1e-5)


def test_tables_written_before_the_scale_was_kept_read_as_whole_stars(tmp_path):
    t = _tables(5)
    path = tmp_path / "old.npz"
    np.savez(path, mu=np.float64(t.mu), user_bias=t.user_bias, movie_bias=t.movie_bias,
             user_vectors=t.user_vectors, movie_vectors=t.movie_vectors)
    assert svdpp.read_tables(str(path)).rating_min == F.RATING_MIN
