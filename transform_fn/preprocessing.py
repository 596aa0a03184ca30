"""tf.Transform preprocessing_fn: raw pair rows -> model-ready tensors.

One vocabulary per entity: users A and B share the user vocabulary; history movies and
the target movie share the movie vocabulary; both users share sex, age and occupation
vocabularies. Index 0 is reserved for padding, real entries start at 1, and ids never seen
in training fall into the out-of-vocabulary bucket at the end instead of failing.
"""

import tensorflow as tf
import tensorflow_transform as tft

from transform_fn import features as F


def _flat(x: tf.Tensor) -> tf.Tensor:
    """[batch, 1] (dense, from the schema's shape) -> [batch]."""
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(x)
    return tf.reshape(x, [-1])


def _as_string(x: tf.Tensor) -> tf.Tensor:
    return x if x.dtype == tf.string else tf.strings.as_string(x)


def _split_list(x: tf.Tensor, width: int) -> tf.Tensor:
    """[batch] '|'-joined strings -> [batch, width], '' where a slot is empty or missing."""
    parts = tf.strings.split(x, sep=F.LIST_SEPARATOR)
    return parts.to_tensor(default_value="", shape=[None, width])


def _shared_vocabulary(tensors, name: str, **kwargs):
    """One vocabulary over several columns, empty strings (padding) left out."""
    flat = tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)
    flat = tf.boolean_mask(flat, tf.not_equal(flat, ""))
    return tft.vocabulary(flat, vocab_filename=name, **kwargs)


def _lookup(x: tf.Tensor, vocabulary) -> tf.Tensor:
    """Vocabulary index + 1, so that 0 means padding; unknown ids go to the OOV bucket."""
    index = tft.apply_vocabulary(x, vocabulary, num_oov_buckets=F.OOV_BUCKETS)
    return tf.where(tf.equal(x, ""), tf.zeros_like(index), index + 1)


def _rated_slots(ids: tf.Tensor, ratings: tf.Tensor, vocabulary):
    """[batch, width] ids ('' in empty slots) and their '|'-joined ratings -> (index, stars,
    mask): index 0 and stars 0 in empty slots. The ids are looked up in a vocabulary they do
    not build (the recent movies in the movies', the raters in the users')."""
    width = ids.shape[-1]
    stars = _split_list(_as_string(ratings), width)
    mask = tf.not_equal(ids, "")
    values = tf.where(mask, tf.strings.to_number(tf.where(mask & tf.not_equal(stars, ""), stars, "0"), tf.float32), 0.0)
    return _lookup(ids, vocabulary), values, tf.cast(mask, tf.float32)


def _rounded(x: tf.Tensor, digits: int = 4) -> tf.Tensor:
    scale = 10.0 ** digits
    return tf.round(x * scale) / scale


def _scale_known(x: tf.Tensor, known: tf.Tensor) -> tf.Tensor:
    """z-score over the known values; unknown ones become 0 (the mean)."""
    values = tf.boolean_mask(x, known)
    # Rounded: Beam sums in no fixed order, so the raw mean and variance differ in their last
    # bits run to run; rounded, the same data gives the same features and the same model.
    mean = _rounded(tft.mean(values))
    std = _rounded(tf.sqrt(tft.var(values))) + 1e-6
    return tf.where(known, (x - mean) / std, tf.zeros_like(x))


