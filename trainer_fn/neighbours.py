"""The neighbourhood term: what a member's ratings of movies like the target say about it.

An item-item neighbourhood over the baseline's residuals (Koren, KDD 2008, the
neighbourhood part of the integrated model; Bell and Koren, ICDM 2007): for member u and
target t,

    knn(u, t) = sum_j s_tj * e_uj / (sum_j |s_tj| + alpha)

over the target's K nearest movies j that u has rated, where e_uj is u's rating of j minus
the baseline's prediction, and s_tj is the shrunk correlation of the two movies' residuals
over their common raters: s_tj = <e_.t, e_.j> / (|e_.t| |e_.j|) * n_tj / (n_tj + shrink).

A member's ratings come from two places: the baseline's fit set (its whole profile: the
`Neighbourhood` keys, user * n_movies + movie, and residuals, held by the model) and the
row's own slots (the window and the recent ratings the fit has not seen); a movie in both
counts once, the slot's. Trained against the baseline's fit on train (the term's weight is
fitted on eval, out of sample as on test); at export the tables of the refit on train + eval
replace them (trainer_fn/run.py, beside swap_baseline), so the pushed model reads every
rating before the test period, and the service's requests add the later ones as slots.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import tensorflow as tf
import tf_keras as keras

from trainer_fn.baseline.svdpp import FactorTables, Ratings

NEIGHBOUR_LAYER = "neighbour_term"
# Past the largest key (users * movies < 2**62): pads the profile to a fixed length.
PAD_KEY = np.iinfo(np.int64).max


@dataclasses.dataclass
class Neighbourhood:
    keys: np.ndarray         # [N] int64, sorted: user * n_movies + movie of each fit-set rating
    residuals: np.ndarray    # [N] float32: the rating minus the baseline's prediction
    movies: np.ndarray       # [n_movies, K] int32: each movie's K nearest movies
    similarity: np.ndarray   # [n_movies, K] float32: their s_tj


# The similarity rows computed at once: a block of movies x the catalogue, float64, about this
# many bytes an array (a few are alive at once), so memory grows with the catalogue, not its
# square (59,047 movies, ML-25M: 142 rows a block).
BLOCK_BYTES = 64 * 2**20


def neighbourhood(tables: FactorTables, events: Ratings, n_movies: int, k: int, shrink: float) -> Neighbourhood:
    """The profile and the K-nearest table from the fit set `events` and its tables, the
    similarities computed a block of movies at a time from the sparse residual matrix (no
    movies x movies array is ever held)."""
    users, movies = events.users.astype(np.int64), events.movies.astype(np.int64)
    residuals = (events.ratings - tables.predict(users, movies)).astype(np.float32)
    n_users = int(users.max(initial=0)) + 1
    e = sp.csr_matrix((residuals.astype(np.float64), (users, movies)), shape=(n_users, n_movies))
    seen = sp.csr_matrix((np.ones(len(users)), (users, movies)), shape=(n_users, n_movies))
    by_movie, seen_by_movie = e.T.tocsr(), seen.T.tocsr()
    norm = np.sqrt(np.asarray(e.multiply(e).sum(axis=0)).ravel())
    k = max(0, min(k, n_movies - 1))
    nearest = np.zeros((n_movies, k), np.int32)
    similarity = np.zeros((n_movies, k), np.float32)
    rows = max(1, BLOCK_BYTES // (8 * max(n_movies, 1)))
    for lo in range(0, n_movies if k > 0 else 0, rows):
        hi = min(n_movies, lo + rows)
        dot = (by_movie[lo:hi] @ e).toarray()                   # [block, n_movies]
        common = (seen_by_movie[lo:hi] @ seen).toarray()
        sim = dot / (np.outer(norm[lo:hi], norm) + 1e-9) * common / (common + shrink)
        own = (np.arange(hi - lo), np.arange(lo, hi))
        sim[own] = 0.0
        closeness = np.abs(sim)
        closeness[own] = -1.0                # never its own neighbour, even among zeros
        part = np.argpartition(-closeness, k - 1, axis=1)[:, :k]
        nearest[lo:hi] = part
        similarity[lo:hi] = np.take_along_axis(sim, part, 1)
    keys = users * n_movies + movies
    order = np.argsort(keys, kind="stable")
    return Neighbourhood(keys[order], residuals[order], nearest, similarity)


def padded(n: Neighbourhood, size: int) -> Neighbourhood:
    """The same with the profile padded to `size` entries (PAD_KEY, residual 0)."""
    if len(n.keys) > size:
        raise ValueError(f"a profile of {len(n.keys)} ratings does not fit {size} entries")
    pad = size - len(n.keys)
    return dataclasses.replace(n, keys=np.concatenate([n.keys, np.full(pad, PAD_KEY, np.int64)]),
                               residuals=np.concatenate([n.residuals, np.zeros(pad, np.float32)]))


class NeighbourTerm(keras.layers.Layer):
    """knn(u, t) for one member: (users [batch], target [batch], slot movies [batch, n], slot
    residuals [batch, n], slot mask [batch, n]) -> [batch, 1]. Its tables are non-trainable
    weights, so set_weights puts another fit's in (`weights_of`)."""

    def __init__(self, profile_size: int, n_movies: int, k: int, alpha: float, **kwargs):
        super().__init__(**kwargs)
        self.profile_size, self.n_movies, self.k, self.alpha = profile_size, n_movies, k, alpha

    def build(self, input_shape):
        zeros = keras.initializers.Zeros()
        self.keys = self.add_weight(name="profile_keys", shape=(self.profile_size,), dtype=tf.int64,
                                    initializer=zeros, trainable=False)
        self.residuals = self.add_weight(name="profile_residuals", shape=(self.profile_size,),
                                         initializer=zeros, trainable=False)
        self.movies = self.add_weight(name="nearest_movies", shape=(self.n_movies, self.k), dtype=tf.int32,
                                      initializer=zeros, trainable=False)
        self.similarity = self.add_weight(name="nearest_similarity", shape=(self.n_movies, self.k),
                                          initializer=zeros, trainable=False)
        super().build(input_shape)

    def call(self, users, target, slot_movies, slot_residuals, slot_mask):
        nearest = tf.gather(self.movies, tf.cast(target, tf.int32))                  # [batch, K]
        sim = tf.gather(self.similarity, tf.cast(target, tf.int32))
        keys = tf.cast(users, tf.int64)[:, None] * self.n_movies + tf.cast(nearest, tf.int64)
        at = tf.minimum(tf.searchsorted(self.keys, tf.reshape(keys, [-1])), self.profile_size - 1)
        at = tf.reshape(at, tf.shape(keys))
        in_profile = tf.cast(tf.equal(tf.gather(self.keys, at), keys), tf.float32)
        profile = tf.gather(self.residuals, at) * in_profile
        # the row's own slots among the target's nearest: [batch, n, K]
        match = tf.cast(tf.equal(tf.cast(slot_movies, tf.int32)[:, :, None], nearest[:, None, :]), tf.float32)
        match = match * slot_mask[:, :, None]
        in_slots = tf.minimum(tf.reduce_sum(match, 1), 1.0)
        slot = tf.reduce_sum(match * slot_residuals[:, :, None], 1) / tf.maximum(tf.reduce_sum(match, 1), 1.0)
        known = tf.maximum(in_profile, in_slots)
        residual = in_slots * slot + (1.0 - in_slots) * profile
        return (tf.reduce_sum(sim * residual * known, -1, keepdims=True)
                / (tf.reduce_sum(tf.abs(sim) * known, -1, keepdims=True) + self.alpha))

    def get_config(self):
        return {**super().get_config(), "profile_size": self.profile_size, "n_movies": self.n_movies,
                "k": self.k, "alpha": self.alpha}


def weights_of(n: Neighbourhood) -> list[np.ndarray]:
    """The layer's weights, in build's order."""
    return [n.keys, n.residuals, n.movies, n.similarity]
