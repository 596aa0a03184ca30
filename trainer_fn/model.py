"""The two-user model, one function per block: encode inputs, attend, combine, predict.

Both users go through the same tower (shared weights). The tower embeds the user and
their demographics, and runs multi-head self-attention over the user's history with the
target movie appended, so the history is read in view of the movie being rated; padded
history slots are masked out of the attention. The two tower outputs are combined with
symmetric operations (sum and element-wise product), so the prediction for (A, B)
equals the prediction for (B, A), and (A, A) is a single-user prediction.
"""

from __future__ import annotations

import tf_keras as keras
import tensorflow as tf

from trainer_fn.hparams import HParams
from transform_fn import features as F


def model_inputs() -> dict[str, keras.Input]:
    """Keras inputs named as the transformed features."""
    inputs = {}
    for side in F.SIDES:
        for name in (F.USER_IDX, F.SEX_IDX, F.AGE_IDX, F.OCCUPATION_IDX):
            inputs[name.format(side=side)] = keras.Input(shape=(), dtype=tf.int64, name=name.format(side=side))
        inputs[F.HIST_IDX.format(side=side)] = keras.Input(
            shape=(F.HISTORY_LENGTH,), dtype=tf.int64, name=F.HIST_IDX.format(side=side))
        for name in (F.HIST_RATING, F.HIST_MASK):
            inputs[name.format(side=side)] = keras.Input(
                shape=(F.HISTORY_LENGTH,), dtype=tf.float32, name=name.format(side=side))
    for name in (F.MOVIE_IDX, F.DIRECTOR_IDX):
        inputs[name] = keras.Input(shape=(), dtype=tf.int64, name=name)
    inputs[F.GENRE_IDX] = keras.Input(shape=(F.MAX_GENRES,), dtype=tf.int64, name=F.GENRE_IDX)
    inputs[F.ACTOR_IDX] = keras.Input(shape=(F.MAX_ACTORS,), dtype=tf.int64, name=F.ACTOR_IDX)
    for name in (F.YEAR_Z, F.RUNTIME_Z, F.RUNTIME_KNOWN, F.IMDB_RATING_Z, F.IMDB_VOTES_Z, F.IMDB_KNOWN):
        inputs[name] = keras.Input(shape=(), dtype=tf.float32, name=name)
    return inputs


