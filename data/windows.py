"""Time split, sliding windows and user pairing: pure, vectorised functions on DataFrames.

- split_in_time: each user's ratings in time order go to train, then eval, then test; the
  ratings a user gave in one second never straddle a split boundary (the whole second goes
  to the split of its first rating).
- make_windows: windows of `length` with `step` over each user's time-ordered ratings,
  left-padded so that short histories still give windows. The rating at every step-th
  position is a target; its history is the `length - 1` ratings the user gave strictly
  before the target's second (a rating of the same second is never history: their order
  within a second is unknown, MovieLens records seconds). A window belongs to its target's
  split. History slots only ever hold earlier ratings, so a window's own label is never
  among its inputs, and a train window never sees an eval or test rating.
- pair_windows: windows of different users with the same target movie in the same split
  are paired, at most `partners` partners drawn per window (seeded), never all pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from transform_fn.features import EVAL_SPLIT, SPLITS, TEST_SPLIT, TRAIN_SPLIT

PAD_MOVIE = -1       # padded history slot (written as '' in the prepared CSVs)
PAD_RATING = 0


def split_in_time(ratings: pd.DataFrame, fractions=(0.8, 0.1, 0.1)) -> pd.DataFrame:
    """Adds pos (0-based rank in the user's time order), n (user's count) and split.

    Ties in timestamp are broken by movie id, so the order is deterministic. All ratings
    of one (user, second) get the split of the first of them, so the boundary between two
    splits never falls inside a second.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    out = ratings.sort_values(["user_id", "timestamp", "movie_id"], kind="stable").reset_index(drop=True)
    out["pos"] = out.groupby("user_id").cumcount().astype("int64")
    out["n"] = out.groupby("user_id")["pos"].transform("size").astype("int64")
    train_end = np.floor(out["n"] * fractions[0]).astype("int64")
    eval_end = np.floor(out["n"] * (fractions[0] + fractions[1])).astype("int64")
    split = np.select([out["pos"] < train_end, out["pos"] < eval_end], [TRAIN_SPLIT, EVAL_SPLIT], TEST_SPLIT)
    first_of_second = _first_of_second(out)
    out["split"] = split[first_of_second]
    return out


def _first_of_second(timeline: pd.DataFrame) -> np.ndarray:
    """For each row of a (user, time)-sorted timeline, the row index of the user's first
    rating in the same second."""
    users = timeline["user_id"].to_numpy()
    seconds = timeline["timestamp"].to_numpy()
    starts = np.ones(len(timeline), dtype=bool)
    starts[1:] = (users[1:] != users[:-1]) | (seconds[1:] != seconds[:-1])
    return np.maximum.accumulate(np.where(starts, np.arange(len(timeline)), 0))


def make_windows(timeline: pd.DataFrame, length: int = 4, step: int = 2) -> pd.DataFrame:
    """One row per window: its target rating plus hist_movie_k / hist_rating_k, k = 1..length-1.

    `timeline` is the output of split_in_time (sorted by user, then time). Targets are the
    positions t with (t + 1) % step == 0, i.e. windows start at step - length, ..., -2, 0, 2, ...
    over the sequence left-padded with length - step empty slots: for length 4 and step 2
    the targets are the 2nd, 4th, 6th... rating and the first window is [pad, pad, r1, r2].
    """
    if not 1 <= step <= length - 1:
        raise ValueError(f"need 1 <= step <= length - 1, got length={length} step={step}")
    hist = length - 1
    movies = timeline["movie_id"].to_numpy()
    ratings = timeline["rating"].to_numpy()
    pos = timeline["pos"].to_numpy()
    targets = np.flatnonzero((pos + 1) % step == 0)
    out = timeline.iloc[targets][["user_id", "movie_id", "rating", "timestamp", "pos", "split"]]
    out = out.reset_index(drop=True)
    # The history ends before the target's second: at the first rating of that second.
    before = _first_of_second(timeline)[targets]
    earlier = pos[targets] - (targets - before)      # the user's ratings strictly before that second
    for k in range(1, hist + 1):              # slot k holds the rating `hist - k + 1` back from there
        back = hist - k + 1
        src = before - back
        padded = earlier < back
        safe = np.where(padded, 0, src)
        out[f"hist_movie_{k}"] = np.where(padded, PAD_MOVIE, movies[safe])
        out[f"hist_rating_{k}"] = np.where(padded, PAD_RATING, ratings[safe])
    return out


def pair_windows(windows: pd.DataFrame, partners: int = 2, seed: int = 0) -> pd.DataFrame:
    """Pairs of window indices (a, b) sharing target movie and split, users distinct.

    Within each (split, movie) group the windows are shuffled (seeded); window at rank r
    is paired with ranks r+1 .. r+partners (mod group size). Each unordered pair is kept
    once, so a window takes part in at most 2 * partners pairs.
    """
    if partners < 1:
        raise ValueError("partners must be >= 1")
    rng = np.random.default_rng(seed)
    key = rng.random(len(windows))
    order = np.lexsort((key, windows["movie_id"].to_numpy(), windows["split"].to_numpy()))
    split = windows["split"].to_numpy()[order]
    movie = windows["movie_id"].to_numpy()[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (split[1:] != split[:-1]) | (movie[1:] != movie[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(order)), 0))
    group_id = np.cumsum(new_group) - 1
    group_size = np.bincount(group_id)[group_id]
    rank = np.arange(len(order)) - group_start

    a_parts, b_parts = [], []
    for j in range(1, partners + 1):
        ok = group_size > j
        a_parts.append(order[ok])
        b_parts.append(order[group_start[ok] + (rank[ok] + j) % group_size[ok]])
    a = np.concatenate(a_parts) if a_parts else np.array([], dtype=np.int64)
    b = np.concatenate(b_parts) if b_parts else np.array([], dtype=np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    _, first = np.unique(lo * (len(windows) + 1) + hi, return_index=True)
    first.sort()
    return pd.DataFrame({"a": a[first], "b": b[first]})
