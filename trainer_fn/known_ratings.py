"""Every rating a Trainer may learn from, read from the prepared folder's ratings_by_split.csv.

The rows carry a user's ratings only as a window's targets and slots, and a rating in a
same-second burst at a non-target position is neither (no rating of the target's second is
history for it, data/windows.py): on ML-100K 6,355 of 80,660 train ratings (8%) reach no
row. The baseline's fit and the neighbourhood term's profile are "every rating before the
period a row is judged on", so they read the ratings file itself, by split, with the ids
looked up in the Transform's own vocabularies exactly as the Transform does (index + 1,
unknown ids in the out-of-vocabulary bucket). The test split is never read here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import tensorflow as tf

from trainer_fn.baseline import svdpp
from transform_fn import features as F

CONFIG_KEY = "known_ratings"      # the Trainers' custom_config key: the ratings file's path
READABLE_SPLITS = (F.TRAIN_SPLIT, F.EVAL_SPLIT)


def _index(ids: pd.Series, vocabulary: list) -> np.ndarray:
    """The Transform's lookup (transform_fn/preprocessing.py _lookup) on raw ids."""
    position = {(v.decode() if isinstance(v, bytes) else str(v)): i + 1 for i, v in enumerate(vocabulary)}
    return ids.map(position).fillna(len(vocabulary) + 1).to_numpy(np.int64)


def read_known_ratings(path: str, tf_transform_output, *split_sets) -> tuple[svdpp.Ratings, ...]:
    """For each set of splits (train and/or eval) or train periods (F.EARLY_PERIOD,
    F.LATE_PERIOD: the train split cut at the rolling origin), its ratings as one event per
    (user, movie), in (user, movie) order; the file is read once. Raises ValueError for the
    test split or a file without the columns."""
    wanted = {split for splits in split_sets for split in splits}
    if not wanted <= set(READABLE_SPLITS) | set(F.TRAIN_PERIODS):
        raise ValueError(f"{path}: the Trainers may read only the {' and '.join(READABLE_SPLITS)} "
                         f"ratings, not {sorted(wanted - set(READABLE_SPLITS) - set(F.TRAIN_PERIODS))}")
    table = _read(path, {"user_id", "movie_id", "rating", "split"} | ({"period"} if wanted & set(F.TRAIN_PERIODS) else set()))
    users = _index(table["user_id"], tf_transform_output.vocabulary_by_name(F.USER_VOCAB))
    movies = _index(table["movie_id"], tf_transform_output.vocabulary_by_name(F.MOVIE_VOCAB))
    ratings, split = table["rating"].to_numpy(np.float32), table["split"].to_numpy()
    period = table["period"].to_numpy() if "period" in table.columns else split
    out = []
    for splits in split_sets:
        keep = np.isin(split, list(splits)) | np.isin(period, list(splits))
        out.append(svdpp.Ratings.one_per_user_movie(users[keep], movies[keep], ratings[keep]))
    return tuple(out)


def _read(path: str, columns: set[str]) -> pd.DataFrame:
    """The ratings file's rows of the readable splits; ValueError naming the file and the
    columns it lacks (a prepared folder from before the rolling origin has no `period`: prepare
    it again)."""
    with tf.io.gfile.GFile(path) as f:
        table = pd.read_csv(f, dtype={"user_id": str, "movie_id": str, "split": str, "period": str})
    missing = columns - set(table.columns)
    if missing:
        raise ValueError(f"{path}: no column {', '.join(sorted(missing))}"
                         + (" (written before the rolling origin: run the data stage again)" if "period" in missing else ""))
    return table[table["split"].isin(READABLE_SPLITS)]


def known_ratings_path(custom_config: dict | None) -> str:
    path = (custom_config or {}).get(CONFIG_KEY)
    if not path:
        raise ValueError(f"the Trainer's custom_config has no {CONFIG_KEY!r}: the path of the prepared "
                         f"folder's {F.RATINGS_FILE}")
    return path


def read_sequences(path: str, tf_transform_output, cases_per_user: int = 3, seed: int = 0):
    """The sequence model's data (trainer_fn/sequence.py): each user's train-period movies as
    vocabulary rows (index + 1), oldest first (by time, then movie id), and the eval cases: up
    to `cases_per_user` eval-period ratings >= 4 per user (seeded), each with its history (every
    train and eval rating strictly before the target's second) and the movies rated by then.
    The test split is never read."""
    from trainer_fn.sequence import Cases

    table = _read(path, {"user_id", "movie_id", "rating", "timestamp", "split"})
    table = table.assign(movie_key=pd.to_numeric(table["movie_id"], errors="coerce"))
    table = table.sort_values(["user_id", "timestamp", "movie_key", "movie_id"], kind="stable")
    vocabulary = tf_transform_output.vocabulary_by_name(F.MOVIE_VOCAB)
    movies, oov = _index(table["movie_id"], vocabulary), len(vocabulary) + 1
    stamps = table["timestamp"].to_numpy(np.int64)
    is_train = (table["split"] == F.TRAIN_SPLIT).to_numpy()
    liked = (table["rating"].to_numpy(np.float64) >= 4.0) & ~is_train
    users = table["user_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(users)]
    rng = np.random.default_rng(seed)
    sequences, histories, targets, seen = [], [], [], []
    for lo, hi in zip(starts, ends):
        mine, when = movies[lo:hi], stamps[lo:hi]
        train = mine[is_train[lo:hi]]
        if len(train):
            sequences.append(train)
        chosen = np.flatnonzero(liked[lo:hi])
        if len(chosen) > cases_per_user:
            chosen = np.sort(rng.choice(chosen, cases_per_user, replace=False))
        for i in chosen:
            before = mine[when < when[i]]
            if len(before) and mine[i] != oov:         # a target the model can name
                histories.append(before)
                targets.append(mine[i])
                seen.append(set(before.tolist()))
    return sequences, Cases(histories, np.asarray(targets, np.int64), seen)
