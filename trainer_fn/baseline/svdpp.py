"""SVD++ (Koren 2008) trained with TensorFlow on rating events: the strong classical baseline.

    r(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)

N(u) is every movie u rated in the training period (implicit feedback). The objective is
scikit-surprise's: squared error plus lambda times the squared norm of every parameter a
rating touches (so each y_j is penalised once per rating of each user who rated j),
minimised with mini-batch SGD at the same per-rating step (or Adam), with early stopping
on eval.
factors = 0 gives the biases-only model, implicit = False plain biased MF (Funk SVD).
After training the implicit sum is folded into one effective vector per user, so serving
is a plain factor model: mu + b_u + b_i + q_i . u_eff.
"""

from __future__ import annotations

import dataclasses
import io
import logging

import numpy as np
import tensorflow as tf

from trainer_fn.hparams import BaselineParams
from transform_fn.features import RATING_MAX, RATING_MIN

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Ratings:
    users: np.ndarray     # int64 row indices into the user table
    movies: np.ndarray    # int64 row indices into the movie table
    ratings: np.ndarray   # float32

    def __len__(self):
        return len(self.ratings)

    @classmethod
    def one_per_user_movie(cls, users: np.ndarray, movies: np.ndarray, ratings: np.ndarray) -> "Ratings":
        """The first rating of each (user, movie), in (user, movie) order: the same events in any
        input order give the same Ratings (Beam writes records in no fixed order)."""
        key = users * (movies.max(initial=0) + 1) + movies
        _, first = np.unique(key, return_index=True)
        return cls(users[first], movies[first], ratings[first])


