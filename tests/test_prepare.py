import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data import movielens, prepare
from common.layout import WorkLayout
from tests import raw_fixtures
from transform_fn import features as F
from transform_fn.features import SPLITS


def _rows(out, kinds=("pairs", "singles")):
    return {s: pd.concat([pd.read_csv(out / s / f"{k}.csv", dtype=str, keep_default_na=False) for k in kinds],
                         ignore_index=True) for s in SPLITS}


def _label_pairs(frame):
    """(user, movie) of both ratings behind each row's label."""
    return {(u, m) for side in F.SIDES for u, m in zip(frame[F.user(side)], frame[F.MOVIE])}


def _history_pairs(frame):
    out = set()
    for side in F.SIDES:
        for u, hist in zip(frame[F.user(side)], frame[F.hist_movies(side)]):
            out.update((u, m) for m in hist.split("|") if m)
    return out


def test_no_leakage(tiny_prepared):
    out, _ = tiny_prepared
    rows = _rows(out)
    # A row's label ratings are never among its own inputs.
    for frame in rows.values():
        for side in F.SIDES:
            hist = frame[F.hist_movies(side)].str.split("|")
            assert not any(m in h for m, h in zip(frame[F.MOVIE], hist))
    # No eval/test label appears anywhere in a training row, as label or as history.
    train_seen = _label_pairs(rows["train"]) | _history_pairs(rows["train"])
    for split in ("eval", "test"):
        assert not (_label_pairs(rows[split]) & train_seen), split
    # Eval and test targets are later in each user's history than every training target.
    ratings = pd.read_csv(out / "ratings_by_split.csv", dtype={"user_id": str, "movie_id": str})
    when = ratings.set_index(["user_id", "movie_id"])["timestamp"]
    def target_times(frame):
        keys = [(u, m) for side in F.SIDES for u, m in zip(frame[F.user(side)], frame[F.MOVIE])]
        return pd.Series(when.loc[keys].to_numpy(), index=[u for u, _ in keys])
    last_train = target_times(rows["train"]).groupby(level=0).max()
    for split in ("eval", "test"):
        first = target_times(rows[split]).groupby(level=0).min()
        common = first.index.intersection(last_train.index)
        assert (first[common] >= last_train[common]).all(), split


def test_a_rows_recent_ratings_hold_neither_members_rating_of_the_target(tiny_prepared):
    """The movie's recent raters of a pair row are those before the earlier member's target:
    never a member (their ratings of it are the label); a member's own recent list never holds
    the target movie; train rows before the rolling origin carry none, those after it only
    ratings after it (never an eval or test rating)."""
    out, _ = tiny_prepared
    rows = _rows(out)
    ratings = pd.read_csv(out / "ratings_by_split.csv", dtype={"user_id": str, "movie_id": str})
    period = ratings.set_index(["user_id", "movie_id"])["period"]
    filled, late_filled = 0, 0
    for split, frame in rows.items():
        raters = frame[F.MOVIE_RATERS].str.split("|")
        for side in F.SIDES:
            assert not any(str(u) in r for u, r in zip(frame[F.user(side)], raters)), split
            recent = frame[F.recent_movies(side)].str.split("|")
            assert not any(str(m) in r for m, r in zip(frame[F.MOVIE], recent)), split
            assert (recent.str.len() == F.RECENT_LENGTH).all()
        filled += int(sum(len([x for x in r if x]) for r in raters))
        if split == "train":
            of_target = period.loc[list(zip(frame[F.user("a")], frame[F.MOVIE]))].to_numpy()
            early = of_target == "train_early"
            assert early.any() and (~early).any()
            assert (frame[F.MOVIE_RATERS][early] == "|" * (F.RECENT_LENGTH - 1)).all()
            for side in F.SIDES:
                late = frame[~early]
                for user, movies in zip(late[F.user(side)], late[F.recent_movies(side)].str.split("|")):
                    read = [m for m in movies if m]
                    assert (period.loc[[(user, m) for m in read]] == "train_late").all()
                    late_filled += len(read)
    assert filled > 100 and late_filled > 50


