"""TFX Trainer module for the strong classical baseline: SVD++ (see svdpp.py).

It is trained on the rating events of the same transformed train split the attention
model reads: each single-user row's target (user, movie, rating) and every filled
history slot (user, movie, rating), one event per (user, movie). Early stopping uses the
eval split's single-user targets. For a pair (A, B) it predicts the mean of the two users'
predicted ratings, so (A, A) is plain rating prediction and (A, B) = (B, A).
It is saved with the same serving signature as the attention model, so TFMA, the
blessing gate, TF Serving and the recommender treat both alike, and the attention
Trainer reads its tables (it learns the residual over this model).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx

from trainer_fn.baseline import svdpp
from trainer_fn.hparams import BaselineParams
from trainer_fn.progress import epoch_reporter
from trainer_fn.saving import dataset, save
from transform_fn import features as F


def rating_events(batches) -> tuple[svdpp.Ratings, svdpp.Ratings]:
    """(target events of single-user rows, all events incl. history slots), deduplicated and
    in a canonical (user, movie) order: Beam writes records in no fixed order, and the
    training must not depend on it."""
    users, movies, ratings, is_target = [], [], [], []
    for features, label in batches:
        a, b = features[F.USER_IDX.format(side="a")].numpy(), features[F.USER_IDX.format(side="b")].numpy()
        single = a == b
        users.append(a[single]), movies.append(features[F.MOVIE_IDX].numpy()[single])
        ratings.append(label.numpy()[single]), is_target.append(np.ones(single.sum(), bool))
        for side in F.SIDES:
            mask = features[F.HIST_MASK.format(side=side)].numpy() > 0
            user = np.broadcast_to(features[F.USER_IDX.format(side=side)].numpy()[:, None], mask.shape)
            users.append(user[mask]), movies.append(features[F.HIST_IDX.format(side=side)].numpy()[mask])
            ratings.append(features[F.HIST_RATING.format(side=side)].numpy()[mask])
            is_target.append(np.zeros(mask.sum(), bool))
    users, movies = np.concatenate(users).astype(np.int64), np.concatenate(movies).astype(np.int64)
    ratings, is_target = np.concatenate(ratings).astype(np.float32), np.concatenate(is_target)
    key = users * (movies.max(initial=0) + 1) + movies
    _, first = np.unique(key, return_index=True)          # in key order
    target_order = np.flatnonzero(is_target)[np.argsort(key[is_target], kind="stable")]
    targets = svdpp.Ratings(users[target_order], movies[target_order], ratings[target_order])
    return targets, svdpp.Ratings(users[first], movies[first], ratings[first])


def build_factor_model(tables: svdpp.FactorTables) -> keras.Model:
    """Mean of the two members' mu + b_u + b_m + u_eff . q_m (each clipped to the rating
    scale), from the trained tables."""
    def table(name, values):
        values = np.asarray(values, np.float32).reshape(len(values), -1)
        return keras.layers.Embedding(values.shape[0], values.shape[1], name=name, trainable=False,
                                      embeddings_initializer=keras.initializers.Constant(values))

    user_bias, movie_bias = table("user_bias", tables.user_bias), table("movie_bias", tables.movie_bias)
    user_vectors, movie_vectors = table("user_vectors", tables.user_vectors), table("movie_vectors",
                                                                                   tables.movie_vectors)
    inputs = {name: keras.Input(shape=(), dtype=tf.int64, name=name)
              for name in (F.USER_IDX.format(side="a"), F.USER_IDX.format(side="b"), F.MOVIE_IDX)}
    movie = inputs[F.MOVIE_IDX]
    mean = GlobalMean(tables.mu, name="global_mean")
    members = []
    for side in F.SIDES:
        user = inputs[F.USER_IDX.format(side=side)]
        member = mean(user_bias(user)[:, 0] + movie_bias(movie)[:, 0]
                      + tf.reduce_sum(user_vectors(user) * movie_vectors(movie), axis=-1))
        members.append(tf.clip_by_value(member, F.RATING_MIN, F.RATING_MAX))   # as scikit-surprise does
    rating = (members[0] + members[1]) / 2.0
    return keras.Model(inputs=inputs, outputs=rating)


class GlobalMean(keras.layers.Layer):
    """Adds the training mean, kept as a named variable so that other Trainers can read it."""

    def __init__(self, value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)

    def build(self, input_shape):
        self.mu = self.add_weight(name="mu", shape=(), trainable=False,
                                  initializer=keras.initializers.Constant(self.value))

    def call(self, x):
        return x + self.mu

    def get_config(self):
        return {**super().get_config(), "value": self.value}


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    p = BaselineParams.from_dict((fn_args.custom_config or {}).get("baseline"))
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(p.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    read = lambda files: dataset(files, fn_args.data_accessor, tf_transform_output, 8192)  # noqa: E731
    _, train = rating_events(read(fn_args.train_files))
    evaluate, _ = rating_events(read(fn_args.eval_files))
    n_users = F.embedding_rows(tf_transform_output.vocabulary_size_by_name(F.USER_VOCAB))
    n_movies = F.embedding_rows(tf_transform_output.vocabulary_size_by_name(F.MOVIE_VOCAB))
    tables, history = svdpp.fit(train, evaluate, n_users, n_movies, p, on_epoch=epoch_reporter(p.epochs))
    model = build_factor_model(tables)
    save(model, tf_transform_output, fn_args, history,
         {"hparams": dataclasses.asdict(p), "train_events": len(train), "eval_events": len(evaluate)})
