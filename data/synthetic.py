"""Seeded generator of MovieLens and IMDb files in their exact raw formats.

Three shapes: ML-1M's (ml-1m/{users,movies,ratings}.dat, whole stars, demographics),
ML-10M's (ml-10M100K/{movies,ratings}.dat, half stars from 0.5 to 5, no users.dat, genres
spelt as ML-10M spells them) and the CSV releases' (ml-latest-small/{movies,ratings,links}.csv
with their header lines and quoted titles, half stars, no users, the sparse movie ids of the
later releases), each beside imdb/*.tsv.gz and links.csv.

The files it writes are read by the same parsers as the real downloads. The ratings come
from a model with structure that a good recommender can find and a mean predictor cannot:

- latent user and movie factors (movie factors loaded on genres), user and movie biases;
- demographic effects: age group and sex shift the taste for genres;
- popularity skew (Zipf) in which movies get rated, tilted towards each user's taste;
- per-user sessions in time, each with a mood that moves all its ratings together
  (so a user's recent ratings predict the next one);
- taste drift: each user's factors move along a personal direction over their history;
- runtime and director effects on movie quality, visible only through IMDb.

The same seed and size give byte-identical files.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
from pathlib import Path

import numpy as np

from data.formats import (GENRE_ALIASES, ML_AGE_GROUPS, ML_GENRES, ML_TO_IMDB_GENRE, MOVIES_CSV_HEADER,
                          NO_GENRES_LISTED, RATINGS_CSV_HEADER)

# ML-1M's timestamps run from April 2000 to February 2003.
_T0 = 956703932
_T1 = 1046454590


@dataclasses.dataclass(frozen=True)
class Size:
    n_users: int
    n_movies: int
    mean_ratings: float  # per user; every user has at least 20, as in ML-1M
    shape: str = "ml-1m"  # "ml-1m", "ml-10m" or "ml-latest": which release's files, stars and (no) demographics


SHAPES = ("ml-1m", "ml-10m", "ml-latest")
# Where each shape's files go, under the output folder.
FOLDERS = {"ml-1m": "ml-1m", "ml-10m": "ml-10M100K", "ml-latest": "ml-latest-small"}


SIZES = {
    "tiny": Size(n_users=150, n_movies=120, mean_ratings=40),
    "default": Size(n_users=700, n_movies=500, mean_ratings=60),
    "ml-1m": Size(n_users=6040, n_movies=3706, mean_ratings=165.6),
    # ML-1M's catalogue with 3%, 10% and 30% of its users: the scale benchmark's
    # smaller points (make bench).
    "ml-1m-0.03": Size(n_users=181, n_movies=3706, mean_ratings=165.6),
    "ml-1m-0.1": Size(n_users=604, n_movies=3706, mean_ratings=165.6),
    "ml-1m-0.3": Size(n_users=1812, n_movies=3706, mean_ratings=165.6),
    # ML-10M's counts (69,878 users, 10,677 movies, 10,000,054 ratings) and files: half stars,
    # no users.dat. The tests only ever generate a scaled-down copy of this shape: tiny-ml-10m.
    "ml-10m": Size(n_users=69_878, n_movies=10_677, mean_ratings=143.1, shape="ml-10m"),
    "tiny-ml-10m": Size(n_users=150, n_movies=120, mean_ratings=40, shape="ml-10m"),
    # ml-latest-small's counts (610 users, 9,742 movies, 100,836 ratings) and files: a large
    # catalogue over few users, most movies rated by a handful of people.
    "ml-latest-small": Size(n_users=610, n_movies=9_742, mean_ratings=165.3, shape="ml-latest"),
    "tiny-ml-latest": Size(n_users=150, n_movies=120, mean_ratings=40, shape="ml-latest"),
}

_WORDS = (
    "Silent River Night Golden City Last Summer Blue Dream Iron Heart Lost Garden Dark "
    "Star Wild Road Secret Island Broken Mirror Winter Crown Falling Shadow Paper Moon "
    "Red Harbor Little Storm Glass House Hidden Valley Electric Kingdom Crimson Tide "
    "Midnight Express Café Señor Bête Noire Über Jalapeño Fiancée Rêve Smoke Fire"
).split()
_ARTICLES = ("The", "A", "An", "La", "Les", "Das")
_FIRST = "Anna Bruno Carla David Elena Frank Greta Hugo Ines Jonas Karin Luis Marta Nils Olga Pavel".split()
_LAST = "Adams Berg Costa Dubois Eriksen Fischer Garcia Holm Ivanova Jensen Klein Lopez Moreau Novak".split()

# Genre taste by age group (rows follow ML_AGE_GROUPS) and by sex, for a few genres.
_AGE_GENRE = {
    "Action": (0.3, 0.25, 0.1, 0.0, -0.1, -0.2, -0.3),
    "Children's": (0.4, -0.2, -0.2, 0.1, 0.0, -0.1, -0.2),
    "Sci-Fi": (0.2, 0.3, 0.2, 0.0, -0.1, -0.2, -0.3),
    "Drama": (-0.3, -0.1, 0.0, 0.1, 0.2, 0.3, 0.35),
    "War": (-0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4),
    "Film-Noir": (-0.3, -0.2, 0.0, 0.1, 0.2, 0.3, 0.3),
    "Horror": (0.2, 0.3, 0.0, -0.1, -0.2, -0.3, -0.4),
}
_SEX_GENRE = {"Romance": (0.35, -0.15), "Musical": (0.3, -0.1), "Action": (-0.2, 0.1), "War": (-0.25, 0.1)}


def generate(out_dir: str | os.PathLike, size: str = "default", seed: int = 42) -> Path:
    """Writes ml-1m/{users,movies,ratings}.dat (ML-1M's shape), ml-10M100K/{movies,ratings}.dat
    (ML-10M's) or ml-latest-small/{movies,ratings,links}.csv (the CSV releases'), and
    imdb/*.tsv.gz and links.csv, under out_dir."""
    spec = SIZES[size]
    if spec.shape not in SHAPES:
        raise ValueError(f"size {size!r}: unknown shape {spec.shape!r}; choose from {SHAPES}")
    half = spec.shape != "ml-1m"
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    folder = out / FOLDERS[spec.shape]
    folder.mkdir(parents=True, exist_ok=True)
    (out / "imdb").mkdir(parents=True, exist_ok=True)

    movies = _make_movies(rng, spec.n_movies)
    users = _make_users(rng, spec.n_users)      # drawn in both shapes: they shape the ratings
    ratings = _make_ratings(rng, users, movies, spec.mean_ratings, half)

    if spec.shape == "ml-latest":
        movies["id"] = _sparse_ids(rng, len(movies["id"]))
        _write_ml_csv(folder, movies, ratings)
    elif half:
        _write_ml10m(folder, movies, ratings)
    else:
        _write_ml1m(folder, users, movies, ratings)
    _write_imdb(out, rng, movies)
    if spec.shape == "ml-latest":             # the CSV releases carry their own links.csv
        (folder / "links.csv").write_bytes((out / "links.csv").read_bytes())
    return out


# ---------------------------------------------------------------- movies and people

def _make_movies(rng: np.random.Generator, n: int) -> dict:
    n_genres = len(ML_GENRES)
    genre_weight = np.array([8, 4, 1.5, 2, 12, 4, 1.5, 16, 1.5, 0.6, 3.5, 1.5, 1.5, 5, 3, 5, 1.5, 1])
    genre_weight = genre_weight / genre_weight.sum()
    n_gen = rng.choice([1, 2, 3], size=n, p=[0.5, 0.35, 0.15])
    genres = np.zeros((n, n_genres), dtype=bool)
    for i in range(n):  # one draw per movie: a few thousand at most
        genres[i, rng.choice(n_genres, size=n_gen[i], replace=False, p=genre_weight)] = True

    year = np.clip(np.round(2000 - rng.exponential(12, size=n)), 1919, 2000).astype(int)
    runtime = np.clip(rng.normal(108, 20, size=n), 62, 220).round().astype(int)
    runtime[genres[:, ML_GENRES.index("Drama")]] += 12
    runtime[genres[:, ML_GENRES.index("Animation")]] -= 25

    n_directors = max(10, n // 3)
    director = rng.integers(0, n_directors, size=n)
    director_quality = rng.normal(0, 0.35, size=n_directors)
    n_actors = max(20, n)
    actors = rng.zipf(1.6, size=(n, 4)) % n_actors

    k = 8
    genre_factor = rng.normal(0, 0.45, size=(n_genres, k))
    factor = genres @ genre_factor / np.sqrt(n_gen)[:, None] + rng.normal(0, 0.25, size=(n, k))
    quality = (rng.normal(0, 0.3, size=n) + director_quality[director]
               + 0.006 * (runtime - 108))
    # Popularity: Zipf over a random order, nudged towards good movies.
    rank = np.argsort(np.argsort(-(rng.normal(0, 1, size=n) + 1.0 * quality)))
    popularity = 1.0 / (rank + 5.0) ** 0.95

    titles = _make_titles(rng, n)
    return dict(id=np.arange(1, n + 1), title=titles, year=year, genres=genres, runtime=runtime,
                director=director, actors=actors, factor=factor, quality=quality,
                popularity=popularity, n_directors=n_directors, n_actors=n_actors)


def _make_titles(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct titles; about one in six has a leading article, written MovieLens-style."""
    titles, seen = [], set()
    while len(titles) < n:
        words = " ".join(rng.choice(_WORDS, size=rng.integers(1, 4), replace=False))
        if rng.random() < 0.17:
            words = f"{rng.choice(_ARTICLES)} {words}"
        if words not in seen:
            seen.add(words)
            titles.append(words)
    return titles


def _ml_title(title: str, year: int) -> str:
    """'The Matrix', 1999 -> 'Matrix, The (1999)', as movies.dat spells it."""
    first, _, rest = title.partition(" ")
    if first in _ARTICLES and rest:
        title = f"{rest}, {first}"
    return f"{title} ({year})"


# ---------------------------------------------------------------- users and ratings

def _make_users(rng: np.random.Generator, n: int) -> dict:
    age_p = np.array([0.037, 0.183, 0.347, 0.197, 0.091, 0.082, 0.063])
    return dict(
        id=np.arange(1, n + 1),
        female=rng.random(n) < 0.28,
        age=rng.choice(len(ML_AGE_GROUPS), size=n, p=age_p / age_p.sum()),
        occupation=rng.integers(0, 21, size=n),
        zip=[f"{z:05d}" for z in rng.integers(1000, 99999, size=n)],
        factor=rng.normal(0, 0.5, size=(n, 8)),
        drift=rng.normal(0, 0.45, size=(n, 8)),
        bias=rng.normal(0, 0.35, size=n),
    )


def _demographic_taste(users: dict, movies: dict) -> np.ndarray:
    """[n_users, n_movies] genre taste from age group and sex."""
    g = movies["genres"].astype(float)
    g = g / g.sum(axis=1, keepdims=True)
    age_table = np.zeros((len(ML_AGE_GROUPS), len(ML_GENRES)))
    for genre, row in _AGE_GENRE.items():
        age_table[:, ML_GENRES.index(genre)] = row
    sex_table = np.zeros((2, len(ML_GENRES)))  # 0: female, 1: male
    for genre, row in _SEX_GENRE.items():
        sex_table[:, ML_GENRES.index(genre)] = row
    per_user = age_table[users["age"]] + sex_table[(~users["female"]).astype(int)]
    return per_user @ g.T


def _make_ratings(rng: np.random.Generator, users: dict, movies: dict, mean_ratings: float,
                  half: bool = False) -> np.ndarray:
    """Returns [n, 4] int64 rows (user, movie, rating, timestamp) in generation order; with half,
    the rating is in half stars (1..10 for 0.5..5 stars)."""
    n_users, n_movies = len(users["id"]), len(movies["id"])
    counts = 20 + np.round(rng.lognormal(np.log(max(mean_ratings - 20, 1)) - 0.5, 1.0, size=n_users))
    counts = np.minimum(counts, int(0.6 * n_movies)).astype(int)
    demo = _demographic_taste(users, movies)
    rows = []
    chunk = 256
    for start in range(0, n_users, chunk):  # vectorised over a chunk of users
        u = slice(start, min(start + chunk, n_users))
        affinity = users["factor"][u] @ movies["factor"].T + demo[u] + movies["quality"]
        keys = np.log(movies["popularity"])[None, :] + 0.8 * affinity
        keys = keys + rng.gumbel(size=keys.shape)  # Gumbel top-k: sampling without replacement
        order = np.argsort(-keys, axis=1)
        for j, user in enumerate(range(u.start, u.stop)):
            rows.append(_user_history(rng, user, order[j, : counts[user]], users, movies, demo[user], half))
    return np.concatenate(rows)


def _user_history(rng, user, chosen, users, movies, demo_row, half: bool = False) -> np.ndarray:
    """One user's ratings: sessions in time, session mood, taste drift."""
    n = len(chosen)
    # Sessions cluster similar genres: order the picks by primary genre plus noise.
    primary = movies["genres"][chosen].argmax(axis=1)
    chosen = chosen[np.argsort(primary + rng.normal(0, 4, size=n), kind="stable")]
    n_sessions = 1 + rng.poisson(n / 25)
    session = np.sort(rng.integers(0, n_sessions, size=n))
    start = rng.uniform(_T0, _T1 - 3e7)
    span = min(rng.exponential(1.2e7), _T1 - start - 1e5)
    session_start = np.sort(start + rng.uniform(0, span, size=n_sessions))
    gaps = rng.integers(20, 400, size=n)
    t = session_start[session] + np.cumsum(gaps) - np.cumsum(gaps)[np.searchsorted(session, session)]
    t = t.astype(np.int64)
    order = np.argsort(t, kind="stable")
    chosen, session, t = chosen[order], session[order], t[order]

    progress = np.linspace(0, 1, n)
    factor = users["factor"][user][None, :] + (progress - 0.5)[:, None] * users["drift"][user][None, :]
    mood = rng.normal(0, 0.35, size=n_sessions)[session]
    score = (3.0 + users["bias"][user] + movies["quality"][chosen]
             + np.sum(factor * movies["factor"][chosen], axis=1) * 1.3
             + demo_row[chosen] + mood + rng.normal(0, 0.7, size=n))
    # Whole stars 1..5, or half stars 0.5..5 counted in halves (1..10): the same score, finer.
    rating = (np.clip(np.round(2 * score), 1, 10) if half else np.clip(np.round(score), 1, 5)).astype(np.int64)
    return np.stack([np.full(n, user + 1), chosen + 1, rating, t], axis=1)


# ---------------------------------------------------------------- writers

def _write_ml1m(out: Path, users: dict, movies: dict, ratings: np.ndarray) -> None:
    with open(out / "users.dat", "w", encoding="latin-1", newline="\n") as f:
        for i in range(len(users["id"])):
            sex = "F" if users["female"][i] else "M"
            f.write(f"{users['id'][i]}::{sex}::{ML_AGE_GROUPS[users['age'][i]]}::"
                    f"{users['occupation'][i]}::{users['zip'][i]}\n")
    with open(out / "movies.dat", "w", encoding="latin-1", newline="\n") as f:
        for i in range(len(movies["id"])):
            genres = "|".join(g for g, on in zip(ML_GENRES, movies["genres"][i]) if on)
            f.write(f"{movies['id'][i]}::{_ml_title(movies['title'][i], movies['year'][i])}::{genres}\n")
    # ratings.dat is sorted by user, then in the order MovieLens wrote it (not by time).
    order = np.lexsort((ratings[:, 1], ratings[:, 0]))
    buf = io.StringIO()
    np.savetxt(buf, ratings[order], fmt="%d", delimiter="\t")
    with open(out / "ratings.dat", "w", encoding="latin-1", newline="\n") as f:
        f.write(buf.getvalue().replace("\t", "::"))


def _write_ml10m(out: Path, movies: dict, ratings: np.ndarray) -> None:
    """movies.dat and ratings.dat as ML-10M writes them: `::`-separated, UTF-8, genres spelt
    the later releases' way (Children), stars as 4 or 3.5; no users.dat."""
    spelling = {v: k for k, v in GENRE_ALIASES.items()}
    with open(out / "movies.dat", "w", encoding="utf-8", newline="\n") as f:
        for i in range(len(movies["id"])):
            genres = "|".join(spelling.get(g, g) for g, on in zip(ML_GENRES, movies["genres"][i]) if on)
            f.write(f"{movies['id'][i]}::{_ml_title(movies['title'][i], movies['year'][i])}::{genres}\n")
    order = np.lexsort((ratings[:, 1], ratings[:, 0]))
    rows = ratings[order].astype(np.float64)
    rows[:, 2] /= 2                                  # halves -> stars
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt=["%d", "%d", "%g", "%d"], delimiter="\t")
    with open(out / "ratings.dat", "w", encoding="utf-8", newline="\n") as f:
        f.write(buf.getvalue().replace("\t", "::"))


def _sparse_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Increasing movie ids with gaps, as the later releases number them (ml-latest-small's
    9,742 movies run up to id 193,609)."""
    return np.cumsum(1 + (rng.random(n) < 0.3) * rng.integers(0, 60, size=n))


def _write_ml_csv(out: Path, movies: dict, ratings: np.ndarray) -> None:
    """movies.csv and ratings.csv as ML-20M, ML-25M and ml-latest(-small) write them: a header
    line, titles quoted where they hold a comma or a quote, genres spelt the later releases'
    way, stars as 4.0 or 3.5, rows by user then movie id. ratings' movie column holds the
    generator's positions (1-based) and is written as the movies' ids."""
    spelling = {v: k for k, v in GENRE_ALIASES.items()}
    with open(out / "movies.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(MOVIES_CSV_HEADER.split(","))
        for i in range(len(movies["id"])):
            genres = "|".join(spelling.get(g, g) for g, on in zip(ML_GENRES, movies["genres"][i]) if on)
            w.writerow([movies["id"][i], _ml_title(movies["title"][i], movies["year"][i]), genres or NO_GENRES_LISTED])
    rows = ratings.astype(np.float64)
    rows[:, 1] = movies["id"][ratings[:, 1] - 1]
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    rows[:, 2] /= 2                                  # halves -> stars
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt=["%d", "%d", "%.1f", "%d"], delimiter=",")
    with open(out / "ratings.csv", "w", encoding="utf-8", newline="\n") as f:
        f.write(RATINGS_CSV_HEADER + "\n" + buf.getvalue())


def _tsv_gz(path: Path, header: list[str], rows) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        text = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
        w = csv.writer(text, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE,
                       escapechar=None, quotechar=None)
        w.writerow(header)
        w.writerows(rows)
        text.flush()
        text.detach()


def _write_imdb(out: Path, rng: np.random.Generator, movies: dict) -> None:
    n = len(movies["id"])
    missing = "\\N"
    matched = rng.random(n) > 0.05            # about 5% of movies have no IMDb title
    runtime_known = rng.random(n) > 0.03      # and a few titles have no runtime
    tconst = [f"tt{1000000 + 37 * i:07d}" for i in range(n)]
    director_id = [f"nm{2000000 + d:07d}" for d in range(movies["n_directors"])]
    actor_id = [f"nm{3000000 + a:07d}" for a in range(movies["n_actors"])]

    basics, crew, principals, ratings = [], [], [], []
    for i in np.flatnonzero(matched):
        genres = [ML_TO_IMDB_GENRE.get(g, g) for g, on in zip(ML_GENRES, movies["genres"][i]) if on]
        runtime = str(movies["runtime"][i]) if runtime_known[i] else missing
        basics.append([tconst[i], "movie", movies["title"][i], movies["title"][i], "0",
                       str(movies["year"][i]), missing, runtime, ",".join(genres[:3])])
        d = director_id[movies["director"][i]]
        crew.append([tconst[i], d, missing])
        principals.append([tconst[i], "1", d, "director", missing, missing])
        for order, a in enumerate(dict.fromkeys(movies["actors"][i]), start=2):
            principals.append([tconst[i], str(order), actor_id[a], "actor", missing, f'["Role {order}"]'])
        avg = np.clip(6.4 + 1.2 * movies["quality"][i] + rng.normal(0, 0.4), 1, 10)
        votes = int(200 + 2e6 * movies["popularity"][i] * rng.uniform(0.5, 1.5))
        ratings.append([tconst[i], f"{avg:.1f}", str(votes)])
    # Titles MovieLens does not have: TV episodes and other movies, as in the real dump.
    for j in range(n // 2):
        t = f"tt{9000000 + j:07d}"
        kind = "tvEpisode" if j % 3 else "movie"
        basics.append([t, kind, f"Other Title {j}", f"Other Title {j}", "0",
                       str(1950 + j % 50), missing, missing, "Drama"])

    names = [[d, f"{_FIRST[k % len(_FIRST)]} {_LAST[k % len(_LAST)]}", str(1930 + k % 40), missing,
              "director", missing] for k, d in enumerate(director_id)]
    names += [[a, f"{_LAST[k % len(_LAST)]} {_FIRST[k % len(_FIRST)]}", missing, missing,
               "actor", missing] for k, a in enumerate(actor_id)]

    imdb = out / "imdb"
    _tsv_gz(imdb / "title.basics.tsv.gz", ["tconst", "titleType", "primaryTitle", "originalTitle",
                                           "isAdult", "startYear", "endYear", "runtimeMinutes", "genres"],
            basics)
    _tsv_gz(imdb / "title.ratings.tsv.gz", ["tconst", "averageRating", "numVotes"], ratings)
    _tsv_gz(imdb / "title.crew.tsv.gz", ["tconst", "directors", "writers"], crew)
    _tsv_gz(imdb / "title.principals.tsv.gz",
            ["tconst", "ordering", "nconst", "category", "job", "characters"], principals)
    _tsv_gz(imdb / "name.basics.tsv.gz", ["nconst", "primaryName", "birthYear", "deathYear",
                                          "primaryProfession", "knownForTitles"], names)
    # MovieLens links.csv: movieId,imdbId (digits without 'tt'),tmdbId.
    with open(out / "links.csv", "w", newline="\n") as f:
        f.write("movieId,imdbId,tmdbId\n")
        for i in np.flatnonzero(matched):
            f.write(f"{movies['id'][i]},{tconst[i][2:]},{100000 + i}\n")