@dataclasses.dataclass
class FactorTables:
    """The trained model, folded for serving."""
    mu: float
    user_bias: np.ndarray      # [n_users]
    movie_bias: np.ndarray     # [n_movies]
    user_vectors: np.ndarray   # [n_users, factors]: p_u + implicit sum
    movie_vectors: np.ndarray  # [n_movies, factors]
    rating_min: float = RATING_MIN   # the scale's floor (features.rating_floor): 0.5 with half stars

    def predict(self, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
        """Predicted ratings, clipped to the rating scale as scikit-surprise does."""
        dots = np.sum(self.user_vectors[users] * self.movie_vectors[movies], axis=-1)
        return np.clip(self.mu + self.user_bias[users] + self.movie_bias[movies] + dots, self.rating_min, RATING_MAX)


def _implicit_sets(train: Ratings, n_users: int) -> tf.RaggedTensor:
    order = np.lexsort((train.movies, train.users))
    return tf.RaggedTensor.from_value_rowids(train.movies[order], train.users[order], nrows=n_users)


def _epoch_order(rng: np.random.Generator, users: np.ndarray, chunk: int) -> np.ndarray:
    """The events in runs of up to `chunk` ratings of one user, the runs in random order.

    A batch then holds about batch_size / chunk users, and each user's implicit sum is
    computed once per batch: the cost of an epoch grows with the ratings instead of with
    the sum of each user's rating count squared. Runs are short so that no batch holds all
    of a heavy user's ratings (one summed step that large overshoots where scikit-surprise
    takes many small ones).
    """
    grouped = np.lexsort((rng.random(len(users)), users))         # by user, shuffled within
    sorted_users = users[grouped]
    first = np.searchsorted(sorted_users, sorted_users)            # each event's user's first position
    run = sorted_users * (len(users) // chunk + 1) + (np.arange(len(users)) - first) // chunk
    run_rank = rng.permutation(len(users))[np.unique(run, return_inverse=True)[1]]
    return grouped[np.argsort(run_rank, kind="stable")]


def fit(train: Ratings, evaluate: Ratings, n_users: int, n_movies: int, p: BaselineParams,
        on_epoch=None, rating_min: float = RATING_MIN) -> tuple[FactorTables, dict]:
    """Trains on `train`, keeps the epoch with the lowest RMSE on `evaluate`; predictions are
    clipped to [rating_min, RATING_MAX] (the data's scale: features.rating_floor)."""
    rng = np.random.default_rng(p.seed)
    tf.random.set_seed(p.seed)
    k = max(p.factors, 1)
    mu = float(train.ratings.mean())
    init = lambda *shape: tf.Variable(rng.normal(0.0, p.init_std, shape).astype(np.float32))  # noqa: E731
    bu, bi = tf.Variable(tf.zeros([n_users])), tf.Variable(tf.zeros([n_movies]))
    pu, qi, yj = init(n_users, k), init(n_movies, k), init(n_movies, k)
    use_factors = p.uses_factors
    use_implicit = use_factors and p.implicit
    implicit = _implicit_sets(train, n_users)
    sizes = tf.cast(implicit.row_lengths(), tf.float32)
    variables = [bu, bi] + ([pu, qi] + ([yj] if use_implicit else []) if use_factors else [])
    optimizer = (tf.keras.optimizers.SGD(p.learning_rate) if p.optimizer == "sgd"
                 else tf.keras.optimizers.Adam(p.learning_rate))

    def user_vectors(u):
        vec = tf.gather(pu, u)
        if use_implicit:
            # Each distinct user's implicit sum once per batch, then spread to its events:
            # the cost is the batch's distinct users' histories, not one history per event.
            users, position = tf.unique(u)
            items = tf.gather(implicit, users)
            y = tf.gather(yj, items.flat_values)
            rows, n = items.value_rowids(), tf.shape(users)[0]
            total = tf.math.unsorted_segment_sum(y, rows, n)
            norm = tf.math.rsqrt(tf.maximum(tf.gather(sizes, users), 1.0))[:, None]
            y_penalty = tf.math.unsorted_segment_sum(tf.reduce_sum(y * y, -1), rows, n)
            return vec + tf.gather(norm * total, position), tf.gather(y_penalty, position)
        return vec, tf.zeros_like(tf.cast(u, tf.float32))

    def predict(u, i):
        b = mu + tf.gather(bu, u) + tf.gather(bi, i)
        if not use_factors:
            return b, tf.zeros_like(b), tf.zeros_like(b)
        vec, y_penalty = user_vectors(u)
        q = tf.gather(qi, i)
        penalty = tf.reduce_sum(tf.square(tf.gather(pu, u)), -1) + tf.reduce_sum(q * q, -1)
        return b + tf.reduce_sum(vec * q, -1), penalty, y_penalty

    @tf.function(reduce_retracing=True)
    def step(u, i, r):
        with tf.GradientTape() as tape:
            pred, penalty, y_penalty = predict(u, i)
            bias_penalty = tf.square(tf.gather(bu, u)) + tf.square(tf.gather(bi, i))
            loss = tf.reduce_mean(tf.square(r - pred) + p.l2 * (bias_penalty + penalty + y_penalty))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    @tf.function(reduce_retracing=True)
    def squared_errors(u, i, r):
        return tf.reduce_sum(tf.square(r - tf.clip_by_value(predict(u, i)[0], rating_min, RATING_MAX)))

    def rmse(data: Ratings) -> float:
        total = 0.0
        for s in range(0, len(data), 65536):
            sl = slice(s, s + 65536)
            total += float(squared_errors(data.users[sl], data.movies[sl], data.ratings[sl]))
        return float(np.sqrt(total / max(len(data), 1)))

    best, best_rmse, waited, history = None, np.inf, 0, {"rmse": [], "val_rmse": []}
    n = len(train)
    for epoch in range(p.epochs):
        # Runs of one user only where they save work (the implicit sums); plain MF and the
        # biases learn better from ratings in random order (default data: MF 0.9485 against 0.9853).
        order = _epoch_order(rng, train.users, p.user_run) if p.user_run and use_implicit else rng.permutation(n)
        for s in range(0, n, p.batch_size):
            idx = order[s:s + p.batch_size]
            step(train.users[idx], train.movies[idx], train.ratings[idx])
        history["rmse"].append(rmse(train))
        history["val_rmse"].append(rmse(evaluate))
        if on_epoch:
            on_epoch(epoch, history)
        if history["val_rmse"][-1] < best_rmse - 1e-5:
            best_rmse, waited = history["val_rmse"][-1], 0
            best = [v.numpy().copy() for v in (bu, bi, pu, qi, yj)]
        else:
            waited += 1
            if waited >= p.patience:
                break
    b_u, b_i, p_u, q_i, y_j = best
    if use_implicit:
        pu.assign(p_u)
        yj.assign(y_j)
        vec = user_vectors(tf.range(n_users, dtype=tf.int64))[0].numpy()
    else:
        vec = p_u
    if not use_factors:
        vec, q_i = np.zeros((n_users, 1), np.float32), np.zeros((n_movies, 1), np.float32)
    # Rows no training event touched keep their random start: zero them, so an unseen user
    # or movie gets mu + the other side's bias, as in scikit-surprise.
    vec[np.bincount(train.users, minlength=n_users) == 0] = 0.0
    q_i[np.bincount(train.movies, minlength=n_movies) == 0] = 0.0
    tables = FactorTables(mu=mu, user_bias=b_u, movie_bias=b_i, user_vectors=vec, movie_vectors=q_i,
                          rating_min=rating_min)
    return tables, history


# The baseline model's layer holding the scale's floor as a variable (baseline/run.py).
RATING_FLOOR_LAYER = "rating_floor"


def load_tables(saved_model_dir: str) -> FactorTables:
    """The tables of a baseline SavedModel written by trainer_fn/baseline/run.py."""
    loaded = tf.saved_model.load(saved_model_dir)
    by_name = {v.name.split(":")[0]: v.numpy() for v in loaded.variables}

    def find(name):
        hits = [value for key, value in by_name.items() if key == name or key.startswith(name + "/")]
        if len(hits) != 1:
            raise ValueError(f"{saved_model_dir}: expected one variable {name!r}, found {sorted(by_name)}")
        return hits[0]

    floor = [value for key, value in by_name.items() if key.startswith(RATING_FLOOR_LAYER + "/")]
    return FactorTables(mu=float(find("global_mean")), user_bias=find("user_bias").reshape(-1),
                        movie_bias=find("movie_bias").reshape(-1), user_vectors=find("user_vectors"),
                        movie_vectors=find("movie_vectors"),
                        rating_min=float(floor[0]) if floor else RATING_MIN)   # older models: whole stars


# Beside the BaselineTrainer's model (its artifact folder): the tables of its fit on train
# only, before the refit on train + eval. The attention Trainer learns its residual over them.
TRAIN_TABLES_FILE = "train_only_tables.npz"
# The fit on the train ratings before the rolling origin (F.EARLY_PERIOD), which the deep part
# of the rating model learns its residual over, on the rows after it (trainer_fn/run.py).
EARLY_TABLES_FILE = "early_train_tables.npz"


def write_tables(path: str, tables: FactorTables) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, mu=np.float64(tables.mu), user_bias=tables.user_bias, movie_bias=tables.movie_bias,
                 user_vectors=tables.user_vectors, movie_vectors=tables.movie_vectors,
                 rating_min=np.float64(tables.rating_min))
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(buffer.getvalue())


def read_tables(path: str) -> FactorTables | None:
    """The tables write_tables wrote, None when there is no such file."""
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path, "rb") as f:
        data = np.load(io.BytesIO(f.read()))
    return FactorTables(mu=float(data["mu"]), user_bias=data["user_bias"], movie_bias=data["movie_bias"],
                        user_vectors=data["user_vectors"], movie_vectors=data["movie_vectors"],
                        rating_min=float(data["rating_min"]) if "rating_min" in data.files else RATING_MIN)
