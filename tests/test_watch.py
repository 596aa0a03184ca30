"""The watch task (trainer_fn/watch.py): a proper distribution over the movies, served as a
logit that ranks a pair's movies alike, symmetric in A and B, the rating untouched, and a loss
that training lowers."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tests.test_model import SIZES, _inputs, _swapped, _tables
from trainer_fn.hparams import HParams
from trainer_fn.model import build_model
from trainer_fn.watch import WATCH_LAYER, scoring_model
from transform_fn import features as F


def _log_probability(m):
    """The head's log p(target | pair), as the loss reads it."""
    return keras.Model(m.inputs, m.get_layer(WATCH_LAYER).output)


def _models(**hparams):
    built = []
    for dim in (0, 6):
        tf.keras.utils.set_random_seed(0)
        built.append(build_model(SIZES, HParams(embedding_dim=8, watch_dim=dim, **hparams), label_mean=3.5,
                                 baseline=_tables()))
    return built


def test_the_head_is_a_distribution_over_every_movie_and_serves_its_logit_symmetric_in_a_and_b():
    _, m = _models()
    x = _inputs(np.random.default_rng(0))
    for name, value in list(x.items()):        # one pair and its history on every row, the movies differ
        if name not in (F.MOVIE_IDX, F.DIRECTOR_IDX, F.GENRE_IDX, F.ACTOR_IDX):
            x[name] = np.repeat(value[:1], len(value), axis=0)
    scorer = scoring_model(m)
    out = scorer(x, training=False)
    np.testing.assert_allclose(out["rating"], m(x, training=False), atol=1e-6)   # the rating is the model's
    log_p = _log_probability(m)(x, training=False).numpy()
    assert (log_p < 0).all()
    # the served logit is log p up to one normaliser for the pair: the same order of movies
    np.testing.assert_allclose(out["watch"].numpy() - log_p, (out["watch"].numpy() - log_p)[0], atol=1e-4)
    head = m.get_layer(WATCH_LAYER)
    query = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)
    probabilities = np.exp(head.log_probabilities(tf.constant(query)).numpy())
    assert probabilities.shape == (3, F.embedding_rows(SIZES[F.MOVIE_VOCAB]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    y = _inputs(np.random.default_rng(8))
    np.testing.assert_allclose(scorer(_swapped(y), training=False)["watch"], scorer(y, training=False)["watch"],
                               atol=1e-5)


def test_without_the_task_there_is_no_head_and_the_rating_graph_is_the_same():
    plain, with_task = _models()
    assert scoring_model(plain) is None and WATCH_LAYER not in [layer.name for layer in plain.layers]
    x = _inputs(np.random.default_rng(2))
    # both start at the baseline: the head adds a loss, not a term of the rating
    np.testing.assert_allclose(plain(x, training=False), with_task(x, training=False), atol=1e-5)
    assert len(with_task.losses) > len(plain.losses)


def test_training_lowers_the_watch_loss_on_a_movie_the_pairs_keep_watching():
    _, m = _models(learning_rate=0.01)
    x = _inputs(np.random.default_rng(3), n=64)
    x[F.MOVIE_IDX] = np.where(np.arange(64) % 2 == 0, 7, x[F.MOVIE_IDX])      # half the rows watch movie 7
    log_p = _log_probability(m)
    before = float(tf.reduce_mean(log_p(x, training=False)))
    m.fit(x, np.full(64, 3.5, np.float32), epochs=30, batch_size=64, verbose=0)
    after = float(tf.reduce_mean(log_p(x, training=False)))
    assert after > before + 0.5
    movie_7 = log_p(x, training=False).numpy()[::2]
    assert np.exp(movie_7).mean() > 0.3          # from 1/32 at the start


def test_reset_to_start_gives_the_baseline_back_and_keeps_the_watch_task():
    from trainer_fn.model import RECENCY_LAYER
    from trainer_fn.run import reset_to_start

    plain, m = _models()
    x = _inputs(np.random.default_rng(5))
    start = plain(x, training=False).numpy()
    rng = np.random.default_rng(6)
    for layer in m.layers:          # as after training: every weight moved
        if layer.trainable_weights or layer.name == RECENCY_LAYER:
            layer.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in layer.get_weights()])
    watch = scoring_model(m)(x, training=False)["watch"].numpy()
    assert np.abs(m(x, training=False).numpy() - start).max() > 1e-3
    reset_to_start(m)
    np.testing.assert_allclose(m(x, training=False), start, atol=1e-5)
    np.testing.assert_allclose(scoring_model(m)(x, training=False)["watch"], watch, atol=1e-6)


def test_training_the_task_alone_moves_only_its_own_layers_and_not_the_rating():
    from trainer_fn.run import train_watch_task

    _, m = _models()
    x = _inputs(np.random.default_rng(7), n=64)
    x[F.MOVIE_IDX] = np.where(np.arange(64) % 2 == 0, 7, x[F.MOVIE_IDX])
    data = tf.data.Dataset.from_tensor_slices((x, np.full(64, 3.5, np.float32))).batch(16)
    rating = m(x, training=False).numpy()
    others = {w.name: w.numpy().copy() for w in m.weights if not w.name.startswith("watch_")}
    before = float(tf.reduce_mean(_log_probability(m)(x, training=False)))
    out = train_watch_task(m, data, data, HParams(watch_dim=6, watch_epochs=20, watch_learning_rate=0.05))
    assert out["epochs_run"] >= 2 and out["val_loss"][-1] < out["val_loss"][0]
    assert float(tf.reduce_mean(_log_probability(m)(x, training=False))) > before + 0.5
    np.testing.assert_allclose(m(x, training=False), rating, atol=1e-6)
    for w in m.weights:
        if not w.name.startswith("watch_"):
            np.testing.assert_array_equal(w.numpy(), others[w.name], err_msg=w.name)
    assert all(layer.trainable for layer in m.layers if layer.name.startswith("deep_"))   # flags restored
