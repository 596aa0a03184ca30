import numpy as np
import pandas as pd
import pytest

from data.windows import FITTED_ON, PAD_MOVIE, RECENT_FROM, make_windows, pair_windows, recent_ratings, split_in_time


def _ratings(rows):
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])


def test_time_split_is_per_user_and_in_time_order():
    # User 1 rated 10 movies in reverse id order; user 2 rated 5.
    rows = [(1, 100 - i, 1 + i % 5, 1000 + i) for i in range(10)] + [(2, i, 3, 50 + i) for i in range(5)]
    t = split_in_time(_ratings(rows)[::-1])
    u1 = t[t.user_id == 1]
    assert u1["timestamp"].is_monotonic_increasing
    assert u1["split"].tolist() == ["train"] * 8 + ["eval"] + ["test"]
    assert t[t.user_id == 2]["split"].tolist() == ["train"] * 4 + ["test"]
    with pytest.raises(ValueError):
        split_in_time(_ratings(rows), (0.5, 0.1, 0.1))


def test_windows_length_4_step_2_with_padding():
    rows = [(1, 10 + i, 1 + i % 5, i) for i in range(7)]   # movies 10..16, ratings 1,2,3,4,5,1,2
    w = make_windows(split_in_time(_ratings(rows)), length=4, step=2)
    # Targets: the 2nd, 4th, 6th rating; first window is [pad, pad, 10, 11].
    assert w["movie_id"].tolist() == [11, 13, 15]
    assert w[["hist_movie_1", "hist_movie_2", "hist_movie_3"]].values.tolist() == [
        [PAD_MOVIE, PAD_MOVIE, 10], [10, 11, 12], [12, 13, 14]]
    assert w[["hist_rating_1", "hist_rating_2", "hist_rating_3"]].values.tolist() == [
        [0, 0, 1], [1, 2, 3], [3, 4, 5]]
    assert w["rating"].tolist() == [2, 4, 1]


def test_window_never_holds_its_own_label_or_a_later_rating():
    rng = np.random.default_rng(0)
    rows = [(u, int(m), int(rng.integers(1, 6)), int(t)) for u in range(1, 30)
            for t, m in enumerate(rng.choice(200, size=int(rng.integers(3, 40)), replace=False))]
    timeline = split_in_time(_ratings(rows))
    w = make_windows(timeline)
    when = timeline.set_index(["user_id", "movie_id"])["pos"]
    for k in (1, 2, 3):
        real = w[w[f"hist_movie_{k}"] != PAD_MOVIE]
        assert (real[f"hist_movie_{k}"] != real["movie_id"]).all()
        hist_pos = when.loc[list(zip(real["user_id"], real[f"hist_movie_{k}"]))].to_numpy()
        assert (hist_pos < real["pos"].to_numpy()).all()


def _windows_for_pairing(n_users=40, movies=6, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user_id": np.repeat(np.arange(n_users), movies),
        "movie_id": np.tile(np.arange(movies), n_users),
        "split": rng.choice(["train", "eval", "test"], size=n_users * movies),
        "rating": rng.integers(1, 6, size=n_users * movies),
    })


@pytest.mark.parametrize("partners", [1, 2, 3])
def test_pairing_is_bounded_and_matches_movie_and_split(partners):
    w = _windows_for_pairing()
    pairs = pair_windows(w, partners=partners, seed=3)
    a, b = w.iloc[pairs["a"]].reset_index(), w.iloc[pairs["b"]].reset_index()
    assert (a["movie_id"] == b["movie_id"]).all() and (a["split"] == b["split"]).all()
    assert (a["user_id"] != b["user_id"]).all()
    per_window = np.bincount(np.concatenate([pairs["a"], pairs["b"]]), minlength=len(w))
    assert per_window.max() <= 2 * partners
    unordered = {tuple(sorted(p)) for p in pairs.itertuples(index=False)}
    assert len(unordered) == len(pairs)                      # no (A, B) and (B, A) twice
    # Never all pairs: groups here have ~13 windows, i.e. ~78 possible pairs each.
    assert len(pairs) <= partners * len(w)


