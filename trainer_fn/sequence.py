"""What each member watches next, read from their sequence: a SASRec-style next-movie model.

Each person is the sequence of the movies they rated, oldest first (by time, then movie id:
a same-second burst has no true order). The model reads the last `sequence_length` of them
(left-padded, so that a position embedding says how recent a movie is), through
`sequence_blocks` pre-norm blocks of causal multi-head self-attention and a feed-forward
layer, and gives at every position log p(next movie | the movies so far): a full softmax over
the movie vocabulary (a few thousand rows: no sampling, no sampling bias to correct), the
output layer tied to the input movie table plus a bias per movie. With `attention_heads` 0
each block's attention is a causal mean over the positions so far instead (the ablation:
the same movies, no attention, no order beyond the position embeddings).

It trains on every train-period rating of every user (trainer_fn/known_ratings.py reads them
from ratings_by_split.csv, not only the ratings that reach a window row): each sequence cut
into right-aligned windows of sequence_length + 1, a random offset each epoch, the next
movie predicted at every position; early stopped on eval NDCG@10 (eval-period targets rated
>= 4, ranked among every movie the user had not rated before the target's second, the
history every rating before that second), the best epoch kept. It is not refitted on train +
eval: the pair ranker's weight for it is chosen on eval rows (serving/ranking.py), where a
model that had learnt the eval ratings would look better than it is. Served, it reads the
eval and test periods' ratings as inputs, as the service reads everyone's latest ratings.

A pair's score for a movie is the sum of its members' log-probabilities (log p(A watches it)
+ log p(B watches it): both, if independent); one person is the pair (A, A), scored once.
The model is exported in the SavedModel's `watch_next` signature (trainer_fn/signatures.py):
one '|'-joined history string per member in, log p(movie | history) for every movie of the
vocabulary out, so the service, the RankingEvaluator and TF Serving score with one graph.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

NEG = -1e9
K = 10


class CausalMean(keras.layers.Layer):
    """The attention's stand-in with attention_heads 0: position t's output is the mean of the
    (valid) inputs at positions <= t."""

    def call(self, x, mask):
        m = tf.cast(mask, x.dtype)[..., None]
        return tf.cumsum(x * m, axis=1) / tf.maximum(tf.cumsum(m, axis=1), 1.0)


class Block(keras.layers.Layer):
    """Pre-norm causal self-attention (or the causal mean) and a feed-forward layer, each with
    a residual connection; padded positions stay zero."""

    def __init__(self, dim: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.mix = (keras.layers.MultiHeadAttention(num_heads=heads, key_dim=max(1, dim // heads), dropout=dropout)
                    if heads > 0 else CausalMean())
        self.hidden = keras.layers.Dense(dim, activation="relu")
        self.out = keras.layers.Dense(dim)
        self.drop = keras.layers.Dropout(dropout)

    def call(self, x, mask, training=False, last_only=False):
        """last_only: the output at the last position only ([batch, 1, dim]), which reads every
        position: what the next movie after the whole sequence needs from the last block."""
        h = self.norm1(x)
        if isinstance(self.mix, CausalMean):
            a = self.mix(h, mask)[:, -1:] if last_only else self.mix(h, mask)
        elif last_only:
            a = self.mix(h[:, -1:], h, attention_mask=mask[:, None, :], training=training)
        else:
            length = tf.shape(x)[1]
            causal = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
            allowed = tf.logical_and(causal[None], mask[:, None, :])
            a = self.mix(h, h, attention_mask=allowed, training=training)
        if last_only:
            x, mask = x[:, -1:], mask[:, -1:]
        x = x + self.drop(a, training=training)
        x = x + self.drop(self.out(self.hidden(self.norm2(x))), training=training)
        return x * tf.cast(mask, x.dtype)[..., None]


class SequenceModel(keras.Model):
    """[batch, length] movie rows (0 = padding, left-padded; vocabulary index + 1; the last
    row of the table the out-of-vocabulary bucket) -> logits [batch, length, rows] of the next
    movie at every position, padding and out-of-vocabulary rows at -1e9."""

    def __init__(self, rows: int, length: int, dim: int, blocks: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.rows, self.length, self.dim = rows, length, dim
        self.movies = keras.layers.Embedding(rows, dim, name="sequence_movie_embedding")
        self.positions = keras.layers.Embedding(length, dim, name="sequence_position_embedding")
        self.blocks = [Block(dim, heads, dropout, name=f"sequence_block_{i}") for i in range(blocks)]
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop = keras.layers.Dropout(dropout)
        self.movie_bias = self.add_weight(name="sequence_movie_bias", shape=(rows,), initializer="zeros")
        self.invalid = tf.constant(np.isin(np.arange(rows), [0, rows - 1]))    # padding, out of vocabulary

    def encode(self, seq, training=False, last_only=False):
        """[batch, length, dim]; last_only: [batch, 1, dim], the last position's alone (the
        last block computes its queries and feed-forward layer there only)."""
        mask = seq > 0
        x = self.movies(seq) * math.sqrt(self.dim) + self.positions(tf.range(tf.shape(seq)[1]))[None]
        x = self.drop(x, training=training) * tf.cast(mask, tf.float32)[..., None]
        for i, block in enumerate(self.blocks):
            x = block(x, mask, training=training, last_only=last_only and i == len(self.blocks) - 1)
        return self.norm(x)

    def logits_of(self, h):
        logits = tf.linalg.matmul(h, self.movies.embeddings, transpose_b=True) + self.movie_bias
        return tf.where(self.invalid, tf.cast(NEG, logits.dtype), logits)

    def call(self, seq, training=False):
        return self.logits_of(self.encode(seq, training=training))

    def last_log_probabilities(self, seq):
        """log p(next movie | the whole sequence) [batch, rows] (the last position's)."""
        return tf.nn.log_softmax(self.logits_of(self.encode(seq, last_only=True)[:, -1, :]))


def build(rows: int, hp) -> SequenceModel:
    model = SequenceModel(rows, hp.sequence_length, hp.sequence_dim, hp.sequence_blocks, hp.attention_heads,
                          hp.sequence_dropout, name="sequence_model")
    model(tf.zeros([1, hp.sequence_length], tf.int64))
    return model


def left_padded(sequences, length: int) -> np.ndarray:
    """The last `length` items of each sequence, right-aligned, 0 before them."""
    out = np.zeros((len(sequences), length), np.int64)
    for i, s in enumerate(sequences):
        s = np.asarray(s, np.int64)[-length:] if length else np.zeros(0, np.int64)
        if len(s):
            out[i, length - len(s):] = s
    return out


def windows(sequences, length: int, rng: np.random.Generator) -> np.ndarray:
    """[windows, length + 1] right-aligned cuts of every sequence: the last one ends at the
    sequence's end, the others every `length` items before a random offset, so that every
    item but each sequence's first is a target at least once an epoch."""
    cuts = []
    for s in sequences:
        n = len(s)
        if n < 2:
            continue
        ends = {n}
        end = n - int(rng.integers(0, length))
        while end >= 2:
            ends.add(end)
            end -= length
        cuts.extend(s[max(0, e - length - 1):e] for e in sorted(ends))
    return left_padded(cuts, length + 1)


@dataclasses.dataclass
class Cases:
    """Eval cases: each history (row indices, oldest first, before the target's second), the
    target's row and the rows the person had rated by then (never ranked)."""
    histories: list
    targets: np.ndarray
    seen: list


def ranks(model: SequenceModel, cases: Cases, batch: int = 512) -> np.ndarray:
    """The target's 1-based rank per case among the rows not seen (ties in its favour)."""
    out = []
    for i in range(0, len(cases.targets), batch):
        seq = left_padded(cases.histories[i:i + batch], model.length)
        scores = model.last_log_probabilities(tf.constant(seq)).numpy()
        for j, (target, seen) in enumerate(zip(cases.targets[i:i + batch], cases.seen[i:i + batch])):
            row = scores[j]
            target_score = row[target]
            row[np.asarray(list(seen), np.int64)] = -np.inf
            row[target] = target_score
            out.append(1 + int(np.sum(row > target_score)))
    return np.asarray(out, float)


def ndcg(rank_values: np.ndarray, k: int = K) -> float:
    if not len(rank_values):
        return float("nan")
    return float(np.mean(np.where(rank_values <= k, 1.0 / np.log2(rank_values + 1.0), 0.0)))


def next_movie_loss(model: SequenceModel, window, training: bool = False):
    """The mean cross-entropy of the next movie over a batch of windows [batch, length + 1], at
    the positions with a real movie in and a real one out (a target outside the vocabulary, a
    movie that reached no Transform row, is never predicted). Only those positions' logits are
    computed: the full softmax is most of a training step, and padding is about 15% of the
    positions at ML-1M's size. The same loss as every position's logits with a mask."""
    inputs, targets = window[:, :-1], window[:, 1:]
    at = tf.where((inputs > 0) & (targets > 0) & (targets < model.rows - 1))
    logits = model.logits_of(tf.gather_nd(model.encode(inputs, training=training), at))
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.gather_nd(targets, at), logits=logits)
    return tf.reduce_sum(loss) / tf.maximum(tf.cast(tf.shape(at)[0], tf.float32), 1.0)