def preprocessing_fn(inputs):
    raw = {name: _flat(value) for name, value in inputs.items()}
    out = {}

    users = {side: _as_string(raw[F.user(side)]) for side in F.SIDES}
    hist = {side: _split_list(raw[F.hist_movies(side)], F.HISTORY_LENGTH) for side in F.SIDES}
    movie = _as_string(raw[F.MOVIE])

    recent = {side: _split_list(raw[F.recent_movies(side)], F.RECENT_LENGTH) for side in F.SIDES}
    raters = _split_list(_as_string(raw[F.MOVIE_RATERS]), F.RECENT_LENGTH)

    user_vocab = _shared_vocabulary(users.values(), F.USER_VOCAB)
    movie_vocab = _shared_vocabulary([movie, *hist.values()], F.MOVIE_VOCAB)
    demographic_vocab = {
        column: _shared_vocabulary([_as_string(raw[column(side)]) for side in F.SIDES], name)
        for column, name in ((F.sex, F.SEX_VOCAB), (F.age, F.AGE_VOCAB),
                             (F.occupation, F.OCCUPATION_VOCAB))
    }

    for side in F.SIDES:
        out[F.USER_IDX.format(side=side)] = _lookup(users[side], user_vocab)
        out[F.HIST_IDX.format(side=side)] = _lookup(hist[side], movie_vocab)
        ratings = _split_list(raw[F.hist_ratings(side)], F.HISTORY_LENGTH)
        mask = tf.not_equal(hist[side], "")
        out[F.HIST_MASK.format(side=side)] = tf.cast(mask, tf.float32)
        out[F.HIST_RATING.format(side=side)] = tf.where(
            mask, tf.strings.to_number(tf.where(mask, ratings, "0"), tf.float32), 0.0)
        out[F.RECENT_IDX.format(side=side)], out[F.RECENT_RATING.format(side=side)], \
            out[F.RECENT_MASK.format(side=side)] = _rated_slots(recent[side], raw[F.recent_ratings(side)], movie_vocab)
        for column, name in ((F.sex, F.SEX_IDX), (F.age, F.AGE_IDX), (F.occupation, F.OCCUPATION_IDX)):
            out[name.format(side=side)] = _lookup(_as_string(raw[column(side)]), demographic_vocab[column])

    out[F.RATER_IDX], out[F.RATER_RATING], out[F.RATER_MASK] = _rated_slots(
        raters, raw[F.MOVIE_RATER_RATINGS], user_vocab)
    out[F.MOVIE_IDX] = _lookup(movie, movie_vocab)
    genres = _split_list(raw[F.MOVIE_GENRES], F.MAX_GENRES)
    out[F.GENRE_IDX] = _lookup(genres, _shared_vocabulary([genres], F.GENRE_VOCAB))
    year = tf.cast(raw[F.MOVIE_YEAR], tf.float32)
    out[F.YEAR_Z] = _scale_known(year, year > 0)
    runtime = tf.cast(raw[F.MOVIE_RUNTIME], tf.float32)
    known = runtime > 0
    out[F.RUNTIME_KNOWN] = tf.cast(known, tf.float32)
    out[F.RUNTIME_Z] = _scale_known(runtime, known)
    # Person codes from the data stage: 0 is unknown and stays padding, like an empty slot.
    director = _as_string(raw[F.MOVIE_DIRECTOR])
    director = tf.where(tf.equal(director, "0"), "", director)
    out[F.DIRECTOR_IDX] = _lookup(director, _shared_vocabulary([director], F.DIRECTOR_VOCAB))
    actors = _split_list(raw[F.MOVIE_ACTORS], F.MAX_ACTORS)
    actors = tf.where(tf.equal(actors, "0"), "", actors)
    out[F.ACTOR_IDX] = _lookup(actors, _shared_vocabulary([actors], F.ACTOR_VOCAB))
    imdb_rating = tf.cast(raw[F.MOVIE_IMDB_RATING], tf.float32)
    imdb_known = imdb_rating > 0
    out[F.IMDB_KNOWN] = tf.cast(imdb_known, tf.float32)
    out[F.IMDB_RATING_Z] = _scale_known(imdb_rating, imdb_known)
    votes = tf.math.log1p(tf.cast(raw[F.MOVIE_IMDB_VOTES], tf.float32))
    out[F.IMDB_VOTES_Z] = _scale_known(votes, imdb_known)
    out[F.LABEL] = tf.cast(raw[F.LABEL], tf.float32)
    return out
