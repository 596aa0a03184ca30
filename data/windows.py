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

from transform_fn.features import EARLY_PERIOD, EVAL_SPLIT, LATE_PERIOD, SPLITS, TEST_SPLIT, TRAIN_PERIODS, TRAIN_SPLIT

PAD_MOVIE = -1       # padded history slot (written as '' in the prepared CSVs)
PAD_RATING = 0


def split_in_time(ratings: pd.DataFrame, fractions=(0.8, 0.1, 0.1), origin: float = 0.75) -> pd.DataFrame:
    """Adds pos (0-based rank in the user's time order), n (user's count), split and period.

    Ties in timestamp are broken by movie id, so the order is deterministic. All ratings
    of one (user, second) get the split of the first of them, so the boundary between two
    splits never falls inside a second.

    period: the split, with train cut in two at a rolling origin, the first `origin` of each
    user's train ratings (EARLY_PERIOD) and the rest (LATE_PERIOD), the second never
    straddled either. The Trainer's deep part learns on the late rows over baselines fitted on
    the early ratings (FITTED_ON), so its training rows look like the eval and test rows it is
    judged and served on: out-of-sample residuals and recent slots filled.
    """
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"split fractions must sum to 1, got {fractions}")
    if not 0.0 < origin <= 1.0:
        raise ValueError(f"the rolling origin must be a fraction in (0, 1] of each user's train ratings, got {origin}")
    out = ratings.sort_values(["user_id", "timestamp", "movie_id"], kind="stable").reset_index(drop=True)
    out["pos"] = out.groupby("user_id").cumcount().astype("int64")
    out["n"] = out.groupby("user_id")["pos"].transform("size").astype("int64")
    train_end = np.floor(out["n"] * fractions[0]).astype("int64")
    eval_end = np.floor(out["n"] * (fractions[0] + fractions[1])).astype("int64")
    early_end = np.floor(train_end * origin).astype("int64")
    period = np.select([out["pos"] < early_end, out["pos"] < train_end, out["pos"] < eval_end],
                       [EARLY_PERIOD, LATE_PERIOD, EVAL_SPLIT], TEST_SPLIT)
    first_of_second = _first_of_second(out)
    out["period"] = period[first_of_second]
    out["split"] = np.where(np.isin(out["period"], TRAIN_PERIODS), TRAIN_SPLIT, out["period"])
    return out


def _first_of_second(timeline: pd.DataFrame) -> np.ndarray:
    """For each row of a (user, time)-sorted timeline, the row index of the user's first
    rating in the same second."""
    users = timeline["user_id"].to_numpy()
    seconds = timeline["timestamp"].to_numpy()
    starts = np.ones(len(timeline), dtype=bool)
    starts[1:] = (users[1:] != users[:-1]) | (seconds[1:] != seconds[:-1])
    return np.maximum.accumulate(np.where(starts, np.arange(len(timeline)), 0))