def test_single_user_rows_cover_every_test_rating(tiny_prepared):
    out, manifest = tiny_prepared
    singles = _rows(out, kinds=("singles",))
    for split, frame in singles.items():
        assert (frame[F.user("a")] == frame[F.user("b")]).all() and (frame[F.EXAMPLE_KIND] == "single").all()
        assert len(frame) == manifest["counts"]["singles_per_split"][split]
    assert len(singles["test"]) == manifest["counts"]["ratings_per_split"]["test"]
    ratings = pd.read_csv(out / "ratings_by_split.csv", dtype=str)
    test = ratings[ratings["split"] == "test"]
    assert set(zip(singles["test"][F.user("a")], singles["test"][F.MOVIE])) == set(zip(test.user_id, test.movie_id))
    assert (singles["test"][F.LABEL].astype(float).to_numpy() ==
            test.set_index(["user_id", "movie_id"]).loc[list(zip(singles["test"][F.user("a")],
                                                                 singles["test"][F.MOVIE]))]["rating"].astype(float).to_numpy()).all()


def test_pair_rows_are_consistent(tiny_prepared):
    out, manifest = tiny_prepared
    rows = _rows(out, kinds=("pairs",))
    ratings = pd.read_csv(out / "ratings_by_split.csv", dtype={"user_id": str, "movie_id": str})
    rating = ratings.set_index(["user_id", "movie_id"])["rating"]
    for split, frame in rows.items():
        assert len(frame) == manifest["counts"]["pairs_per_split"][split]
        assert list(frame.columns) == list(F.RAW_COLUMNS)
        assert (frame[F.user("a")] != frame[F.user("b")]).all() and (frame[F.EXAMPLE_KIND] == "pair").all()
        padded = frame[F.hist_movies("a")].str.startswith("|") | frame[F.hist_movies("b")].str.startswith("|")
        assert (frame[F.HISTORY_PADDED] == padded.map({True: "padded", False: "full"})).all()
        assert (frame[F.MOVIE_PRIMARY_GENRE] == frame[F.MOVIE_GENRES].str.split("|").str[0]).all()
        ra = rating.loc[list(zip(frame[F.user("a")], frame[F.MOVIE]))].to_numpy()
        rb = rating.loc[list(zip(frame[F.user("b")], frame[F.MOVIE]))].to_numpy()
        np.testing.assert_allclose(frame[F.LABEL].astype(float), (ra + rb) / 2)
        # Every history has exactly HISTORY_LENGTH slots, padded ones empty in both lists.
        for side in F.SIDES:
            movies = frame[F.hist_movies(side)].str.split("|")
            ratings_ = frame[F.hist_ratings(side)].str.split("|")
            assert movies.map(len).eq(F.HISTORY_LENGTH).all()
            assert all([m == "" for m in ms] == [r == "" for r in rs] for ms, rs in zip(movies, ratings_))


def test_nothing_is_lost(tiny_raw, tiny_prepared):
    _, manifest = tiny_prepared
    _, _, ratings = movielens.read_ml1m(tiny_raw / "ml-1m")
    assert manifest["dropped"] == {} and manifest["repaired"] == {}
    kept = sum(manifest["counts"]["ratings_per_split"].values())
    assert kept + sum(manifest["dropped"].values()) == len(ratings) == manifest["counts"]["raw_ratings"]
    assert sum(manifest["rating_roles"].values()) == kept
    assert manifest["imdb"]["matched"] > 0.9 * manifest["imdb"]["movies"]
    assert manifest["baseline"]["rmse"]["test"] > 0


def test_duplicates_are_dropped_and_counted(tmp_path, tiny_raw):
    raw = tmp_path / "raw"
    (raw / "ml-1m").mkdir(parents=True)
    for name in ("users.dat", "movies.dat"):
        (raw / "ml-1m" / name).write_bytes((tiny_raw / "ml-1m" / name).read_bytes())
    lines = (tiny_raw / "ml-1m" / "ratings.dat").read_text().splitlines()
    u, m, r, t = lines[0].split("::")
    lines.append(f"{u}::{m}::{r}::{int(t) + 5}")
    (raw / "ml-1m" / "ratings.dat").write_text("\n".join(lines) + "\n")
    manifest = prepare.prepare(raw, tmp_path / "out")
    assert manifest["dropped"] == {"ratings.dat: duplicate rating of the same movie (kept the latest)": 1}
    assert manifest["imdb"]["matched"] == 0
    rejects = pd.read_csv(tmp_path / "out" / "rejects.csv")
    assert rejects[["file", "line"]].values.tolist() == [["ratings.dat", 1]]


