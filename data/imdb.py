"""IMDb enrichment: match MovieLens movies to IMDb titles, then add their features.

Matching uses a MovieLens links.csv (movieId -> imdbId) when given, otherwise the
normalised title (and the alternate titles MovieLens gives in parentheses) with the same
year, or a year off by one. The IMDb files are gigabytes: each is read in chunks with
only the needed columns, and only rows of matched titles (and their people) are kept.

Features: runtime, IMDb genres, IMDb rating and votes, the director and up to three lead
actors as integer codes (the spec's LabelEncoder step). Code 0 means unknown (no match
or no person), 1 means "other" (a person in fewer than MIN_MOVIES matched movies),
2.. are the frequent people in order of frequency.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from common.errors import UserError
from data.formats import IMDB_MISSING, ML_TO_IMDB_GENRE
from data.movielens import normalise_title
from data.rejects import Rejects

CHUNK = 500_000
MIN_MOVIES = 2
LEAD_ACTORS = 3
UNKNOWN, OTHER = 0, 1
MOVIE_TYPES = {"movie", "tvMovie", "video"}
_IMDB_TO_ML_GENRE = {v: k for k, v in ML_TO_IMDB_GENRE.items()}


def _chunks(path: Path, usecols: list[str]):
    """The file in chunks; a truncated or damaged file stops with a UserError naming it."""
    rows = 0
    try:
        for chunk in pd.read_csv(path, sep="\t", usecols=usecols, dtype=str, quoting=3, na_values=[IMDB_MISSING],
                                 keep_default_na=False, chunksize=CHUNK, encoding="utf-8"):
            rows += len(chunk)
            yield chunk
    except (EOFError, OSError, zlib.error, UnicodeDecodeError, ValueError) as e:
        # pandas' ParserError is a ValueError, gzip.BadGzipFile an OSError
        raise UserError(f"{path}: damaged, truncated or not an IMDb TSV near line {rows + 2} "
                        f"({type(e).__name__}: {e}); delete it and fetch it again") from e


def _filtered(path: Path, usecols: list[str], column: str, keep: set[str]) -> pd.DataFrame:
    parts = [chunk[chunk[column].isin(keep)] for chunk in _chunks(path, usecols)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=usecols)


def read_links(path: Path, rejects: Rejects | None = None) -> pd.DataFrame:
    """links.csv (movieId,imdbId,...) -> movie_id, tconst. Rows whose ids are not whole numbers
    (or out of range) go to rejects with their line (the header is line 1)."""
    path = Path(path)
    rejects = rejects if rejects is not None else Rejects(strict=True)
    try:
        links = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{path}: not a readable CSV ({type(e).__name__}: {e})") from e
    missing = {"movieId", "imdbId"} - set(links.columns)
    if missing:
        raise UserError(f"{path}: line 1: expected the columns movieId and imdbId, missing {sorted(missing)}")
    rejects.read(path.name, len(links), "utf-8")
    line = np.arange(2, len(links) + 2)
    text = links.astype(str).agg(",".join, axis=1) if len(links) else pd.Series([], dtype=str)
    movie = links["movieId"].str.strip()
    imdb_id = links["imdbId"].str.strip()
    movie_ok = movie.str.fullmatch(r"\d{1,9}").to_numpy()
    imdb_ok = imdb_id.str.fullmatch(r"\d{1,9}").to_numpy()
    rejects.add(path.name, line[~movie_ok], "movieId is not a whole number", text[~movie_ok])
    rejects.add(path.name, line[movie_ok & ~imdb_ok], "imdbId is not a whole number", text[movie_ok & ~imdb_ok])
    ok = movie_ok & imdb_ok
    links = pd.DataFrame({"movie_id": movie[ok].astype("int64").to_numpy(),
                          "tconst": ("tt" + imdb_id[ok].str.zfill(7)).to_numpy()})
    dup = links.duplicated("movie_id", keep="first").to_numpy()
    rejects.add(path.name, line[ok][dup], "duplicate movieId (kept the first)", text[ok][dup])
    rejects.stop_if_strict()
    return links[~dup].reset_index(drop=True)


def match_by_title(movies: pd.DataFrame, basics_path: Path) -> pd.DataFrame:
    """movie_id -> tconst by normalised title and year (exact year first, then +-1)."""
    keys = []
    for movie_id, title, alts, year in zip(movies["movie_id"], movies["title"], movies["alt_titles"], movies["year"]):
        for t in [title, *[a for a in alts.split("|") if a]]:
            keys.append((movie_id, normalise_title(t), year))
    wanted = pd.DataFrame(keys, columns=["movie_id", "norm", "year"]).drop_duplicates()
    names = set(wanted["norm"])
    parts = []
    for chunk in _chunks(basics_path, ["tconst", "titleType", "primaryTitle", "originalTitle", "startYear"]):
        chunk = chunk[chunk["titleType"].isin(MOVIE_TYPES)]
        for column in ("primaryTitle", "originalTitle"):
            norm = chunk[column].fillna("").map(normalise_title)
            hit = norm.isin(names).to_numpy()
            parts.append(pd.DataFrame({"tconst": chunk["tconst"][hit], "norm": norm[hit],
                                       "imdb_year": pd.to_numeric(chunk["startYear"][hit], errors="coerce")}))
    candidates = pd.concat(parts, ignore_index=True).drop_duplicates() if parts else \
        pd.DataFrame(columns=["tconst", "norm", "imdb_year"])
    pairs = wanted.merge(candidates, on="norm")
    pairs["off"] = (pairs["imdb_year"] - pairs["year"]).abs()
    pairs = pairs[pairs["off"] <= 1].sort_values(["movie_id", "off", "tconst"], kind="stable")
    return pairs.drop_duplicates("movie_id")[["movie_id", "tconst"]].reset_index(drop=True)


def _encode_people(per_movie: pd.DataFrame, column: str) -> dict[str, int]:
    """nconst -> code: frequent people 2.., rare ones OTHER."""
    counts = per_movie.drop_duplicates(["tconst", column])[column].value_counts()
    frequent = counts[counts >= MIN_MOVIES]
    ordered = sorted(frequent.items(), key=lambda kv: (-kv[1], kv[0]))
    codes = {n: i + 2 for i, (n, _) in enumerate(ordered)}
    codes.update({n: OTHER for n in counts.index if n not in codes})
    return codes


def movie_features(movies: pd.DataFrame, imdb_dir: Path, links_path: Path | None,
                   rejects: Rejects | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(features per movie_id, people table, counts). Missing values: runtime/rating/votes 0, codes 0."""
    imdb_dir = Path(imdb_dir)
    if links_path is not None and Path(links_path).exists():
        links, method = read_links(links_path, rejects), "links.csv"
        links = links[links["movie_id"].isin(movies["movie_id"])]
    else:
        links, method = match_by_title(movies, imdb_dir / "title.basics.tsv.gz"), "title and year"
    keep = set(links["tconst"])
    basics = _filtered(imdb_dir / "title.basics.tsv.gz", ["tconst", "runtimeMinutes", "genres"], "tconst", keep)
    links = links[links["tconst"].isin(set(basics["tconst"]))]       # an id IMDb does not have is no match
    ratings_path = imdb_dir / "title.ratings.tsv.gz"
    ratings = (_filtered(ratings_path, ["tconst", "averageRating", "numVotes"], "tconst", keep)
               if ratings_path.exists() else pd.DataFrame(columns=["tconst", "averageRating", "numVotes"]))
    directors = _directors(imdb_dir, keep)
    actors = _actors(imdb_dir, keep)
    director_codes, actor_codes = _encode_people(directors, "nconst"), _encode_people(actors, "nconst")

    out = movies[["movie_id"]].merge(links, on="movie_id", how="left")
    out = out.merge(basics, on="tconst", how="left").merge(ratings, on="tconst", how="left")
    out["imdb_matched"] = out["tconst"].notna()
    out["runtime"] = pd.to_numeric(out["runtimeMinutes"], errors="coerce").fillna(0).astype("int64")
    out["imdb_genres"] = out["genres"].fillna("").map(
        lambda g: "|".join(_IMDB_TO_ML_GENRE.get(x, x) for x in g.split(",") if x))
    out["imdb_rating"] = pd.to_numeric(out["averageRating"], errors="coerce").fillna(0.0)
    out["imdb_votes"] = pd.to_numeric(out["numVotes"], errors="coerce").fillna(0).astype("int64")
    first_director = directors.drop_duplicates("tconst").set_index("tconst")["nconst"]
    out["director"] = out["tconst"].map(first_director).map(director_codes).fillna(UNKNOWN).astype("int64")
    leads = actors.assign(code=actors["nconst"].map(actor_codes).astype("int64"))
    leads = leads.groupby("tconst")["code"].agg(lambda c: "|".join(str(x) for x in c))
    out["actors"] = out["tconst"].map(leads).fillna("")

    people = _people(imdb_dir, {**{n: ("director", c) for n, c in director_codes.items()},
                                **{n: ("actor", c) for n, c in actor_codes.items()}})
    counts = {
        "method": method, "movies": int(len(movies)), "matched": int(out["imdb_matched"].sum()),
        "match_rate": round(float(out["imdb_matched"].mean()), 4) if len(out) else 0.0,
        "runtime_known": int((out["runtime"] > 0).sum()),
        "director_known": int((out["director"] != UNKNOWN).sum()),
        "frequent_directors": int(sum(c > OTHER for c in director_codes.values())),
        "frequent_actors": int(sum(c > OTHER for c in actor_codes.values())),
    }
    cols = ["movie_id", "tconst", "imdb_matched", "runtime", "imdb_genres", "imdb_rating", "imdb_votes",
            "director", "actors"]
    return out[cols], people, counts


