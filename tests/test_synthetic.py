import filecmp
import gzip

import numpy as np
import pandas as pd

from data import movielens, synthetic
from data.formats import ML_AGE_GROUPS, UNKNOWN_SEX
from data.rejects import Rejects
from data.synthetic import Size


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


def test_an_ml10m_shaped_size_is_declared_and_a_scaled_down_one_reads_like_ml10m(tmp_path, monkeypatch):
    spec = synthetic.SIZES["ml-10m"]
    assert (spec.n_users, spec.n_movies, spec.shape) == (69_878, 10_677, "ml-10m")
    assert abs(spec.n_users * spec.mean_ratings - 10_000_054) < 0.01 * 10_000_054
    # The same shape at a tiny scale (the full size is never generated in the tests).
    assert synthetic.SIZES["tiny-ml-10m"] == Size(n_users=150, n_movies=120, mean_ratings=40, shape="ml-10m")
    raw = synthetic.generate(tmp_path / "raw", "tiny-ml-10m", seed=7)
    assert sorted(p.name for p in (raw / "ml-10M100K").iterdir()) == ["movies.dat", "ratings.dat"]   # no users.dat
    assert movielens.locate(raw) == ("ml-10m", raw / "ml-10M100K")
    text = (raw / "ml-10M100K" / "ratings.dat").read_text()
    assert "::3.5::" in text and "::4::" in text and "::4.0::" not in text      # as ML-10M writes stars
    assert "Children's" not in (raw / "ml-10M100K" / "movies.dat").read_text(encoding="utf-8")   # spelt Children
    rejects = Rejects(strict=True)
    fmt, users, movies, ratings = movielens.read_movielens(raw, rejects)
    assert fmt == "ml-10m" and rejects.frame().empty
    assert set(ratings["rating"]) <= {x / 2 for x in range(1, 11)} and (ratings["rating"] % 1 == 0.5).any()
    assert len(users) == 150 and set(users["sex"]) == {UNKNOWN_SEX}
    assert any("Children's" in g for g in movies["ml_genres"])
    assert 3.2 < ratings["rating"].mean() < 4.0


def test_an_ml_latest_small_shaped_size_writes_the_csv_release_files(tmp_path):
    spec = synthetic.SIZES["ml-latest-small"]
    assert (spec.n_users, spec.n_movies, spec.shape) == (610, 9_742, "ml-latest")
    assert abs(spec.n_users * spec.mean_ratings - 100_836) < 0.01 * 100_836
    raw = synthetic.generate(tmp_path / "raw", "tiny-ml-latest", seed=7)
    inner = raw / "ml-latest-small"
    assert sorted(p.name for p in inner.iterdir()) == ["links.csv", "movies.csv", "ratings.csv"]
    assert movielens.locate(raw) == ("ml-latest-small", inner)
    text = (inner / "ratings.csv").read_text()
    assert text.startswith("userId,movieId,rating,timestamp\n") and ",3.5," in text and ",4.0," in text
    assert '"' in (inner / "movies.csv").read_text(encoding="utf-8")      # a title with a comma, quoted
    rejects = Rejects(strict=True)
    fmt, users, movies, ratings = movielens.read_movielens(raw, rejects)
    assert fmt == "ml-latest-small" and rejects.frame().empty
    ids = movies["movie_id"].to_numpy()
    assert len(ids) == 120 and ids.max() > 130 and set(ratings["movie_id"]) <= set(ids)   # ids with gaps
    assert set(ratings["rating"]) <= {x / 2 for x in range(1, 11)} and (ratings["rating"] % 1 == 0.5).any()
    assert len(users) == 150 and set(users["sex"]) == {UNKNOWN_SEX}
    # the same ratings as the ML-10M shape of the same seed, under the new ids
    *_, ml10m = movielens.read_movielens(synthetic.generate(tmp_path / "ten", "tiny-ml-10m", seed=7), Rejects())
    position = {m: i + 1 for i, m in enumerate(ids)}
    assert sorted(zip(ratings["user_id"], ratings["movie_id"].map(position), ratings["rating"], ratings["timestamp"])) \
        == sorted(zip(ml10m["user_id"], ml10m["movie_id"], ml10m["rating"], ml10m["timestamp"]))


def test_the_ml1m_shape_is_unchanged_by_the_half_star_option(tiny_raw):
    _, _, ratings = movielens.read_ml1m(tiny_raw / "ml-1m")
    assert ratings["rating"].dtype == np.int64 and set(ratings["rating"]) <= {1, 2, 3, 4, 5}
    assert not (tiny_raw / "ml-10M100K").exists()
