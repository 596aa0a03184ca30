"""The scikit-surprise peer reads what the model reads (bench/peers.py), and the eval split's
cut for tuning on the later period keeps each movie on one side (trainer_fn/run.py)."""

import numpy as np
import pandas as pd
import pytest

from bench import peers
from transform_fn import features as F

S = F.LIST_SEPARATOR


def _row(kind, a, b, movie, hist, recent, raters):
    """hist/recent: {side: [(movie, rating)]}; raters: [(user, rating)]."""
    row = {"kind": kind, F.user("a"): a, F.user("b"): b, F.MOVIE: movie,
           F.MOVIE_RATERS: S.join(str(u) for u, _ in raters), F.MOVIE_RATER_RATINGS: S.join(str(r) for _, r in raters)}
    for side in F.SIDES:
        row[F.hist_movies(side)] = S.join(str(m) for m, _ in hist.get(side, []))
        row[F.hist_ratings(side)] = S.join(str(r) for _, r in hist.get(side, []))
        row[F.recent_movies(side)] = S.join(str(m) for m, _ in recent.get(side, []))
        row[F.recent_ratings(side)] = S.join(str(r) for _, r in recent.get(side, []))
    return row


def test_the_peer_reads_the_window_and_the_recent_slots_once_each_and_the_raters():
    rows = pd.DataFrame([
        _row("pair", 1, 2, 50, {"a": [(10, 5.0), (11, 4.0)], "b": [(12, 2.0)]},
             {"a": [(11, 4.0), (13, 3.0)], "b": []}, [(7, 1.0), (8, 2.0)]),
        _row("single", 3, 3, 60, {"a": [(14, 5.0)], "b": [(14, 5.0)]}, {"a": [], "b": []}, []),
    ])
    (members, raters), (single_members, single_raters) = peers._history(rows)
    # movie 11 is in A's window and recent slots: once; B's window; the single person once
    assert sorted(members) == [(1, 10, 5.0), (1, 11, 4.0), (1, 13, 3.0), (2, 12, 2.0)]
    assert raters == [(7, 50, 1.0), (8, 50, 2.0)]
    assert single_members == [(3, 14, 5.0)] and single_raters == []


class _Constant:
    """An algorithm that predicts 3.0 for every (user, movie), in surprise's predict shape."""
    def predict(self, user, movie):
        return type("P", (), {"est": 3.0})()


def test_the_residuals_are_the_means_of_each_group_and_zero_when_empty():
    rows = pd.DataFrame([_row("pair", 1, 2, 50, {"a": [(10, 5.0)], "b": [(12, 2.0)]}, {}, [(7, 1.0)]),
                         _row("single", 3, 3, 60, {}, {}, [])])
    pred, r = peers._predict(_Constant(), rows, peers._history(rows))
    assert pred == pytest.approx([3.0, 3.0])
    assert r.tolist() == [[0.5, -2.0], [0.0, 0.0]]


def test_the_later_period_cut_keeps_each_movie_on_one_side():
    from trainer_fn.run import later_period_halves

    data = {F.MOVIE_IDX: np.arange(400) % 97, "row": np.arange(400)}
    names = [f"m{i}" for i in range(97)]
    (tune, tune_y), (held, held_y) = later_period_halves(data, np.arange(400, dtype=float), names)
    assert not set(tune[F.MOVIE_IDX]) & set(held[F.MOVIE_IDX])
    assert len(tune_y) + len(held_y) == 400 and 0.1 < len(held_y) / 400 < 0.45
    assert sorted(np.concatenate([tune["row"], held["row"]])) == list(range(400))   # nothing lost
    assert (tune_y == tune["row"]).all()      # labels stay with their rows
    # by raw id: the same movies held whatever index the vocabulary gives them
    order = np.random.default_rng(0).permutation(97)
    _, (held_a, _) = later_period_halves(data, np.arange(400, dtype=float), names)
    moved = {F.MOVIE_IDX: np.argsort(order)[data[F.MOVIE_IDX]], "row": data["row"]}
    _, (held_b, _) = later_period_halves(moved, np.arange(400, dtype=float), [names[j] for j in order])
    assert held_a["row"].tolist() == held_b["row"].tolist() and len(held_a["row"])
