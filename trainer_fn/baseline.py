"""TFX Trainer module for the baseline: matrix factorisation with user and movie biases.

The spec's earlier approach, trained on the same transformed train split as the
attention model. For a pair (A, B) it predicts the mean of the two users' predicted
ratings, r(u, m) = mu + b_u + b_m + p_u . q_m, so (A, A) is plain rating prediction and
the prediction is symmetric in A and B. factors = 0 gives the biases-only baseline.
It is saved with the same serving signature as the attention model, so TFMA, TF Serving
and the recommender treat both alike.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx

from trainer_fn.hparams import BaselineParams
from trainer_fn.progress import EpochProgress
from trainer_fn.run import dataset, label_mean, save
from transform_fn import features as F


def build_mf_model(n_users: int, n_movies: int, p: BaselineParams, mean: float) -> keras.Model:
    reg = keras.regularizers.l2(p.l2)
    user_bias = keras.layers.Embedding(n_users, 1, embeddings_initializer="zeros", embeddings_regularizer=reg,
                                       name="user_bias")
    movie_bias = keras.layers.Embedding(n_movies, 1, embeddings_initializer="zeros", embeddings_regularizer=reg,
                                        name="movie_bias")
    inputs = {name: keras.Input(shape=(), dtype=tf.int64, name=name)
              for name in (F.USER_IDX.format(side="a"), F.USER_IDX.format(side="b"), F.MOVIE_IDX)}
    movie = inputs[F.MOVIE_IDX]
    per_user = []
    for side in F.SIDES:
        user = inputs[F.USER_IDX.format(side=side)]
        score = user_bias(user)[:, 0] + movie_bias(movie)[:, 0]
        per_user.append(score)
    rating = mean + (per_user[0] + per_user[1]) / 2.0
    if p.factors:
        user_factors = keras.layers.Embedding(n_users, p.factors, embeddings_regularizer=reg, name="user_factors",
                                              embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05))
        movie_factors = keras.layers.Embedding(n_movies, p.factors, embeddings_regularizer=reg, name="movie_factors",
                                               embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05))
        q = movie_factors(movie)
        dots = [tf.reduce_sum(user_factors(inputs[F.USER_IDX.format(side=side)]) * q, axis=-1) for side in F.SIDES]
        rating = rating + (dots[0] + dots[1]) / 2.0
    model = keras.Model(inputs=inputs, outputs=rating)
    model.compile(optimizer=keras.optimizers.Adam(p.learning_rate), loss="mse",
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    return model


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    p = BaselineParams.from_dict((fn_args.custom_config or {}).get("baseline"))
    keras.utils.set_random_seed(p.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    train = dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, p.batch_size, True, p.seed)
    evaluate = dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, 4096, False, p.seed)
    mean = label_mean(dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, 4096, False, p.seed))
    n_users = F.embedding_rows(tf_transform_output.vocabulary_size_by_name(F.USER_VOCAB))
    n_movies = F.embedding_rows(tf_transform_output.vocabulary_size_by_name(F.MOVIE_VOCAB))
    model = build_mf_model(n_users, n_movies, p, mean)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=p.patience, restore_best_weights=True)
    history = model.fit(train, validation_data=evaluate, epochs=p.epochs, callbacks=[stop, EpochProgress()], verbose=2)
    save(model, tf_transform_output, fn_args, history, {"hparams": dataclasses.asdict(p)})
