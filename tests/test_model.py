"""The two-user model on hand-made inputs: symmetry in A and B, and masked padding."""

import numpy as np
import pytest
import tensorflow as tf

from trainer_fn.hparams import HParams
from trainer_fn.model import build_model
from transform_fn import features as F

SIZES = {F.USER_VOCAB: 20, F.MOVIE_VOCAB: 30, F.SEX_VOCAB: 2, F.AGE_VOCAB: 7, F.OCCUPATION_VOCAB: 21,
         F.GENRE_VOCAB: 18, F.DIRECTOR_VOCAB: 5, F.ACTOR_VOCAB: 9}


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(0)
    return build_model(SIZES, HParams(embedding_dim=8), label_mean=3.5)


def _inputs(rng, n=16, padded_slots=1):
    x = {}
    for side in F.SIDES:
        x[F.USER_IDX.format(side=side)] = rng.integers(1, 20, n)
        x[F.SEX_IDX.format(side=side)] = rng.integers(1, 3, n)
        x[F.AGE_IDX.format(side=side)] = rng.integers(1, 8, n)
        x[F.OCCUPATION_IDX.format(side=side)] = rng.integers(1, 22, n)
        mask = np.ones((n, F.HISTORY_LENGTH), np.float32)
        mask[:, :padded_slots] = 0.0
        x[F.HIST_MASK.format(side=side)] = mask
        x[F.HIST_IDX.format(side=side)] = (rng.integers(1, 30, (n, F.HISTORY_LENGTH)) * mask).astype(np.int64)
        x[F.HIST_RATING.format(side=side)] = (rng.integers(1, 6, (n, F.HISTORY_LENGTH)) * mask).astype(np.float32)
    x[F.MOVIE_IDX] = rng.integers(1, 30, n)
    x[F.DIRECTOR_IDX] = rng.integers(0, 5, n)
    x[F.GENRE_IDX] = rng.integers(0, 18, (n, F.MAX_GENRES))
    x[F.ACTOR_IDX] = rng.integers(0, 9, (n, F.MAX_ACTORS))
    for name in (F.YEAR_Z, F.RUNTIME_Z, F.RUNTIME_KNOWN, F.IMDB_RATING_Z, F.IMDB_VOTES_Z, F.IMDB_KNOWN):
        x[name] = rng.normal(size=n).astype(np.float32)
    return x


def _swapped(x):
    out = dict(x)
    for name in (F.USER_IDX, F.SEX_IDX, F.AGE_IDX, F.OCCUPATION_IDX, F.HIST_IDX, F.HIST_RATING, F.HIST_MASK):
        out[name.format(side="a")], out[name.format(side="b")] = x[name.format(side="b")], x[name.format(side="a")]
    return out


def test_prediction_for_a_b_equals_b_a(model):
    x = _inputs(np.random.default_rng(1))
    np.testing.assert_allclose(model(x, training=False), model(_swapped(x), training=False), atol=1e-5)


def test_padded_history_slots_do_not_change_the_prediction(model):
    x = _inputs(np.random.default_rng(2), padded_slots=2)
    noisy = dict(x)
    for side in F.SIDES:   # what sits in masked slots must not matter
        idx = x[F.HIST_IDX.format(side=side)].copy()
        rating = x[F.HIST_RATING.format(side=side)].copy()
        idx[:, :2], rating[:, :2] = 7, 5.0
        noisy[F.HIST_IDX.format(side=side)], noisy[F.HIST_RATING.format(side=side)] = idx, rating
    np.testing.assert_allclose(model(x, training=False), model(noisy, training=False), atol=1e-5)
    # ...while a real (unmasked) slot does.
    changed = dict(x)
    last = x[F.HIST_RATING.format(side="a")].copy()
    last[:, -1] = 6.0 - last[:, -1]
    changed[F.HIST_RATING.format(side="a")] = last
    assert not np.allclose(model(x, training=False), model(changed, training=False), atol=1e-5)