def _directors(imdb_dir: Path, keep: set[str]) -> pd.DataFrame:
    crew_path = imdb_dir / "title.crew.tsv.gz"
    if crew_path.exists():
        crew = _filtered(crew_path, ["tconst", "directors"], "tconst", keep).dropna()
        crew["nconst"] = crew["directors"].str.split(",").str[0]
        return crew[["tconst", "nconst"]]
    principals = _principals(imdb_dir, keep)
    return principals[principals["category"] == "director"][["tconst", "nconst"]]


def _actors(imdb_dir: Path, keep: set[str]) -> pd.DataFrame:
    principals = _principals(imdb_dir, keep)
    acting = principals[principals["category"].isin(["actor", "actress", "self"])].copy()
    acting["ordering"] = pd.to_numeric(acting["ordering"], errors="coerce")
    acting = acting.sort_values(["tconst", "ordering"], kind="stable")
    return acting.groupby("tconst").head(LEAD_ACTORS)[["tconst", "nconst"]]


def _principals(imdb_dir: Path, keep: set[str]) -> pd.DataFrame:
    path = imdb_dir / "title.principals.tsv.gz"
    if not path.exists():
        return pd.DataFrame(columns=["tconst", "ordering", "nconst", "category"])
    return _filtered(path, ["tconst", "ordering", "nconst", "category"], "tconst", keep)


def _people(imdb_dir: Path, codes: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """Names of the frequent people, for explanations: role, code, nconst, name."""
    frequent = {n for n, (_, c) in codes.items() if c > OTHER}
    path = imdb_dir / "name.basics.tsv.gz"
    names = (_filtered(path, ["nconst", "primaryName"], "nconst", frequent) if path.exists() and frequent
             else pd.DataFrame(columns=["nconst", "primaryName"]))
    table = pd.DataFrame([(codes[n][0], codes[n][1], n) for n in sorted(frequent)], columns=["role", "code", "nconst"])
    table = table.merge(names, on="nconst", how="left").rename(columns={"primaryName": "name"})
    return table.sort_values(["role", "code"]).reset_index(drop=True)


def no_features(movies: pd.DataFrame) -> pd.DataFrame:
    """The explicit missing values for every movie when no IMDb data is given."""
    return pd.DataFrame({"movie_id": movies["movie_id"], "tconst": np.nan, "imdb_matched": False, "runtime": 0,
                         "imdb_genres": "", "imdb_rating": 0.0, "imdb_votes": 0, "director": UNKNOWN, "actors": ""})
