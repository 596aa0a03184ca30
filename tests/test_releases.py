"""The MovieLens releases after ML-1M: ML-10M (`::` files, no users.dat) and the CSV family
(ML-20M, ML-25M, ml-latest, ml-latest-small: header lines, quoted titles, CRLF), with half
stars and no demographics. Hand-written fixtures in their formats (tests/raw_fixtures.py)
go through detection, the parsers and the whole data stage."""

import json

import numpy as np
import pandas as pd
import pytest

from data import movielens, prepare
from data.formats import UNKNOWN_AGE, UNKNOWN_OCCUPATION, UNKNOWN_SEX
from data.rejects import RawDataError, Rejects
from tests import raw_fixtures as R
from tests.test_bad_input import prepare_cli
from transform_fn import features as F

HALF_STEPS = {x / 2 for x in range(1, 11)}           # 0.5, 1.0, ..., 5.0
GRID = {(u, m): float(R.half_stars(u, m)) for u in range(1, R.HALF_USERS + 1) for m in range(1, R.HALF_MOVIES + 1)}


def _rejects(rejects: Rejects) -> list:
    return rejects.frame()[["file", "line", "reason"]].values.tolist()


def test_ml10m_is_found_in_its_folder_or_a_parent_and_read_with_half_stars(tmp_path):
    root = R.write_ml10m(tmp_path / "raw")
    inner = root / "ml-10M100K"
    assert movielens.locate(root) == ("ml-10m", inner)
    assert movielens.locate(inner) == ("ml-10m", inner)
    rejects = Rejects()
    fmt, users, movies, ratings = movielens.read_movielens(root, rejects)
    assert fmt == "ml-10m" and movielens.source_files(fmt) == (None, "movies.dat", "ratings.dat")
    got = {(u, m): r for u, m, r in zip(ratings["user_id"], ratings["movie_id"], ratings["rating"])}
    assert got == GRID and ratings["rating"].dtype == np.float64          # 3.5 stays 3.5
    assert users["user_id"].tolist() == list(range(1, R.HALF_USERS + 1))
    assert (users["sex"] == UNKNOWN_SEX).all() and (users["age"] == UNKNOWN_AGE).all()
    assert (users["occupation"] == UNKNOWN_OCCUPATION).all()
    genres = dict(zip(movies["movie_id"], movies["ml_genres"]))
    assert genres[1] == "Adventure|Animation|Children's|Comedy|Fantasy"    # ML-10M spells it Children
    assert genres[5] == "Action|Crime|Drama|IMAX" and genres[7] == ""      # (no genres listed): none
    assert dict(zip(movies["movie_id"], movies["title"]))[3] == "The City of Lost Children"
    n = R.HALF_USERS * R.HALF_MOVIES
    assert _rejects(rejects) == [["ratings.dat", n + 1, "rating is not a whole or half star (a multiple of 0.5)"],
                                 ["ratings.dat", n + 2, "rating outside 0.5..5"],
                                 ["ratings.dat", n + 3, "rating outside 0.5..5"]]
    assert "tags.dat" not in rejects.files                                # not read


def test_ml_latest_small_csv_with_header_crlf_and_quoted_titles(tmp_path):
    root = R.write_ml_latest_small(tmp_path / "raw")
    inner = root / "ml-latest-small"
    assert movielens.locate(root) == movielens.locate(inner) == ("ml-latest-small", inner)
    rejects = Rejects()
    fmt, users, movies, ratings = movielens.read_movielens(inner, rejects)
    assert fmt == "ml-latest-small"
    got = {(u, m): r for u, m, r in zip(ratings["user_id"], ratings["movie_id"], ratings["rating"])}
    assert got == GRID
    titles = dict(zip(movies["movie_id"], movies["title"]))
    assert titles[2] == "The American President" and titles[8] == "Les Misérables"   # commas inside quotes
    assert titles[6] == '"Great Performances" Cats'                                 # doubled quotes
    assert movies.set_index("movie_id").loc[10, ["title", "year"]].tolist() == ["Babylon 5", 0]
    assert dict(zip(movies["movie_id"], movies["ml_genres"]))[5] == "Action|Adventure|Sci-Fi|IMAX"
    assert set(users["sex"]) == {UNKNOWN_SEX}
    # Line numbers are the file's: line 1 is the header.
    n = R.HALF_USERS * R.HALF_MOVIES
    assert _rejects(rejects) == [["movies.csv", 14, "expected 3 fields separated by ','"],
                                 ["ratings.csv", n + 2, "rating is not a whole or half star (a multiple of 0.5)"],
                                 ["ratings.csv", n + 3, "rating is not a number"]]
    assert rejects.files["ratings.csv"] == {"lines": n + 3, "encoding": "ascii", "header": 1}