def test_pairing_is_seeded():
    w = _windows_for_pairing()
    assert pair_windows(w, 2, seed=5).equals(pair_windows(w, 2, seed=5))
    assert not pair_windows(w, 2, seed=5).equals(pair_windows(w, 2, seed=6))


def test_single_window_group_gets_no_partner():
    w = pd.DataFrame({"user_id": [1, 2, 3], "movie_id": [7, 8, 8], "split": ["train", "train", "test"],
                      "rating": [1, 2, 3]})
    assert len(pair_windows(w, 2, seed=0)) == 0


def test_a_rating_of_the_targets_second_is_never_history():
    # User 1: movies 10..15; 12, 13 and 14 were rated in the same second (ML-100K: half the
    # ratings share a second with the user's previous one; their order inside it is unknown).
    rows = [(1, 10, 1, 100), (1, 11, 2, 200), (1, 12, 3, 300), (1, 13, 4, 300), (1, 14, 5, 300), (1, 15, 1, 400)]
    w = make_windows(split_in_time(_ratings(rows), (1.0, 0.0, 0.0)), length=4, step=2)
    slots = ["hist_movie_1", "hist_movie_2", "hist_movie_3"]
    by_target = w.set_index("movie_id")[slots]
    # Target 13 (second 300): history is what came before second 300, not movie 12.
    assert by_target.loc[13].tolist() == [PAD_MOVIE, 10, 11]
    # Target 15 (second 400): the three ratings before it, the same-second ones included.
    assert by_target.loc[15].tolist() == [12, 13, 14]
    assert by_target.loc[11].tolist() == [PAD_MOVIE, PAD_MOVIE, 10]


def test_no_history_slot_is_from_the_targets_second_or_later_and_no_second_straddles_a_split():
    rng = np.random.default_rng(3)
    rows = [(u, int(m), int(rng.integers(1, 6)), int(t)) for u in range(1, 40)
            for m, t in zip(rng.choice(300, size=30, replace=False), np.sort(rng.integers(0, 12, size=30)))]
    timeline = split_in_time(_ratings(rows))
    assert (timeline.groupby(["user_id", "timestamp"])["split"].nunique() == 1).all()
    when = {(u, m): t for u, m, _, t in rows}
    w = make_windows(timeline, length=4, step=2)
    checked = 0
    for row in w.itertuples():
        for k in (1, 2, 3):
            movie = getattr(row, f"hist_movie_{k}")
            if movie != PAD_MOVIE:
                assert when[(row.user_id, movie)] < row.timestamp
                checked += 1
    assert checked > 100


def test_recent_ratings_are_outside_the_rows_baseline_fit_and_before_its_second():
    """Every recent slot (the user's own, and the target movie's other raters) is a rating of
    the periods RECENT_FROM names for the row's period (never one its baseline has learnt from,
    never a later split's for a train row), strictly before the target's second, and the latest
    such ones, oldest first; train rows before the rolling origin have none, those after it do."""
    rng = np.random.default_rng(5)
    rows = [(u, int(m), int(rng.integers(1, 6)), int(t)) for u in range(1, 60)
            for m, t in zip(rng.choice(40, size=25, replace=False), np.sort(rng.integers(0, 400, size=25)))]
    timeline = split_in_time(_ratings(rows))
    w = make_windows(timeline, length=4, step=1)
    length = 4
    rec = recent_ratings(timeline, w, length)
    period = {(u, m): s for u, m, s in zip(timeline["user_id"], timeline["movie_id"], timeline["period"])}
    when = {(u, m): t for u, m, _, t in rows}
    stars = {(u, m): r for u, m, r, _ in rows}
    filled, late = {"recent": 0, "rater": 0}, {"recent": 0, "rater": 0}
    for row, slots in zip(w.itertuples(), rec.itertuples()):
        sources = RECENT_FROM[row.period]
        assert not set(sources) & set(FITTED_ON[row.period] or ())
        if row.split == "train":
            assert set(sources) <= {"train_late"}
        for kind, owner_is_user in (("recent", True), ("rater", False)):
            got = [(getattr(slots, f"{kind}_{'movie' if owner_is_user else 'user'}_{k}"),
                    getattr(slots, f"{kind}_rating_{k}")) for k in range(1, length + 1)]
            got = [(x, r) for x, r in got if x != PAD_MOVIE]
            keys = [(row.user_id, x) if owner_is_user else (x, row.movie_id) for x, _ in got]
            # what the slots should be: every such rating, in time order, the latest `length`
            pool = sorted(((when[k], k) for k in when
                           if (k[0] == row.user_id if owner_is_user else k[1] == row.movie_id and k[0] != row.user_id)
                           and period[k] in sources and when[k] < row.timestamp))
            expected = [k for _, k in pool][-length:]
            assert sorted(keys, key=lambda k: (when[k], k)) == sorted(expected, key=lambda k: (when[k], k))
            assert [when[k] for k in keys] == sorted(when[k] for k in keys)          # oldest first
            assert all(stars[k] == r for k, (_, r) in zip(keys, got))
            assert (row.user_id, row.movie_id) not in keys                        # never the label
            filled[kind] += len(keys)
            late[kind] += len(keys) * (row.period == "train_late")
    assert filled["recent"] > 100 and filled["rater"] > 100
    assert late["recent"] > 20 and late["rater"] > 20
    assert not rec[(w["period"] == "train_early").to_numpy()].filter(like="_1").ne(PAD_MOVIE).filter(
        regex="movie|user").any().any()