def fit(sequences, cases: Cases, rows: int, hp, log=print) -> tuple[SequenceModel, dict]:
    """The model trained on `sequences` (row indices, oldest first, one per user), early
    stopped on `cases`' NDCG@10 (patience hp.sequence_patience), the best epoch's weights kept."""
    keras.utils.set_random_seed(hp.seed)
    model = build(rows, hp)
    optimizer = keras.optimizers.Adam(learning_rate=hp.sequence_learning_rate)
    rng = np.random.default_rng(hp.seed)

    @tf.function(reduce_retracing=True)
    def step(window):
        with tf.GradientTape() as tape:
            loss = next_movie_loss(model, window, training=True)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    history = {"loss": [], "eval_ndcg@10": [], "seconds": []}
    best, best_weights, waited = -1.0, model.get_weights(), 0
    for epoch in range(hp.sequence_epochs):
        started = time.perf_counter()
        cut = windows(sequences, hp.sequence_length, rng)
        cut = cut[rng.permutation(len(cut))]
        losses = [float(step(tf.constant(cut[i:i + hp.sequence_batch])))
                  for i in range(0, len(cut), hp.sequence_batch)]
        score = ndcg(ranks(model, cases))
        history["loss"].append(float(np.mean(losses)) if losses else float("nan"))
        history["eval_ndcg@10"].append(score)
        history["seconds"].append(round(time.perf_counter() - started, 1))
        log(f"sequence model epoch {epoch + 1}/{hp.sequence_epochs}: loss {history['loss'][-1]:.4f}, "
            f"eval NDCG@10 {score:.4f} ({history['seconds'][-1]} s, {len(cut)} windows)")
        if score > best:
            best, best_weights, waited = score, model.get_weights(), 0
        else:
            waited += 1
            if waited >= hp.sequence_patience:
                break
    model.set_weights(best_weights)
    history.update(best_epoch=int(np.argmax(history["eval_ndcg@10"])) + 1 if history["eval_ndcg@10"] else 0,
                   best_eval_ndcg=best, eval_cases=len(cases.targets), users=len(sequences))
    return model, history