@pytest.mark.parametrize("release", ["ml-10m", "ml-10m-crlf", "ml-latest-small", "ml-latest-small-lf"])
def test_the_data_stage_prepares_valid_tables_without_demographics(release, tmp_path):
    write = {"ml-10m": lambda r: R.write_ml10m(r), "ml-10m-crlf": lambda r: R.write_ml10m(r, crlf=True),
             "ml-latest-small": lambda r: R.write_ml_latest_small(r),
             "ml-latest-small-lf": lambda r: R.write_ml_latest_small(r, crlf=False)}[release]
    raw = write(tmp_path / "raw")
    out = tmp_path / "out"
    manifest = prepare.prepare(raw, out)
    assert manifest["format"] == release.removesuffix("-crlf").removesuffix("-lf")
    assert manifest["demographics"].startswith("unknown")
    assert manifest["rating_scale"] == {"min": 0.5, "max": 5.0, "step": 0.5}

    # Every kept rating exactly as written: a 3.5 in the input is a 3.5 here.
    kept = pd.read_csv(out / F.RATINGS_FILE)
    assert {(u, m): r for u, m, r in zip(kept["user_id"], kept["movie_id"], kept["rating"])} == GRID
    assert R.half_stars(1, 5) == "3.5" and kept.query("user_id == 1 and movie_id == 5")["rating"].item() == 3.5
    # Every line of every file read is kept, dropped, or the header.
    for name, info in manifest["files"].items():
        assert info["lines"] == info.get("header", 0) + info["kept"] + info["dropped"], name
    assert manifest["files"][movielens.source_files(manifest["format"])[2]]["kept"] == len(GRID)

    users = pd.read_csv(out / "users.csv", keep_default_na=False)
    assert users.to_dict("list") == {"user_id": list(range(1, R.HALF_USERS + 1)), "sex": [UNKNOWN_SEX] * R.HALF_USERS,
                                     "age": [UNKNOWN_AGE] * R.HALF_USERS,
                                     "occupation": [UNKNOWN_OCCUPATION] * R.HALF_USERS}
    for split in F.SPLITS:
        for kind in ("pairs", "singles"):
            rows = pd.read_csv(out / split / f"{kind}.csv", keep_default_na=False)
            assert tuple(rows.columns) == F.RAW_COLUMNS and len(rows), (split, kind)
            for side in F.SIDES:
                assert set(rows[F.sex(side)]) == {UNKNOWN_SEX} and set(rows[F.age(side)]) == {UNKNOWN_AGE}
                assert set(rows[F.occupation(side)]) == {UNKNOWN_OCCUPATION}
            assert rows[F.LABEL].between(0.5, 5.0).all()
            stars = [float(x) for side in F.SIDES
                     for col in (F.hist_ratings(side), F.recent_ratings(side))
                     for joined in rows[col] for x in str(joined).split(F.LIST_SEPARATOR) if x]
            stars += [float(x) for joined in rows[F.MOVIE_RATER_RATINGS] for x in str(joined).split("|") if x]
            assert set(stars) <= HALF_STEPS, (split, kind)             # history slots never truncated
    rows = pd.read_csv(out / "train" / "pairs.csv")
    assert any("3.5" in h.split("|") for h in rows[F.hist_ratings("a")])

    movies = pd.read_csv(out / "movies.csv", keep_default_na=False).set_index("movie_id")
    assert movies.loc[1, "genres"] == "Adventure|Animation|Children's|Comedy|Fantasy"
    assert movies.loc[7, "genres"] == F.NO_GENRES
    if release.startswith("ml-latest-small"):
        # links.csv's IMDb ids are kept (no IMDb files here, so nothing is joined from them).
        assert movies.loc[1, "tconst"] == "tt0114709" and movies.loc[4, "tconst"] == ""
        assert not movies["imdb_matched"].astype(str).eq("True").any()
        assert manifest["imdb"]["tconst_from_links"] == 4


