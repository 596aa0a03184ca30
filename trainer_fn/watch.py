"""The model's second task: what the pair will watch next, beside how they would rate it.

A second head of the same model on the same inputs (hparams.watch_dim > 0): each member's
query is a dense layer over their user vector and the mean vector of their window's
movies, the pair's query the sum of its members' (symmetric; (A, A) is one person); its
score for a movie is the log-probability of a softmax over the whole movie vocabulary (a
full softmax: the vocabulary is a few thousand movies, so no sampling and no sampling bias
to correct). The row's own target is the positive: for a pair row, a movie both members
went on to watch.

The head has its own user and movie tables of width watch_dim. It trains in the Trainer's
fit beside the rating (its loss, the mean negative log-likelihood, added to the squared
error), then alone for up to watch_epochs more epochs, every other layer frozen, early
stopped on the eval rows' loss (run.train_watch_task). Sharing the rating's 8-dimensional
embeddings instead (the first version) left it at popularity's level: early stopping
keeps the rating's best epoch, mostly the first, so the task had trained one epoch. With
its own tables the rating is the same whatever the head learns.

The model's output stays the rating (TFMA, the gate and TF Serving's `serving_default` see
no change). For serving, `scoring_model` gives the rating before the loss layer and the
movie's logit (q . e_m + b_m: its log-probability up to the softmax's normaliser, which is
the same for every movie of one pair, so a pair's movies rank alike by either) without
computing the softmax over the vocabulary; the signatures return it as `pair_watch` and the
pair ranker weighs it (its weight chosen on eval, serving/ranking.py).
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from transform_fn import features as F

WATCH_LAYER = "watch_head"
LOSS_LAYER = "with_watch_loss"
WATCH_LAYERS = ("watch_user_embedding", "watch_movie_embedding", "watch_query", WATCH_LAYER)


class WatchHead(keras.layers.Layer):
    """(pair query [batch, d], target movie [batch]) -> log p(target | pair) [batch]."""

    def __init__(self, movie_table: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.movie_table = movie_table

    def build(self, input_shape):
        self.movie_bias = self.add_weight(name="watch_movie_bias", shape=(self.movie_table.input_dim,),
                                          initializer="zeros", trainable=True)
        super().build(input_shape)

    def log_probabilities(self, query: tf.Tensor) -> tf.Tensor:
        """[batch, movie vocabulary rows]: the softmax over every movie, padding row included."""
        logits = tf.matmul(query, self.movie_table.embeddings, transpose_b=True) + self.movie_bias
        return tf.nn.log_softmax(logits)

    def call(self, query: tf.Tensor, movie: tf.Tensor) -> tf.Tensor:
        return tf.gather(self.log_probabilities(query), movie, batch_dims=1)


class WatchLogit(keras.layers.Layer):
    """(pair query, movie) -> the head's logit for that movie alone: q . e_m + b_m [batch]."""

    def __init__(self, head: WatchHead, **kwargs):
        super().__init__(**kwargs)
        self.head = head

    def call(self, query: tf.Tensor, movie: tf.Tensor) -> tf.Tensor:
        items = tf.gather(self.head.movie_table.embeddings, movie)
        return tf.reduce_sum(query * items, -1) + tf.gather(self.head.movie_bias, movie)


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


def member_query(users, movies, dense: keras.layers.Dense, inputs, side: str) -> tf.Tensor:
    """A member's query: their user vector and the mean vector of their window's movies."""
    history = inputs[F.HIST_IDX.format(side=side)]
    mask = inputs[F.HIST_MASK.format(side=side)][..., None]
    mean = tf.reduce_sum(movies(history) * mask, axis=1) / (tf.reduce_sum(mask, axis=1) + 1e-6)
    return dense(keras.layers.concatenate([users(inputs[F.USER_IDX.format(side=side)]), mean]))


def with_watch_task(rating: tf.Tensor, sizes: dict[str, int], inputs, dim: int, weight: float) -> tf.Tensor:
    """The rating output with the watch task attached: log p(the row's target | the pair)
    through one WatchHead on tables of its own, its loss weighted by `weight`."""
    users = keras.layers.Embedding(F.embedding_rows(sizes[F.USER_VOCAB]), dim, name=WATCH_LAYERS[0])
    movies = keras.layers.Embedding(F.embedding_rows(sizes[F.MOVIE_VOCAB]), dim, name=WATCH_LAYERS[1])
    dense = keras.layers.Dense(dim, name=WATCH_LAYERS[2])
    query = member_query(users, movies, dense, inputs, "a") + member_query(users, movies, dense, inputs, "b")
    watch = WatchHead(movies, name=WATCH_LAYER)(query, inputs[F.MOVIE_IDX])
    return WithWatchLoss(weight, name=LOSS_LAYER)(rating, watch)


def rating_output(model: keras.Model) -> tf.Tensor:
    """The model's rating tensor before the watch task's loss layer (the same values, without
    the softmax the loss needs); the model's output where it has no watch task."""
    try:
        return model.get_layer(LOSS_LAYER).inbound_nodes[0].call_args[0]
    except ValueError:
        return model.output


def scoring_model(model: keras.Model) -> keras.Model | None:
    """The trained model's layers with {"rating", "watch": the target movie's logit} as
    outputs, for the signatures; None for a model without the watch head."""
    try:
        head = model.get_layer(WATCH_LAYER)
    except ValueError:
        return None
    query, movie = head.inbound_nodes[0].call_args
    logit = WatchLogit(head, name="watch_logit")(query, movie)
    return keras.Model(model.inputs, {"rating": rating_output(model), "watch": logit}, name="scoring_model")
