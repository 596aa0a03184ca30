"""TFX Trainer module for the strong classical baseline: SVD++ (see svdpp.py).

It is trained on every train rating (trainer_fn/known_ratings.py: the prepared folder's
ratings file, in the Transform's vocabularies, one event per (user, movie)). Early
stopping uses the eval split's single-user targets. For a pair (A, B) it predicts the
mean of the two users' predicted ratings, so (A, A) is plain rating prediction and (A, B) = (B, A).

Given the information the rating model gets (README, "What a row may read"), it is the
strongest fair peer: with `refit` (default) it is then refitted on every rating of
train and eval (every rating before the test period) for the number of epochs early
stopping chose, and with `recency` (default) it adds `w . r`, r two plain means of the
residuals against its own tables of every rating the row can read: its members' (the
window's and the recent slots, both members pooled, a single person once) and the target
movie's recent raters'; w two least-squares weights fitted on the eval rows with the
train-only fit, so no test row informs any choice. The train-only tables are written beside
the model (TRAIN_TABLES_FILE): the rating model's eval-fitted terms read the residuals against
them, out of sample on eval as on test; and so do the tables fitted on the train ratings before
the rolling origin (EARLY_TABLES_FILE), which its deep part learns over on the later train rows.
It is saved with the same serving signature as the rating model, so TFMA, the
blessing gate, TF Serving and the recommender treat both alike, and the attention
Trainer reads its tables (it learns the residual over this model).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx

from trainer_fn.baseline import svdpp
from trainer_fn.hparams import BaselineParams
from trainer_fn.known_ratings import known_ratings_path, read_known_ratings
from trainer_fn.progress import epoch_reporter
from trainer_fn.saving import dataset, save
from transform_fn import features as F


def single_targets(batches) -> svdpp.Ratings:
    """The (user, movie, rating) targets of the single-user rows, one per (user, movie), in
    (user, movie) order, so that the early stopping does not depend on the records' order."""
    users, movies, ratings = [], [], []
    for features, label in batches:
        a, b = features[F.USER_IDX.format(side="a")].numpy(), features[F.USER_IDX.format(side="b")].numpy()
        single = a == b
        users.append(a[single]), movies.append(features[F.MOVIE_IDX].numpy()[single])
        ratings.append(label.numpy()[single])
    users, movies = np.concatenate(users).astype(np.int64), np.concatenate(movies).astype(np.int64)
    return svdpp.Ratings.one_per_user_movie(users, movies, np.concatenate(ratings).astype(np.float32))


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    p = BaselineParams.from_dict((fn_args.custom_config or {}).get("baseline"))
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(p.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    read = lambda files: dataset(files, fn_args.data_accessor, tf_transform_output, 8192)  # noqa: E731
    known = known_ratings_path(fn_args.custom_config)
    # Fitted on every train rating (trainer_fn/known_ratings.py), early stopped on the eval
    # split's single-user targets.
    train, both, early = read_known_ratings(known, tf_transform_output, [F.TRAIN_SPLIT], [F.TRAIN_SPLIT, F.EVAL_SPLIT],
                                            [F.EARLY_PERIOD])
    evaluate = single_targets(read(fn_args.eval_files))
    n_users = F.embedding_rows(tf_transform_output.vocabulary_size_by_name(F.USER_VOCAB))
    n_movies = F.embedding_rows(tf_transform_output.vocabulary_size_by_name(F.MOVIE_VOCAB))
    floor = F.rating_floor(both.ratings)         # the data's scale: whole stars from 1, or half stars
    on_train, history = svdpp.fit(train, evaluate, n_users, n_movies, p, on_epoch=epoch_reporter(p.epochs),
                                  rating_min=floor)
    recency = fit_recency_weight(on_train, read(fn_args.eval_files)) if p.recency else [0.0, 0.0]
    tables, epochs = on_train, int(np.argmin(history["val_rmse"])) + 1
    chosen = dataclasses.replace(p, epochs=epochs, patience=epochs + 1)
    if p.refit:
        # Every rating before the test period, for the epochs early stopping chose on eval.
        tables, _ = svdpp.fit(both, both, n_users, n_movies, chosen, rating_min=floor)
    model = build_factor_model(tables, recency)
    save(model, tf_transform_output, fn_args, history,
         {"hparams": dataclasses.asdict(p), "train_events": len(train), "eval_events": len(evaluate),
          "refit_on_train_and_eval": p.refit, "refit_epochs": epochs if p.refit else None,
          "recency_weight_fitted_on_eval": recency, "rating_scale": [floor, F.RATING_MAX]},
         rating_min=floor)
    folder = os.path.dirname(fn_args.serving_model_dir)
    svdpp.write_tables(os.path.join(folder, svdpp.TRAIN_TABLES_FILE), on_train)
    # The rolling origin's fit (the same epochs), for the rating model's deep part.
    if len(early):
        svdpp.write_tables(os.path.join(folder, svdpp.EARLY_TABLES_FILE),
                           svdpp.fit(early, early, n_users, n_movies, chosen, rating_min=floor)[0])


def _member_slots(features: dict, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(movies, ratings, mask) [batch, slots] of every rating of one member the row can read: the
    window's slots, then the recent ones; a window slot whose movie is also among the recent
    ones is masked (one rating counts once)."""
    hist, recent = features[F.HIST_IDX.format(side=side)], features[F.RECENT_IDX.format(side=side)]
    recent_mask = features[F.RECENT_MASK.format(side=side)]
    repeated = ((hist[:, :, None] == recent[:, None, :]) & (recent_mask[:, None, :] > 0)).any(-1)
    movies = np.concatenate([hist, recent], 1)
    ratings = np.concatenate([features[F.HIST_RATING.format(side=side)], features[F.RECENT_RATING.format(side=side)]], 1)
    mask = np.concatenate([features[F.HIST_MASK.format(side=side)] * ~repeated, recent_mask], 1)
    return movies, ratings, mask


def readable_residuals(tables: svdpp.FactorTables, features: dict) -> np.ndarray:
    """[batch, 2] per row, 0 where there is none:
    - the mean residual (rating - the tables' clipped prediction) of every rating of its
      members the row can read (the window's and the recent slots, _member_slots), both
      members pooled and a single person (A, A) counted once;
    - the mean residual of the target movie's recent raters' ratings of it."""
    a, b = (features[F.USER_IDX.format(side=s)] for s in F.SIDES)
    total, count = np.zeros(len(a)), np.zeros(len(a))
    for side, weight in (("a", np.ones(len(a))), ("b", (a != b).astype(float))):
        users = features[F.USER_IDX.format(side=side)]
        movies, ratings, mask = _member_slots(features, side)
        predicted = tables.predict(np.repeat(users, movies.shape[1]), movies.reshape(-1)).reshape(movies.shape)
        total += weight * ((ratings - predicted) * mask).sum(axis=1)
        count += weight * mask.sum(axis=1)
    raters, mask = features[F.RATER_IDX], features[F.RATER_MASK]
    predicted = tables.predict(raters.reshape(-1), np.repeat(features[F.MOVIE_IDX], raters.shape[1])).reshape(raters.shape)
    received = ((features[F.RATER_RATING] - predicted) * mask).sum(axis=1)
    return np.stack([np.where(count > 0, total / np.maximum(count, 1), 0.0),
                     np.where(mask.sum(axis=1) > 0, received / np.maximum(mask.sum(axis=1), 1), 0.0)], axis=1)


def fit_recency_weight(tables: svdpp.FactorTables, batches) -> list[float]:
    """The least-squares weights of label - prediction ~ w . readable_residuals over the eval
    rows (pairs and singles)."""
    rs, errors = [], []
    for features, label in batches:
        features = {k: v.numpy() for k, v in features.items()}
        a, b = (features[F.USER_IDX.format(side=s)] for s in F.SIDES)
        movie = features[F.MOVIE_IDX]
        predicted = (tables.predict(a, movie) + tables.predict(b, movie)) / 2    # predict clips
        rs.append(readable_residuals(tables, features))
        errors.append(label.numpy().reshape(-1) - predicted)
    r, e = np.concatenate(rs), np.concatenate(errors)
    return [float(w) for w in np.linalg.lstsq(r, e, rcond=None)[0]] if len(r) else [0.0, 0.0]


def build_factor_model(tables: svdpp.FactorTables, recency_weights=(0.0, 0.0)) -> keras.Model:
    """Mean of the two members' mu + b_u + b_m + u_eff . q_m (each clipped to the rating
    scale), from the trained tables, plus recency_weights . the row's readable_residuals
    against the same tables (in the graph)."""
    def table(name, values):
        values = np.asarray(values, np.float32).reshape(len(values), -1)
        return keras.layers.Embedding(values.shape[0], values.shape[1], name=name, trainable=False,
                                      embeddings_initializer=keras.initializers.Constant(values))

    user_bias, movie_bias = table("user_bias", tables.user_bias), table("movie_bias", tables.movie_bias)
    user_vectors, movie_vectors = table("user_vectors", tables.user_vectors), table("movie_vectors",
                                                                                   tables.movie_vectors)
    inputs = {name: keras.Input(shape=(), dtype=tf.int64, name=name)
              for name in (F.USER_IDX.format(side="a"), F.USER_IDX.format(side="b"), F.MOVIE_IDX)}
    slots = [(F.HIST_IDX, F.HIST_RATING, F.HIST_MASK, F.HISTORY_LENGTH),
             (F.RECENT_IDX, F.RECENT_RATING, F.RECENT_MASK, F.RECENT_LENGTH)]
    for side in F.SIDES:
        for idx, rating_name, mask_name, length in slots:
            inputs[idx.format(side=side)] = keras.Input(shape=(length,), dtype=tf.int64, name=idx.format(side=side))
            for name in (rating_name, mask_name):
                inputs[name.format(side=side)] = keras.Input(shape=(length,), dtype=tf.float32,
                                                            name=name.format(side=side))
    inputs[F.RATER_IDX] = keras.Input(shape=(F.RECENT_LENGTH,), dtype=tf.int64, name=F.RATER_IDX)
    for name in (F.RATER_RATING, F.RATER_MASK):
        inputs[name] = keras.Input(shape=(F.RECENT_LENGTH,), dtype=tf.float32, name=name)
    mean = FixedScalar(tables.mu, variable="mu", name="global_mean")
    clip = ClipToScale(tables.rating_min, name=svdpp.RATING_FLOOR_LAYER)

    def rating(user, movie):
        """user and movie [batch], or one of them [batch, slots] -> clipped predictions of that shape."""
        u, ub, q, mb = user_vectors(user), user_bias(user)[..., 0], movie_vectors(movie), movie_bias(movie)[..., 0]
        if len(movie.shape) > len(user.shape):
            u, ub = u[:, None], ub[:, None]
        if len(user.shape) > len(movie.shape):
            q, mb = q[:, None], mb[:, None]
        return clip(mean(ub + mb + tf.reduce_sum(u * q, axis=-1)))   # as scikit-surprise does

    movie = inputs[F.MOVIE_IDX]
    users = {side: inputs[F.USER_IDX.format(side=side)] for side in F.SIDES}
    members = [rating(users[side], movie) for side in F.SIDES]
    other = tf.cast(tf.not_equal(users["a"], users["b"]), tf.float32)     # 0 for a single person
    total = count = 0.0
    for side, weight in (("a", 1.0), ("b", other)):
        hist, recent = inputs[F.HIST_IDX.format(side=side)], inputs[F.RECENT_IDX.format(side=side)]
        recent_mask = inputs[F.RECENT_MASK.format(side=side)]
        repeated = tf.reduce_any(tf.equal(hist[:, :, None], recent[:, None, :]) & (recent_mask[:, None, :] > 0), -1)
        masks = (inputs[F.HIST_MASK.format(side=side)] * (1.0 - tf.cast(repeated, tf.float32)), recent_mask)
        for (idx, rating_name, _, _), mask in zip(slots, masks):
            residual = inputs[rating_name.format(side=side)] - rating(users[side], inputs[idx.format(side=side)])
            total += weight * tf.reduce_sum(residual * mask, -1)
            count += weight * tf.reduce_sum(mask, -1)
    members_recent = tf.where(count > 0, total / tf.maximum(count, 1.0), 0.0)
    mask = inputs[F.RATER_MASK]
    received = tf.reduce_sum((inputs[F.RATER_RATING] - rating(inputs[F.RATER_IDX], movie)) * mask, -1)
    raters = tf.reduce_sum(mask, -1)
    movie_recent = tf.where(raters > 0, received / tf.maximum(raters, 1.0), 0.0)
    w_members, w_movie = (FixedScalar(w, variable="w", multiply=True, name=name)
                          for w, name in zip(recency_weights, ("recency_weight", "reception_weight")))
    return keras.Model(inputs=inputs, outputs=(members[0] + members[1]) / 2.0 + w_members(members_recent)
                       + w_movie(movie_recent))


class ClipToScale(keras.layers.Layer):
    """Ratings clipped to [floor, F.RATING_MAX], the floor (the data's scale: 1, or 0.5 with
    half stars) kept as a named variable so that the Trainer reads it (svdpp.load_tables)."""

    def __init__(self, floor: float = F.RATING_MIN, **kwargs):
        super().__init__(**kwargs)
        self.floor_value = float(floor)

    def build(self, input_shape):
        self.floor = self.add_weight(name="floor", shape=(), trainable=False,
                                     initializer=keras.initializers.Constant(self.floor_value))

    def call(self, x):
        return tf.clip_by_value(x, self.floor, F.RATING_MAX)

    def get_config(self):
        return {**super().get_config(), "floor": self.floor_value}


class FixedScalar(keras.layers.Layer):
    """One non-trainable scalar, kept as a named variable so that other Trainers can read it
    (the global mean: `global_mean/mu`), added to the input or multiplying it."""

    def __init__(self, value: float = 0.0, variable: str = "value", multiply: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.value, self.variable, self.multiply = float(value), variable, multiply

    def build(self, input_shape):
        self.scalar = self.add_weight(name=self.variable, shape=(), trainable=False,
                                      initializer=keras.initializers.Constant(self.value))

    def call(self, x):
        return x * self.scalar if self.multiply else x + self.scalar

    def get_config(self):
        return {**super().get_config(), "value": self.value, "variable": self.variable, "multiply": self.multiply}