def test_unchanged_inputs_are_not_rebuilt_and_a_failed_run_keeps_the_old_result(tmp_path, tiny_raw):
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in tiny_raw.rglob("*"):
        if p.is_file():
            (raw / p.relative_to(tiny_raw)).parent.mkdir(parents=True, exist_ok=True)
            (raw / p.relative_to(tiny_raw)).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    first = prepare.prepare(raw, out)
    mtime = (out / "train" / "pairs.csv").stat().st_mtime_ns
    assert prepare.prepare(raw, out) == first
    assert (out / "train" / "pairs.csv").stat().st_mtime_ns == mtime

    with open(raw / "ml-1m" / "ratings.dat", "a") as f:
        f.write("1::2::not-a-number::3\n")
    with pytest.raises(movielens.RawDataError, match=r"ratings.dat:\d+: rating is not a number"):
        prepare.prepare(raw, out, prepare.PrepareConfig(strict=True))
    assert json.loads((out / "manifest.json").read_text())["key"] == first["key"]
    assert (out / "train" / "pairs.csv").stat().st_mtime_ns == mtime


def test_fixture_rows_are_all_accounted_for_in_the_manifest(tmp_path):
    # The fixture is too small to train on (prepare() refuses it: tests/test_bad_input.py), so
    # the tables are checked as build() makes them.
    raw = raw_fixtures.write_ml1m(tmp_path / "raw")
    tables, manifest = prepare.build(raw, prepare.PrepareConfig())
    kept = sum(manifest["counts"]["ratings_per_split"].values())
    dropped = sum(n for reason, n in manifest["dropped"].items() if reason.startswith("ratings.dat"))
    assert kept == 7 and kept + dropped == raw_fixtures.ML1M_RATINGS.count("\n") == manifest["counts"]["raw_ratings"]
    unknown = "not in {} (absent there, or its line rejected)"
    assert manifest["dropped"]["ratings.dat: unknown user: user_id " + unknown.format("users.dat")] == 1
    assert manifest["dropped"]["ratings.dat: unknown movie: movie_id " + unknown.format("movies.dat")] == 1
    rejects = tables["rejects.csv"]
    assert len(rejects) == sum(manifest["dropped"].values()) + sum(manifest["repaired"].values())
    movies = tables["movies.csv"].astype(str)
    assert movies["actors"].str.count("\\|").eq(F.MAX_ACTORS - 1).all()     # never a bare number
    assert set(rejects.columns) == {"file", "line", "action", "reason", "text"}


def test_outputs_are_identical_run_to_run(tmp_path, tiny_raw):
    first = prepare.prepare(tiny_raw, tmp_path / "a", force=True)
    second = prepare.prepare(tiny_raw, tmp_path / "b", force=True)
    assert first["outputs"] == second["outputs"]


# The real ML-100K, where a machine has it: fetched into this clone's work folder
# (`make fetch DATASET=ml-100k`), or a copy beside the clone.
ML100K_PLACES = (WorkLayout.at(Path(__file__).resolve().parents[1] / "work").real_raw / "ml-100k",
                 Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k")
ML100K = next((p for p in ML100K_PLACES if (p / "u.data").exists()), ML100K_PLACES[0])


@pytest.mark.skipif(not (ML100K / "u.data").exists(),
                    reason=f"real ML-100K not present at {' or '.join(map(str, ML100K_PLACES))}")
def test_real_ml100k_prepares_with_every_row_accounted_for(tmp_path):
    manifest = prepare.prepare(ML100K, tmp_path / "ml-100k")
    counts = manifest["counts"]
    assert manifest["format"] == "ml-100k"
    assert (counts["users"], counts["movies"], counts["raw_ratings"]) == (943, 1682, 100_000)
    kept = sum(counts["ratings_per_split"].values())
    assert kept + sum(manifest["dropped"].values()) == 100_000
    assert sum(manifest["rating_roles"].values()) == kept


def test_row_tables_written_a_chunk_at_a_time_are_the_whole_frames_csv(tiny_raw, tiny_prepared, tmp_path):
    """The model rows are never one frame in memory: each table is built and written a chunk
    at a time (prepare.RowTable), byte for byte the CSV of the whole frame, which is what the
    prepared folder holds."""
    tables, _ = prepare.build(tiny_raw, prepare.PrepareConfig())
    for name in ("train/pairs.csv", "test/singles.csv"):
        table = tables[name]
        assert isinstance(table, prepare.RowTable) and len(table) > 3 * 7
        table.write(tmp_path / "chunked.csv", rows=7)
        whole = table.frame().to_csv(index=False, lineterminator="\n")
        assert (tmp_path / "chunked.csv").read_text() == whole == (tiny_prepared[0] / name).read_text()
        assert np.array_equal(table.labels().to_numpy(), table.frame()[F.LABEL].to_numpy())