def test_a_half_star_is_kept_in_the_ml1m_format_too(tmp_path, capsys):
    """One rule for every release: whole or half stars, 0.5..5."""
    lines = R.grid_ratings().splitlines()
    lines[0] = lines[0].rsplit("::", 2)[0] + "::0.5::" + lines[0].rsplit("::", 1)[1]     # user 1, movie 1
    raw = R.write_grid(tmp_path / "raw", ratings="\n".join(lines) + "\n")
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 0, stderr
    kept = pd.read_csv(tmp_path / "out" / F.RATINGS_FILE)
    assert kept.query("user_id == 1 and movie_id == 1")["rating"].item() == 0.5
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["format"] == "ml-1m" and manifest["rating_scale"]["step"] == 0.5
    assert manifest["demographics"] == "sex, age and occupation from users.dat"


def test_whole_stars_stay_whole_numbers(tmp_path):
    raw = R.write_grid(tmp_path / "raw")
    tables, manifest = prepare.build(raw, prepare.PrepareConfig())
    assert tables[F.RATINGS_FILE]["rating"].dtype == np.int64
    assert manifest["rating_scale"] == {"min": 1.0, "max": 5.0, "step": 1.0}
    assert not tables["train/pairs.csv"].frame()[F.hist_ratings("a")].str.contains(".", regex=False).any()


def test_a_folder_holding_two_releases_is_refused_naming_both(tmp_path):
    R.write_ml10m(tmp_path / "raw")
    R.write_ml_latest_small(tmp_path / "raw")
    with pytest.raises(FileNotFoundError, match=r"several MovieLens releases \(ml-10M100K/, ml-latest-small/\)"):
        movielens.detect_format(tmp_path / "raw")
    assert movielens.detect_format(tmp_path / "raw" / "ml-latest-small") == "ml-latest-small"


def test_a_csv_release_of_another_name_and_a_flat_ml10m_folder_are_found(tmp_path):
    R.write_ml_latest_small(tmp_path / "a")
    (tmp_path / "a" / "ml-latest-small").rename(tmp_path / "mine")
    assert movielens.locate(tmp_path / "mine") == ("ml-csv", tmp_path / "mine")
    R.write_ml10m(tmp_path / "b")
    assert movielens.detect_format(tmp_path / "b" / "ml-10M100K") == "ml-10m"
    for name in ("ml-20m", "ml-25m", "ml-latest"):
        R.write_ml_latest_small(tmp_path / name)
        (tmp_path / name / "ml-latest-small").rename(tmp_path / name / name)
        assert movielens.locate(tmp_path / name) == (name, tmp_path / name / name)


def test_a_csv_file_without_its_header_is_refused_naming_file_and_line(tmp_path, capsys):
    grid = "".join(line + "\n" for line in R.half_star_grid(","))
    raw = R.write_ml_latest_small(tmp_path / "raw", ratings=grid)
    with pytest.raises(RawDataError, match=r"ratings.csv:1: expected the header line 'userId,movieId,rating,timestamp'"):
        movielens.read_movielens(raw, Rejects())
    code, _, stderr = prepare_cli(capsys, raw, tmp_path / "out")
    assert code == 2 and "ratings.csv:1: expected the header line" in stderr and "Traceback" not in stderr


def test_strict_names_the_first_bad_line_of_a_csv_release(tmp_path):
    raw = R.write_ml_latest_small(tmp_path / "raw")
    with pytest.raises(RawDataError, match=r"movies.csv:14: expected 3 fields"):
        movielens.read_movielens(raw, Rejects(strict=True))


def test_the_curated_schema_takes_the_unknown_bucket_and_half_star_labels(tmp_path):
    """pipeline/schema/schema.pbtxt allows what a release without demographics writes: sex U,
    age 0 (occupation 0 is ML-1M's own "not specified"), labels down to 0.5: ExampleValidator
    finds nothing in the rows of an ML-10M-format fixture."""
    tfdv = pytest.importorskip("tensorflow_data_validation")
    from pipeline.config import PipelineConfig

    raw = R.write_ml10m(tmp_path / "raw")
    prepare.prepare(raw, tmp_path / "out")
    rows = pd.concat([pd.read_csv(tmp_path / "out" / s / f"{k}.csv", keep_default_na=False)
                      for s in F.SPLITS for k in ("pairs", "singles")], ignore_index=True)
    assert rows[F.LABEL].min() == 0.5
    stats = tfdv.generate_statistics_from_dataframe(rows)
    schema = tfdv.load_schema_text(PipelineConfig.schema_file)
    found = tfdv.validate_statistics(stats, schema, environment="TRAINING").anomaly_info
    assert not found, dict(found)      # the schema allows the unknown bucket and half-star labels

