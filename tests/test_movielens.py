import numpy as np
import pytest

from data import movielens
from data.rejects import RawDataError, Rejects
from tests import raw_fixtures


@pytest.mark.parametrize("raw, title, year", [
    ("American President, The (1995)", "The American President", 1995),
    ("Toy Story (1995)", "Toy Story", 1995),
    ("City of Lost Children, The (Cité des enfants perdus, La) (1995)", "The City of Lost Children", 1995),
    ("Misérables, Les (1995)", "Les Misérables", 1995),
    ("No Year Given", "No Year Given", 0),
])
def test_split_title(raw, title, year):
    assert movielens.split_title(raw) == (title, year)


def test_alternate_titles_and_normalisation():
    title, year, alts = movielens.parse_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)")
    assert alts == ["La Cité des enfants perdus"]
    assert movielens.normalise_title(alts[0]) == "cite des enfants perdus"
    assert movielens.normalise_title("The American President") == movielens.normalise_title("American President")


def test_ml1m_fixture_rows_are_kept_dropped_or_repaired_with_reasons(tmp_path):
    root = raw_fixtures.write_ml1m(tmp_path)
    rejects = Rejects()
    users, movies, ratings = movielens.read_ml1m(root / "ml-1m", rejects)
    assert users["user_id"].tolist() == [1, 2, 3]
    assert movies["title"].tolist() == ["Toy Story", "Les Misérables", "The City of Lost Children",
                                        "The American President"]
    assert movies.loc[movies.movie_id == 4, "ml_genres"].item() == "Comedy|Drama|Romance"
    frame = rejects.frame()
    by_line = {(f, line): reason for f, line, reason in zip(frame.file, frame.line, frame.reason)}
    assert by_line[("users.dat", 4)] == "sex is not F or M"
    assert by_line[("users.dat", 5)] == "duplicate user_id (kept the first)"
    assert by_line[("movies.dat", 4)] == "unknown genre removed"
    assert by_line[("movies.dat", 5)].startswith("expected 3 fields")
    assert by_line[("ratings.dat", 6)] == "rating outside 0.5..5"
    assert by_line[("ratings.dat", 7)] == "rating is not a number"
    assert by_line[("ratings.dat", 8)] == "duplicate rating of the same movie (kept the latest)"
    assert by_line[("ratings.dat", 13)].startswith("expected 4 fields")
    assert frame.loc[frame.line == 4].query("file == 'movies.dat'")["action"].item() == "repaired"
    # Every ratings line is kept or dropped with a reason (unknown refs are checked in prepare).
    assert len(ratings) + rejects.dropped("ratings.dat") == raw_fixtures.ML1M_RATINGS.count("\n")
    assert ratings.query("user_id == 2 and movie_id == 4")["rating"].item() == 5


def test_strict_mode_names_file_and_line(tmp_path):
    root = raw_fixtures.write_ml1m(tmp_path)
    with pytest.raises(RawDataError, match=r"users.dat:4: sex is not F or M"):
        movielens.read_ml1m(root / "ml-1m", Rejects(strict=True))


def test_ml100k_maps_onto_the_ml1m_schema(tmp_path):
    root = raw_fixtures.write_ml100k(tmp_path / "ml-100k")
    fmt, users, movies, ratings = movielens.read_movielens(root, Rejects(strict=True))
    assert fmt == "ml-100k"
    assert users["age"].tolist() == [18, 50, 1, 56]                  # 24, 53, 17, 60
    assert users["occupation"].tolist() == [17, 0, 4, 1]             # technician, other, student, librarian
    assert movies["ml_genres"].tolist() == ["Animation|Children's|Comedy", "Action|Adventure|Thriller", ""]
    assert movies["year"].tolist() == [1995, 1995, 0]
    assert len(ratings) == 5 and list(ratings.columns[:4]) == ["user_id", "movie_id", "rating", "timestamp"]


def test_age_groups():
    np.testing.assert_array_equal(movielens.age_group(np.array([7, 17, 18, 24, 25, 34, 35, 44, 45, 49, 50, 55, 56, 90])),
                                  [1, 1, 18, 18, 25, 25, 35, 35, 45, 45, 50, 50, 56, 56])


def test_no_movielens_files_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no MovieLens files found"):
        movielens.detect_format(tmp_path)
