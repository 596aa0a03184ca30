"""The model's second task: what the pair will watch next, beside how they would rate it.

A multi-task head on the embeddings the rating towers share (hparams.watch_weight > 0):
each member's query is a dense layer over their user embedding and the mean embedding of
their window's movies, the pair's query the sum of its members' (symmetric; (A, A) is one
person); its score for a movie is the log-probability of a softmax over the whole movie
vocabulary (a full softmax: the vocabulary is a few thousand movies, so no sampling and no
sampling bias to correct). The row's own target is the positive: for a pair row, a movie
both members went on to watch. The training loss adds watch_weight times its mean negative
log-likelihood to the rating's squared error.

The model's output stays the rating (TFMA, the gate and TF Serving's `serving_default` see
no change); `scoring_model` exposes the target movie's log-probability beside it, which the
signatures return as `pair_watch` and the pair ranker weighs (its weight chosen on eval,
serving/ranking.py).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from transform_fn import features as F

WATCH_LAYER = "watch_head"


class WatchHead(keras.layers.Layer):
    """(pair query [batch, d], target movie [batch]) -> log p(target | pair) [batch]."""

    def __init__(self, movie_table: keras.layers.Embedding, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.movie_table = movie_table
        self.item = keras.layers.Dense(dim, name="watch_item")

    def build(self, input_shape):
        self.movie_bias = self.add_weight(name="watch_movie_bias", shape=(self.movie_table.input_dim,),
                                          initializer="zeros", trainable=True)
        super().build(input_shape)

    def log_probabilities(self, query: tf.Tensor) -> tf.Tensor:
        """[batch, movie vocabulary rows]: the softmax over every movie, padding row included."""
        items = self.item(self.movie_table.embeddings)
        return tf.nn.log_softmax(tf.matmul(query, items, transpose_b=True) + self.movie_bias)

    def call(self, query: tf.Tensor, movie: tf.Tensor) -> tf.Tensor:
        return tf.gather(self.log_probabilities(query), movie, batch_dims=1)


class WithWatchLoss(keras.layers.Layer):
    """(rating, watch) -> the rating unchanged, adding `weight` x the batch mean negative
    log-likelihood of the watch task to the model's losses: what puts the head in the
    rating model's graph, so that one model trains both tasks."""

    def __init__(self, weight: float, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)

    def call(self, rating: tf.Tensor, watch: tf.Tensor) -> tf.Tensor:
        self.add_loss(-self.weight * tf.reduce_mean(watch))
        return rating


def member_query(enc, dense: keras.layers.Dense, inputs, side: str) -> tf.Tensor:
    """A member's query: their user embedding and the mean embedding of their window's movies."""
    history = inputs[F.HIST_IDX.format(side=side)]
    mask = inputs[F.HIST_MASK.format(side=side)][..., None]
    mean = tf.reduce_sum(enc.movie(history) * mask, axis=1) / (tf.reduce_sum(mask, axis=1) + 1e-6)
    return dense(keras.layers.concatenate([enc.user(inputs[F.USER_IDX.format(side=side)]), mean]))


def with_watch_task(rating: tf.Tensor, enc, inputs, dim: int, weight: float) -> tf.Tensor:
    """The rating output with the watch task attached: log p(the row's target | the pair)
    through one WatchHead, its loss weighted by `weight`."""
    dense = keras.layers.Dense(dim, name="watch_query")
    query = member_query(enc, dense, inputs, "a") + member_query(enc, dense, inputs, "b")
    watch = WatchHead(enc.movie, dim, name=WATCH_LAYER)(query, inputs[F.MOVIE_IDX])
    return WithWatchLoss(weight, name="with_watch_loss")(rating, watch)


def scoring_model(model: keras.Model) -> keras.Model | None:
    """The trained model's layers with {"rating", "watch"} as outputs, for the signatures;
    None for a model without the watch head."""
    try:
        head = model.get_layer(WATCH_LAYER)
    except ValueError:
        return None
    return keras.Model(model.inputs, {"rating": model.output, "watch": head.output}, name="scoring_model")