class _Encoders:
    """The shared embedding tables: one per entity, sized from the Transform vocabularies."""

    def __init__(self, sizes: dict[str, int], dim: int, l2: float):
        def table(name, vocab, width=dim):
            return keras.layers.Embedding(F.embedding_rows(sizes[vocab]), width, name=name,
                                          embeddings_regularizer=keras.regularizers.l2(l2) if l2 else None)

        self.user = table("user_embedding", F.USER_VOCAB)
        self.movie = table("movie_embedding", F.MOVIE_VOCAB)
        self.genre = table("genre_embedding", F.GENRE_VOCAB, dim // 2)
        self.director = table("director_embedding", F.DIRECTOR_VOCAB, dim // 2)
        self.actor = table("actor_embedding", F.ACTOR_VOCAB, dim // 2)
        self.sex = table("sex_embedding", F.SEX_VOCAB, 2)
        self.age = table("age_embedding", F.AGE_VOCAB, 4)
        self.occupation = table("occupation_embedding", F.OCCUPATION_VOCAB, 6)
        self.movie_dense = keras.layers.Dense(dim, name="movie_features")
        self.history_item = keras.layers.Dense(dim, name="history_item")
        self.position = keras.layers.Embedding(F.SEQUENCE_LENGTH, dim, name="position_embedding")


def _mean_of_present(table, ids: tf.Tensor) -> tf.Tensor:
    """Mean embedding of the non-padding (non-zero) ids of each row; zeros if none."""
    mask = tf.cast(tf.not_equal(ids, 0), tf.float32)[..., None]
    return tf.reduce_sum(table(ids) * mask, axis=1) / (tf.reduce_sum(mask, axis=1) + 1e-6)


def encode_movie(enc: _Encoders, inputs) -> tf.Tensor:
    """Target movie: id, genres, director, lead actors, year, runtime, IMDb rating and votes."""
    numeric = tf.stack([inputs[name] for name in (F.YEAR_Z, F.RUNTIME_Z, F.RUNTIME_KNOWN, F.IMDB_RATING_Z,
                                                  F.IMDB_VOTES_Z, F.IMDB_KNOWN)], axis=-1)
    parts = [enc.movie(inputs[F.MOVIE_IDX]), _mean_of_present(enc.genre, inputs[F.GENRE_IDX]),
             enc.director(inputs[F.DIRECTOR_IDX]), _mean_of_present(enc.actor, inputs[F.ACTOR_IDX]), numeric]
    return enc.movie_dense(keras.layers.concatenate(parts))


def attend_history(enc: _Encoders, attention, norm, inputs, side: str, target: tf.Tensor) -> tf.Tensor:
    """Self-attention over [history..., target]; padded slots masked; residual + layer norm."""
    ratings = inputs[F.HIST_RATING.format(side=side)][..., None]
    items = enc.history_item(keras.layers.concatenate(
        [enc.movie(inputs[F.HIST_IDX.format(side=side)]), ratings / 5.0]))
    sequence = tf.concat([items, target[:, None, :]], axis=1)
    sequence = sequence + enc.position(tf.range(F.SEQUENCE_LENGTH))[None, :, :]
    mask = tf.concat([inputs[F.HIST_MASK.format(side=side)],
                      tf.ones_like(inputs[F.HIST_MASK.format(side=side)][:, :1])], axis=1)
    attention_mask = tf.cast(mask[:, None, :] * mask[:, :, None], tf.bool)
    attended = attention(sequence, sequence, attention_mask=attention_mask)
    out = norm(sequence + attended)
    out = out * mask[..., None]
    return tf.reshape(out, [-1, F.SEQUENCE_LENGTH * out.shape[-1]])


def user_tower(enc: _Encoders, attention, norm, inputs, side: str, target: tf.Tensor) -> tf.Tensor:
    return keras.layers.concatenate([
        enc.user(inputs[F.USER_IDX.format(side=side)]),
        enc.sex(inputs[F.SEX_IDX.format(side=side)]),
        enc.age(inputs[F.AGE_IDX.format(side=side)]),
        enc.occupation(inputs[F.OCCUPATION_IDX.format(side=side)]),
        attend_history(enc, attention, norm, inputs, side, target),
    ])


def pair_biases(inputs, sizes: dict[str, int], hp: HParams) -> tf.Tensor:
    """The classic rating biases, kept explicit beside the deep part: the mean of the two
    users' biases plus the target movie's bias (symmetric in A and B)."""
    reg = keras.regularizers.l2(hp.bias_l2) if hp.bias_l2 else None
    user_bias = keras.layers.Embedding(F.embedding_rows(sizes[F.USER_VOCAB]), 1, embeddings_initializer="zeros",
                                       embeddings_regularizer=reg, name="user_bias")
    movie_bias = keras.layers.Embedding(F.embedding_rows(sizes[F.MOVIE_VOCAB]), 1, embeddings_initializer="zeros",
                                        embeddings_regularizer=reg, name="movie_bias")
    users = (user_bias(inputs[F.USER_IDX.format(side="a")]) + user_bias(inputs[F.USER_IDX.format(side="b")])) / 2
    return tf.squeeze(users + movie_bias(inputs[F.MOVIE_IDX]), axis=-1)


def build_model(sizes: dict[str, int], hp: HParams, label_mean: float) -> keras.Model:
    """sizes: vocabulary sizes by vocabulary name; label_mean: the output's starting bias."""
    inputs = model_inputs()
    enc = _Encoders(sizes, hp.embedding_dim, hp.embedding_l2)
    attention = keras.layers.MultiHeadAttention(
        num_heads=hp.attention_heads, key_dim=hp.embedding_dim, dropout=hp.dropout, name="history_attention")
    norm = keras.layers.LayerNormalization(name="history_norm")

    target = encode_movie(enc, inputs)
    a = user_tower(enc, attention, norm, inputs, "a", target)
    b = user_tower(enc, attention, norm, inputs, "b", target)
    x = keras.layers.concatenate([a + b, a * b, target], name="pair")
    for i, units in enumerate(hp.hidden_units):
        x = keras.layers.Dense(units, name=f"dense_{i}",
                               kernel_regularizer=keras.regularizers.l2(hp.dense_l2) if hp.dense_l2 else None)(x)
        x = keras.layers.LeakyReLU(name=f"leaky_relu_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.Dropout(hp.dropout, name=f"dropout_{i}")(x)
    deep = tf.squeeze(keras.layers.Dense(1, name="deep_rating")(x), axis=-1)
    model = keras.Model(inputs=inputs, outputs=label_mean + pair_biases(inputs, sizes, hp) + deep)
    model.compile(optimizer=keras.optimizers.Adagrad(learning_rate=hp.learning_rate),
                  loss="mse", metrics=[keras.metrics.MeanAbsoluteError(name="mae"),
                                       keras.metrics.RootMeanSquaredError(name="rmse")])
    return model
