import filecmp
import gzip

import numpy as np
import pandas as pd

from data import movielens, synthetic
from data.formats import ML_AGE_GROUPS


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_byte_identical_files(tmp_path, tiny_raw):
    again = synthetic.generate(tmp_path / "again", "tiny", seed=7)
    assert _files(again) == _files(tiny_raw)
    for rel in _files(tiny_raw):
        assert filecmp.cmp(again / rel, tiny_raw / rel, shallow=False), rel


def test_other_seed_gives_other_ratings(tmp_path, tiny_raw):
    other = synthetic.generate(tmp_path / "other", "tiny", seed=8)
    assert (other / "ml-1m" / "ratings.dat").read_bytes() != (tiny_raw / "ml-1m" / "ratings.dat").read_bytes()


def test_files_are_in_the_real_formats(tiny_raw):
    users, movies, ratings = movielens.read_ml1m(tiny_raw / "ml-1m")
    assert len(users) == synthetic.SIZES["tiny"].n_users
    assert set(users["age"]) <= set(ML_AGE_GROUPS) and set(users["sex"]) == {"F", "M"}
    assert ratings["rating"].between(1, 5).all()
    assert ratings.groupby("user_id").size().min() >= 20          # as in ML-1M
    # movies.dat is latin-1 and holds MovieLens-style titles with the article moved back.
    raw = (tiny_raw / "ml-1m" / "movies.dat").read_bytes()
    assert raw.decode("latin-1").count("::") == 2 * len(movies)
    assert (movies["year"] > 1900).all()
    with gzip.open(tiny_raw / "imdb" / "title.basics.tsv.gz", "rt") as f:
        header = f.readline().rstrip("\n").split("\t")
        assert header == ["tconst", "titleType", "primaryTitle", "originalTitle", "isAdult",
                          "startYear", "endYear", "runtimeMinutes", "genres"]
        assert any("\\N" in line for line in f)
    links = pd.read_csv(tiny_raw / "links.csv", dtype=str)
    assert list(links.columns) == ["movieId", "imdbId", "tmdbId"] and links["imdbId"].str.len().eq(7).all()


def test_planted_structure_is_there(tiny_raw):
    """Movies and users differ in mean rating far beyond noise: a mean predictor is beatable."""
    _, _, ratings = movielens.read_ml1m(tiny_raw / "ml-1m")
    overall = ratings["rating"].std()
    by_movie = ratings.groupby("movie_id")["rating"].agg(["mean", "size"])
    by_user = ratings.groupby("user_id")["rating"].mean()
    assert by_movie.loc[by_movie["size"] >= 20, "mean"].std() > 0.3
    assert by_user.std() > 0.3
    assert 3.2 < ratings["rating"].mean() < 4.0 and 0.9 < overall < 1.4
    # Popularity skew: the top 10% of movies hold more than twice their share of ratings.
    counts = np.sort(ratings.groupby("movie_id").size().to_numpy())[::-1]
    assert counts[: len(counts) // 10].sum() > 0.2 * counts.sum()
