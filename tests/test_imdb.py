import pandas as pd

from data import imdb, movielens
from data.rejects import Rejects
from tests import raw_fixtures


def _movies(tmp_path):
    root = raw_fixtures.write_ml1m(tmp_path / "raw")
    _, movies, _ = movielens.read_ml1m(root / "ml-1m", Rejects())
    return root, movies


def test_match_by_title_handles_articles_alternate_titles_and_year_off_by_one(tmp_path):
    root, movies = _movies(tmp_path)
    matched = imdb.match_by_title(movies, root / "imdb" / "title.basics.tsv.gz")
    assert dict(zip(matched.movie_id, matched.tconst)) == {
        1: "tt0114709",      # not the TV episode of the same name
        2: "tt0113828",      # latin-1 'Misérables, Les' against UTF-8 'Les Misérables'
        3: "tt0112682",
        4: "tt0112346",      # IMDb says 1996, MovieLens 1995
    }


def test_features_codes_and_explicit_missing_values(tmp_path):
    root, movies = _movies(tmp_path)
    features, people, counts = imdb.movie_features(movies, root / "imdb", None)
    f = features.set_index("movie_id")
    assert counts["matched"] == 4 and counts["match_rate"] == 1.0 and counts["method"] == "title and year"
    assert f.loc[1, "runtime"] == 81 and f.loc[2, "runtime"] == 0              # \\N -> 0 (unknown)
    assert f.loc[1, "imdb_rating"] == 8.3 and f.loc[4, "imdb_votes"] == 0
    assert f.loc[1, "imdb_genres"] == "Animation|Adventure|Comedy"
    # Lasseter directs 2 matched movies: a frequent person (code 2); the City's director is rare.
    assert f.loc[1, "director"] == f.loc[4, "director"] == 2
    assert f.loc[3, "director"] == imdb.OTHER and f.loc[2, "director"] == imdb.UNKNOWN
    # Tom Hanks leads two movies: code 2; Buzz's actor appears once: "other".
    assert f.loc[1, "actors"] == "2|1" and f.loc[4, "actors"] == "2" and f.loc[2, "actors"] == ""
    assert people.query("role == 'actor' and code == 2")["name"].item() == "Tom Hanks"


def test_links_take_precedence_and_unknown_ids_are_no_match(tmp_path):
    root = raw_fixtures.write_ml1m(tmp_path / "raw", links=True)
    _, movies, _ = movielens.read_ml1m(root / "ml-1m", Rejects())
    features, _, counts = imdb.movie_features(movies, root / "imdb", root / "links.csv")
    assert counts["method"] == "links.csv"
    assert features.set_index("movie_id")["imdb_matched"].to_dict() == {1: True, 2: True, 3: True, 4: False}


def test_reads_in_chunks(tmp_path, monkeypatch):
    root, movies = _movies(tmp_path)
    monkeypatch.setattr(imdb, "CHUNK", 2)
    features, _, counts = imdb.movie_features(movies, root / "imdb", None)
    assert counts["matched"] == 4 and isinstance(features, pd.DataFrame)
