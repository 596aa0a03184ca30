"""The two-user model, one function per block: encode inputs, attend, combine, predict.

Both users go through the same tower (shared weights). The tower embeds the user and
their demographics, and runs multi-head self-attention over the user's history with the
target movie appended, so the history is read in view of the movie being rated; padded
history slots are masked out of the attention. The two tower outputs are combined with
symmetric operations (sum and element-wise product), so the prediction for (A, B)
equals the prediction for (B, A), and (A, A) is a single-user prediction.

With `residual` on (the default) the model starts from the strong classical baseline
(SVD++, trained by the BaselineTrainer on the same split; its tables are frozen here) and
the deep part learns only the residual: what the recent window adds to a static factor
model. Each history slot carries its rating's residual against the baseline, the signal a
static model cannot see (the user's drift and current mood). The deep output starts at
zero, so before training the model is exactly the baseline. With `residual` off the model
learns everything itself from the label mean, as the seed's model did.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from trainer_fn.hparams import HParams
from trainer_fn.baseline.svdpp import FactorTables
from trainer_fn.neighbours import NEIGHBOUR_LAYER, NeighbourTerm, Neighbourhood, weights_of

from transform_fn import features as F

RECENCY_LAYER = "recency_correction"
ATTENTION_LAYER = "history_attention"
RECENT_ATTENTION_LAYER = "recent_attention"   # the target's attention over each member's recent slots
DEEP_LAYER = "deep_rating"
START_LAYER = "start_rating"     # the rating before the deep part: what is served when it is not kept
SECOND_PREFIX = "second"      # the second factor model's frozen tables (trainer_fn/als.py)


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
        inputs[F.RECENT_IDX.format(side=side)] = keras.Input(
            shape=(F.RECENT_LENGTH,), dtype=tf.int64, name=F.RECENT_IDX.format(side=side))
        for name in (F.RECENT_RATING, F.RECENT_MASK):
            inputs[name.format(side=side)] = keras.Input(
                shape=(F.RECENT_LENGTH,), dtype=tf.float32, name=name.format(side=side))
    inputs[F.RATER_IDX] = keras.Input(shape=(F.RECENT_LENGTH,), dtype=tf.int64, name=F.RATER_IDX)
    for name in (F.RATER_RATING, F.RATER_MASK):
        inputs[name] = keras.Input(shape=(F.RECENT_LENGTH,), dtype=tf.float32, name=name)
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
        self.target_item = keras.layers.Dense(dim, name="target_item")
        self.position = keras.layers.Embedding(F.SEQUENCE_LENGTH, dim, name="position_embedding")
        self.recent_item = keras.layers.Dense(dim, name="recent_item")
        self.recent_query = keras.layers.Dense(dim, name="recent_query")


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


def attend_history(enc: _Encoders, attention, norm, inputs, side: str, target: tf.Tensor,
                   extra_item_features: tf.Tensor | None = None) -> tf.Tensor:
    """Self-attention over [history..., target]; padded slots masked; residual + layer norm.
    extra_item_features: [batch, history, n] more per-slot inputs (the baseline's residuals)."""
    ratings = inputs[F.HIST_RATING.format(side=side)][..., None]
    parts = [enc.movie(inputs[F.HIST_IDX.format(side=side)]), ratings / 5.0]
    if extra_item_features is not None:
        parts.append(extra_item_features)
    items = enc.history_item(keras.layers.concatenate(parts))
    target = enc.target_item(target)
    sequence = tf.concat([items, target[:, None, :]], axis=1)
    sequence = sequence + enc.position(tf.range(F.SEQUENCE_LENGTH))[None, :, :]
    mask = tf.concat([inputs[F.HIST_MASK.format(side=side)],
                      tf.ones_like(inputs[F.HIST_MASK.format(side=side)][:, :1])], axis=1)
    attention_mask = tf.cast(mask[:, None, :] * mask[:, :, None], tf.bool)
    if attention is None:        # the ablation "attention off" (attention_heads 0): each slot on its own
        out = norm(sequence)
    else:
        # The scores are not used here; explaining_model reads them from this call's node.
        attended, _ = attention(sequence, sequence, attention_mask=attention_mask, return_attention_scores=True)
        out = norm(sequence + attended)
    out = out * mask[..., None]
    return tf.reshape(out, [-1, F.SEQUENCE_LENGTH * out.shape[-1]])


def user_tower(enc: _Encoders, attention, norm, inputs, side: str, target: tf.Tensor,
               extra_item_features: tf.Tensor | None = None) -> tf.Tensor:
    return keras.layers.concatenate([
        enc.user(inputs[F.USER_IDX.format(side=side)]),
        enc.sex(inputs[F.SEX_IDX.format(side=side)]),
        enc.age(inputs[F.AGE_IDX.format(side=side)]),
        enc.occupation(inputs[F.OCCUPATION_IDX.format(side=side)]),
        attend_history(enc, attention, norm, inputs, side, target, extra_item_features),
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


class FrozenBaseline:
    """The baseline's tables as non-trainable layers: r(u, m) = mu + b_u + b_m + u . q_m."""

    def __init__(self, tables: FactorTables, prefix: str = "baseline"):
        def table(name, values):
            values = np.asarray(values, np.float32).reshape(len(values), -1)
            return keras.layers.Embedding(values.shape[0], values.shape[1], name=f"{prefix}_{name}",
                                          trainable=False,
                                          embeddings_initializer=keras.initializers.Constant(values))

        self.mu = float(tables.mu)
        self.rating_min = float(tables.rating_min)     # the scale's floor: 1, or 0.5 with half stars
        self.user_bias, self.movie_bias = table("user_bias", tables.user_bias), table("movie_bias", tables.movie_bias)
        self.user_vectors = table("user_vectors", tables.user_vectors)
        self.movie_vectors = table("movie_vectors", tables.movie_vectors)

    def rating(self, users: tf.Tensor, movies: tf.Tensor) -> tf.Tensor:
        """users [batch] and movies [batch, ...] (a user's several movies), or users [batch, ...]
        and movies [batch] (a movie's several raters) -> predicted ratings [batch, ...]."""
        u, ub = self.user_vectors(users), self.user_bias(users)[..., 0]
        q, mb = self.movie_vectors(movies), self.movie_bias(movies)[..., 0]
        for _ in range(len(movies.shape) - len(users.shape)):
            u, ub = u[:, None], ub[:, None]
        for _ in range(len(users.shape) - len(movies.shape)):
            q, mb = q[:, None], mb[:, None]
        rating = self.mu + ub + mb + tf.reduce_sum(u * q, -1)
        return tf.clip_by_value(rating, self.rating_min, F.RATING_MAX)

    def similarity(self, movies: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        """Cosine of the factor vectors of movies [batch, n] and the target [batch]."""
        a = tf.math.l2_normalize(self.movie_vectors(movies), -1)
        b = tf.math.l2_normalize(self.movie_vectors(target), -1)[:, None, :]
        return tf.reduce_sum(a * b, -1)


def recent_residuals(base: FrozenBaseline, inputs, side: str) -> tf.Tensor:
    """Each recent slot's rating minus the baseline's prediction for it; 0 in padded slots."""
    users, movies = inputs[F.USER_IDX.format(side=side)], inputs[F.RECENT_IDX.format(side=side)]
    return (inputs[F.RECENT_RATING.format(side=side)] - base.rating(users, movies)) * inputs[F.RECENT_MASK.format(side=side)]


def recent_features(base: FrozenBaseline, inputs, recent: dict[str, tf.Tensor]) -> list[tf.Tensor]:
    """What the ratings the baseline has not learnt from say about the target, each [batch, 1]
    and symmetric in A and B (data/windows.py recent_ratings; zeros where there are none):

    - similar: the same residuals weighted by how like the target each movie is (its cosine
      with the target in the baseline's factors, squared, 0 below 0; sum over weights + 0.5):
      attention over the recent history by the target, in the baseline's geometry;
    - movie: the target movie's residuals over its recent raters (sum over n + 5): how it is
      received now.

    The members' plain drift since the fit (the shrunk mean of their recent residuals) was a
    third term until its weight on the tune slice came out 0 on ML-100K and at 0.3x and 1x of
    ML-1M's synthetic size, and 0.05 on the default data with no gain on the held slice
    (training histories' recency_terms, 2026-12-07): the fold-in's bias dimension reads the
    same drift. It is no longer computed.
    """
    movie = inputs[F.MOVIE_IDX]
    similar = []
    for side in F.SIDES:
        mask, movies, res = inputs[F.RECENT_MASK.format(side=side)], inputs[F.RECENT_IDX.format(side=side)], recent[side]
        weight = tf.square(tf.nn.relu(base.similarity(movies, movie))) * mask
        similar.append(tf.reduce_sum(weight * res, -1, keepdims=True)
                       / (tf.reduce_sum(weight, -1, keepdims=True) + 0.5))
    mask = inputs[F.RATER_MASK]
    res = (inputs[F.RATER_RATING] - base.rating(inputs[F.RATER_IDX], movie)) * mask
    received = tf.reduce_sum(res, -1, keepdims=True) / (tf.reduce_sum(mask, -1, keepdims=True) + 5.0)
    return [(similar[0] + similar[1]) / 2.0, received]


def neighbour_feature(inputs, hood: Neighbourhood, hp: HParams, history: dict[str, tf.Tensor],
                      recent: dict[str, tf.Tensor]) -> tf.Tensor:
    """[batch, 1]: the neighbourhood term (trainer_fn/neighbours.py) of each member over their
    fit-set profile and the row's window and recent slots (their residuals: history and
    recent, by side), averaged over the two members."""
    term = NeighbourTerm(len(hood.keys), hood.movies.shape[0], hood.movies.shape[1], hp.neighbour_alpha,
                         name=NEIGHBOUR_LAYER)
    movie, out = inputs[F.MOVIE_IDX], []
    for side in F.SIDES:
        slots = (inputs[F.HIST_IDX.format(side=side)], inputs[F.RECENT_IDX.format(side=side)])
        movies = tf.concat([tf.cast(m, tf.int64) for m in slots], 1)
        residuals = tf.concat([history[side], recent[side]], 1)
        mask = tf.concat([inputs[F.HIST_MASK.format(side=side)], inputs[F.RECENT_MASK.format(side=side)]], 1)
        out.append(term(inputs[F.USER_IDX.format(side=side)], movie, movies, residuals, mask))
    term.set_weights(weights_of(hood))
    return (out[0] + out[1]) / 2.0


def foldin_feature(base: FrozenBaseline, inputs, history: dict[str, tf.Tensor], recent: dict[str, tf.Tensor],
                   l2: float) -> tf.Tensor:
    """[batch, 1]: what a fold-in of the row's readable ratings into each member's factors says
    about the target, averaged over the two members. The member's (bias, vector) update is the
    ridge regression of their slots' residuals (window and recent, a window slot that is also
    recent counted once) on the slots' movie vectors, [q_j, 1] . d ~ e_j with penalty l2 |d|^2;
    the term is [q_t, 1] . d: the drift the ratings since the fit show, in the baseline's
    geometry (the "similar" term is its kernel cousin)."""
    movie, out = inputs[F.MOVIE_IDX], []
    for side in F.SIDES:
        hist, rec = inputs[F.HIST_IDX.format(side=side)], inputs[F.RECENT_IDX.format(side=side)]
        rec_mask = inputs[F.RECENT_MASK.format(side=side)]
        repeated = tf.reduce_max(tf.cast(tf.equal(hist[:, :, None], rec[:, None, :]), tf.float32)
                                 * rec_mask[:, None, :], -1)
        mask = tf.concat([inputs[F.HIST_MASK.format(side=side)] * (1.0 - repeated), rec_mask], 1)
        residuals = tf.concat([history[side], recent[side]], 1) * mask
        q = base.movie_vectors(tf.concat([hist, rec], 1))
        x = tf.concat([q, tf.ones_like(q[..., :1])], -1) * mask[..., None]                # [batch, n, k + 1]
        a = tf.matmul(x, x, transpose_a=True) + l2 * tf.eye(x.shape[-1])
        d = tf.linalg.solve(a, tf.matmul(x, residuals[..., None], transpose_a=True))      # [batch, k + 1, 1]
        qt = base.movie_vectors(movie)
        out.append(tf.reduce_sum(tf.concat([qt, tf.ones_like(qt[..., :1])], -1) * d[..., 0], -1, keepdims=True))
    return (out[0] + out[1]) / 2.0


def second_model_feature(base: FrozenBaseline, second: FrozenBaseline, inputs) -> tf.Tensor:
    """[batch, 1]: the second factor model's pair prediction minus the baseline's (trainer_fn/als.py)."""
    movie = inputs[F.MOVIE_IDX]
    diff = [second.rating(inputs[F.USER_IDX.format(side=side)], movie)
            - base.rating(inputs[F.USER_IDX.format(side=side)], movie) for side in F.SIDES]
    return (diff[0] + diff[1])[:, None] / 2.0


def history_residuals(base: FrozenBaseline, inputs, side: str) -> tf.Tensor:
    """Each history slot's rating minus the baseline's prediction for it; 0 in padded slots."""
    users, movies = inputs[F.USER_IDX.format(side=side)], inputs[F.HIST_IDX.format(side=side)]
    mask = inputs[F.HIST_MASK.format(side=side)]
    return (inputs[F.HIST_RATING.format(side=side)] - base.rating(users, movies)) * mask


def shrunk_mean(residuals: tf.Tensor, inputs, side: str) -> tf.Tensor:
    """[batch, 1]: the filled slots' residuals summed over (filled slots + 1), a shrunk mean."""
    mask = inputs[F.HIST_MASK.format(side=side)]
    return tf.reduce_sum(residuals, -1, keepdims=True) / (tf.reduce_sum(mask, -1, keepdims=True) + 1.0)


def attend_recent(enc: _Encoders, base: FrozenBaseline, attention, inputs, side: str, target: tf.Tensor,
                  residuals: tf.Tensor) -> tf.Tensor:
    """[batch, dim + 1]: the target movie attending over the member's recent slots (the ratings
    the row's baseline has not learnt from), each slot its movie (embedding and the baseline's
    factors), stars and residual against the baseline; and the attention-weighted mean
    residual. recent_features' "similar" term is one fixed form of this (weights relu(cos)^2 in
    the baseline's geometry); here the weights are learnt. Zeros where there are no slots."""
    movies, mask = inputs[F.RECENT_IDX.format(side=side)], inputs[F.RECENT_MASK.format(side=side)]
    items = enc.recent_item(keras.layers.concatenate([
        enc.movie(movies), base.movie_vectors(movies), inputs[F.RECENT_RATING.format(side=side)][..., None] / 5.0,
        residuals[..., None]]))
    query = enc.recent_query(target)[:, None, :]
    attended, scores = attention(query, items, attention_mask=tf.cast(mask[:, None, :], tf.bool),
                                 return_attention_scores=True)        # scores [batch, heads, 1, slots]
    weights = tf.reduce_mean(scores[:, :, 0, :], axis=1) * mask
    any_slot = tf.reduce_max(mask, -1, keepdims=True)
    pooled = tf.reduce_sum(weights * residuals, -1, keepdims=True) / (tf.reduce_sum(weights, -1, keepdims=True) + 1e-6)
    return keras.layers.concatenate([attended[:, 0, :], pooled]) * any_slot


def residual_tower(enc: _Encoders, base: FrozenBaseline, attention, norm, inputs, side: str,
                   target: tf.Tensor, residuals: tf.Tensor, mean_residual: tf.Tensor,
                   recent: tf.Tensor | None = None) -> tf.Tensor:
    """The user's tower with the baseline's view added: their factor vector and bias, the
    history's residuals (each slot, and their shrunk mean), and (recent: attend_recent's
    output) what the target's attention over their recent slots reads."""
    users = inputs[F.USER_IDX.format(side=side)]
    return keras.layers.concatenate([
        user_tower(enc, attention, norm, inputs, side, target, extra_item_features=residuals[..., None]),
        base.user_vectors(users), base.user_bias(users), residuals, mean_residual,
        *([recent] if recent is not None else [])])


def recency_term_names(hp: HParams, neighbourhood: bool, second: bool) -> list[str]:
    """The names of the recency layer's terms, in build_model's order (neighbourhood, second:
    whether the model was built with those parts)."""
    names = ["window drift"]
    if hp.recent:
        names += ["recent like the target", "the movie's recent raters"]
        if hp.neighbours > 0 and neighbourhood:
            names.append("neighbourhood")
        if hp.foldin_l2 > 0:
            names.append("fold-in")
        if hp.als_factors > 0 and second:
            names.append("second factor model")
    return names


def build_model(sizes: dict[str, int], hp: HParams, label_mean: float,
                baseline: FactorTables | None = None, neighbourhood: Neighbourhood | None = None,
                second: FactorTables | None = None) -> keras.Model:
    """sizes: vocabulary sizes by vocabulary name; label_mean: the output's starting bias
    without a baseline; baseline: the frozen tables the residual is learned over;
    neighbourhood: the baseline's fit set and nearest movies, for the neighbourhood term
    (with hp.recent and hp.neighbours > 0); second: the second factor model's tables, for its
    blend term (with hp.recent and hp.als_factors > 0)."""
    if hp.residual and baseline is None:
        raise ValueError("hparams.residual needs the baseline's tables")
    inputs = model_inputs()
    enc = _Encoders(sizes, hp.embedding_dim, hp.embedding_l2)
    attention = keras.layers.MultiHeadAttention(
        num_heads=hp.attention_heads, key_dim=hp.embedding_dim, dropout=hp.dropout,
        name=ATTENTION_LAYER) if hp.attention_heads > 0 else None
    norm = keras.layers.LayerNormalization(name="history_norm")

    target = encode_movie(enc, inputs)
    if hp.residual:
        base = FrozenBaseline(baseline)
        target = keras.layers.concatenate([target, base.movie_vectors(inputs[F.MOVIE_IDX]),
                                           base.movie_bias(inputs[F.MOVIE_IDX])])
        residuals = {side: history_residuals(base, inputs, side) for side in F.SIDES}
        means = {side: shrunk_mean(residuals[side], inputs, side) for side in F.SIDES}
        recent = {side: recent_residuals(base, inputs, side) for side in F.SIDES} if hp.recent else {}
        read_recent = {side: None for side in F.SIDES}
        if hp.recent and hp.recent_heads > 0:
            over_recent = keras.layers.MultiHeadAttention(num_heads=hp.recent_heads, key_dim=hp.embedding_dim,
                                                          dropout=hp.dropout, name=RECENT_ATTENTION_LAYER)
            read_recent = {side: attend_recent(enc, base, over_recent, inputs, side, target, recent[side])
                           for side in F.SIDES}
        a, b = (residual_tower(enc, base, attention, norm, inputs, side, target, residuals[side], means[side],
                               read_recent[side])
                for side in F.SIDES)
        start = (base.rating(inputs[F.USER_IDX.format(side="a")], inputs[F.MOVIE_IDX])
                 + base.rating(inputs[F.USER_IDX.format(side="b")], inputs[F.MOVIE_IDX])) / 2.0
        # The pair's recent drift from the baseline (mean history residual of both members),
        # times a weight that training leaves at 0 and run_fn fits on the eval split: drift
        # only shows on ratings after the baseline's training period (run.fit_recency_weight).
        # With hp.recent, two more terms from the ratings the baseline has not learnt from
        # (recent_features), their weights fitted on eval with it.
        recency = (means["a"] + means["b"]) / 2.0
        if hp.recent:
            terms = recent_features(base, inputs, recent)
            if hp.neighbours > 0 and neighbourhood is not None:
                terms.append(neighbour_feature(inputs, neighbourhood, hp, residuals, recent))
            if hp.foldin_l2 > 0:
                terms.append(foldin_feature(base, inputs, residuals, recent, hp.foldin_l2))
            if hp.als_factors > 0 and second is not None:
                terms.append(second_model_feature(base, FrozenBaseline(second, SECOND_PREFIX), inputs))
            recency = keras.layers.concatenate([recency, *terms], name="recency_terms")
        start = start + tf.squeeze(keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", trainable=False,
                                                      name=RECENCY_LAYER)(recency), axis=-1)
    else:
        a, b = (user_tower(enc, attention, norm, inputs, side, target) for side in F.SIDES)
        start = label_mean + pair_biases(inputs, sizes, hp)
    start = keras.layers.Activation("linear", name=START_LAYER)(start)
    x = keras.layers.concatenate([a + b, a * b, target], name="pair")
    for i, units in enumerate(hp.hidden_units):
        x = keras.layers.Dense(units, name=f"dense_{i}",
                               kernel_regularizer=keras.regularizers.l2(hp.dense_l2) if hp.dense_l2 else None)(x)
        x = keras.layers.LeakyReLU(name=f"leaky_relu_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
        x = keras.layers.Dropout(hp.dropout, name=f"dropout_{i}")(x)
    # Starts at zero: before training the model predicts `start` (the baseline, with residual on).
    deep = tf.squeeze(keras.layers.Dense(1, kernel_initializer="zeros", name=DEEP_LAYER)(x), axis=-1)
    rating = start + deep
    model = keras.Model(inputs=inputs, outputs=rating)
    compile_model(model, hp)
    return model


def compile_model(model: keras.Model, hp: HParams) -> None:
    """A fresh optimizer of hp's, the MSE loss and the RMSE and MAE metrics."""
    model.compile(optimizer=optimizer(hp), loss="mse",
                  metrics=[keras.metrics.MeanAbsoluteError(name="mae"),
                           keras.metrics.RootMeanSquaredError(name="rmse")])


def served_model(model: keras.Model, deep_kept: bool) -> keras.Model:
    """The graph that is served: the whole model where its deep part is kept, else only the
    start (the baseline and its eval-fitted terms: the same ratings, since the deep output is
    zero then) without the attention towers and dense layers that would not change them."""
    if deep_kept:
        return model
    return keras.Model(model.inputs, model.get_layer(START_LAYER).output, name="start_model")


def explaining_model(model: keras.Model) -> keras.Model | None:
    """The trained model's layers with the attention weights as outputs too, for serving:
    {"rating": the model's output, "a_attention"/"b_attention": [batch, HISTORY_LENGTH], the
    target slot's attention over each history slot, mean over heads (0 on padded slots; the
    rest of the row is on the target itself)}. None for a model without attention (the
    SVD++ baseline). The training model keeps its single output."""
    try:
        layer = model.get_layer(ATTENTION_LAYER)
    except ValueError:
        return None
    outputs = {"rating": model.output}
    for node, side in enumerate(F.SIDES):     # build_model calls the layer for side a, then b
        _, scores = layer.get_output_at(node)   # [batch, heads, query, key]
        outputs[f"{side}_attention"] = tf.reduce_mean(scores[:, :, -1, :F.HISTORY_LENGTH], axis=1)
    return keras.Model(model.inputs, outputs, name="explaining_model")


def optimizer(hp: HParams) -> keras.optimizers.Optimizer:
    if hp.optimizer == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=hp.learning_rate)
    return keras.optimizers.Adam(learning_rate=hp.learning_rate)