def test_the_rolling_origin_cuts_each_users_train_ratings_in_time_without_splitting_a_second():
    rng = np.random.default_rng(11)
    rows = [(u, int(m), int(rng.integers(1, 6)), int(t)) for u in range(1, 30)
            for m, t in zip(rng.choice(200, size=40, replace=False), np.sort(rng.integers(0, 60, size=40)))]
    timeline = split_in_time(_ratings(rows), origin=0.75)
    order = {"train_early": 0, "train_late": 1, "eval": 2, "test": 3}
    for _, mine in timeline.groupby("user_id"):
        rank = mine["period"].map(order).to_numpy()
        assert (np.diff(rank) >= 0).all()                                  # in time order
        assert set(mine.loc[mine["split"] == "train", "period"]) <= {"train_early", "train_late"}
    assert (timeline.groupby(["user_id", "timestamp"])["period"].nunique() == 1).all()
    assert (timeline["period"] == "train_late").sum() > 100
    assert split_in_time(_ratings(rows), origin=0.75)["split"].equals(split_in_time(_ratings(rows), origin=1.0)["split"])
    assert not (split_in_time(_ratings(rows), origin=1.0)["period"] == "train_late").any()
    with pytest.raises(ValueError, match="rolling origin"):
        split_in_time(_ratings(rows), origin=0.0)


def test_pairs_never_join_the_two_sides_of_the_rolling_origin():
    rng = np.random.default_rng(12)
    rows = [(u, int(m), int(rng.integers(1, 6)), int(t)) for u in range(1, 80)
            for m, t in zip(rng.choice(30, size=20, replace=False), np.sort(rng.integers(0, 400, size=20)))]
    w = make_windows(split_in_time(_ratings(rows)), length=4, step=2)
    pairs = pair_windows(w, partners=2, seed=0)
    period = w["period"].to_numpy()
    assert (period[pairs["a"]] == period[pairs["b"]]).all()
    assert ((period[pairs["a"]] == "train_late").sum() > 10)


def test_windows_of_some_splits_are_those_rows_of_all_windows():
    rng = np.random.default_rng(3)
    n = 600
    ratings = pd.DataFrame({"user_id": rng.integers(1, 20, n), "movie_id": rng.integers(1, 80, n),
                            "rating": rng.integers(1, 6, n), "timestamp": rng.integers(0, 200, n)})
    ratings = ratings.drop_duplicates(["user_id", "movie_id"])
    timeline = split_in_time(ratings)
    every = make_windows(timeline, 4, step=1)
    for splits in (["test"], ["train", "eval"]):
        some = make_windows(timeline, 4, step=1, splits=splits)
        expected = every[every["split"].isin(splits)].reset_index(drop=True)
        assert len(some) and set(some["split"]) == set(splits)
        pd.testing.assert_frame_equal(some, expected)