def make_windows(timeline: pd.DataFrame, length: int = 4, step: int = 2, splits=None) -> pd.DataFrame:
    """One row per window: its target rating plus hist_movie_k / hist_rating_k, k = 1..length-1;
    with `splits`, only the windows whose target is in one of them (the same rows as filtering
    the whole output, without building the others).

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
    if splits is not None:
        if isinstance(splits, str):
            raise TypeError(f"splits is a collection of split names, not the string {splits!r}")
        targets = targets[np.isin(timeline["split"].to_numpy()[targets], list(splits))]
    out = timeline.iloc[targets][["user_id", "movie_id", "rating", "timestamp", "pos", "split", "period"]]
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
    """Pairs of window indices (a, b) sharing target movie and period (so split), users distinct:
    the two members of a train pair are both before the rolling origin or both after it.

    Within each (period, movie) group the windows are shuffled (seeded); window at rank r
    is paired with ranks r+1 .. r+partners (mod group size). Each unordered pair is kept
    once, so a window takes part in at most 2 * partners pairs.
    """
    if partners < 1:
        raise ValueError("partners must be >= 1")
    rng = np.random.default_rng(seed)
    key = rng.random(len(windows))
    period = (windows["period"] if "period" in windows.columns else windows["split"]).to_numpy()
    order = np.lexsort((key, windows["movie_id"].to_numpy(), period))
    group = period[order]
    movie = windows["movie_id"].to_numpy()[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (group[1:] != group[:-1]) | (movie[1:] != movie[:-1])
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


# The periods (split_in_time) whose ratings the baseline that scores a row of each period has
# learnt from (trainer_fn: the deep part is trained on late train rows over the fit on the early
# ratings; the Trainer chooses on eval rows with the fit on train; test rows and served requests
# are scored with the refit on train + eval), and the periods a row's "recent" ratings come
# from: those its baseline has not learnt from, strictly before its target's second, and never
# a later split's for a train row (a training row never reads an eval or test rating). Early
# train rows have none (their baseline saw every rating they could read).
FITTED_ON = {EARLY_PERIOD: None, LATE_PERIOD: (EARLY_PERIOD,), EVAL_SPLIT: TRAIN_PERIODS,
             TEST_SPLIT: (*TRAIN_PERIODS, EVAL_SPLIT)}
RECENT_FROM = {EARLY_PERIOD: (), LATE_PERIOD: (LATE_PERIOD,), EVAL_SPLIT: (EVAL_SPLIT, TEST_SPLIT),
               TEST_SPLIT: (TEST_SPLIT,)}
# What the service's recent slots are drawn from: the ratings after the pushed model's refit set.
SERVED_RECENT_FROM = (TEST_SPLIT,)


def recent_ratings(timeline: pd.DataFrame, windows: pd.DataFrame, length: int) -> pd.DataFrame:
    """For each window (make_windows' rows), its user's and its target movie's latest `length`
    ratings of the periods RECENT_FROM names for the row's period (those its baseline has not
    learnt from), strictly before the target's second, oldest first, left-padded:

    - recent_movie_k / recent_rating_k: the user's own;
    - rater_user_k / rater_rating_k: the target movie's, by other users (a user rates a movie
      once, and the user's own rating of it is the target itself).
    PAD_MOVIE / PAD_RATING in empty slots; a window's own label is never among them.
    """
    out = {}
    n = len(windows)
    period = windows["period"].to_numpy()
    user_t, movie_t, time_t = (windows[c].to_numpy() for c in ("user_id", "movie_id", "timestamp"))
    t_period = timeline["period"].to_numpy()
    for kind, by, key_t, fields in (("recent", "user_id", user_t, ("movie_id", "rating")),
                                    ("rater", "movie_id", movie_t, ("user_id", "rating"))):
        # Ids as int64; ratings in their own type (whole stars int64, half stars float64: never truncated).
        dtypes = {f: timeline[f].dtype if f == "rating" else np.int64 for f in fields}
        values = {f: np.full((n, length), PAD_MOVIE if f != "rating" else PAD_RATING, dtype=dtypes[f])
                  for f in fields}
        for row_period, sources in RECENT_FROM.items():
            rows = np.flatnonzero(period == row_period)
            if not sources or not len(rows):
                continue
            pool = timeline[np.isin(t_period, sources)]
            pool = pool.sort_values([by, "timestamp"], kind="stable")
            owner = pool[by].to_numpy().astype(np.int64)
            stamp = pool["timestamp"].to_numpy().astype(np.int64)
            # (owner, second) as one sortable key: the first pooled rating of the owner at or
            # after the target's second, and the owner's first pooled rating; what lies between
            # is strictly earlier.
            keys, query, first = _keys(owner, stamp, key_t[rows], time_t[rows])
            pos = np.searchsorted(keys, query, side="left")
            start = np.searchsorted(keys, first, side="left")
            available = pos - start
            columns = {f: pool[f].to_numpy().astype(dtypes[f]) for f in fields}
            for k in range(1, length + 1):            # slot k holds the rating `length - k + 1` back
                back = length - k + 1
                ok = available >= back
                src = np.where(ok, pos - back, 0)
                for f, column in columns.items():
                    pad = PAD_MOVIE if f != "rating" else PAD_RATING
                    values[f][rows, k - 1] = np.where(ok, column[src] if len(column) else pad, pad)
        names = {"movie_id": "movie", "user_id": "user", "rating": "rating"}
        for f in fields:
            for k in range(1, length + 1):
                out[f"{kind}_{names[f]}_{k}"] = values[f][:, k - 1]
    return pd.DataFrame(out, index=windows.index)


def _keys(owner, stamp, key_owner, key_stamp):
    """(owner, second) pairs as one sortable int64 each, through dense ranks (any id and any
    second fit): the pooled ratings' keys, the targets' keys, and each target owner's first key."""
    owners = np.unique(np.concatenate([owner, key_owner]))
    seconds = np.unique(np.concatenate([stamp, key_stamp]))
    width = np.int64(len(seconds) + 1)

    def key(o, t):
        return np.searchsorted(owners, o).astype(np.int64) * width + np.searchsorted(seconds, t).astype(np.int64) + 1

    return key(owner, stamp), key(key_owner, key_stamp), np.searchsorted(owners, key_owner).astype(np.int64) * width
