"""Parsers for MovieLens 1M (users.dat, movies.dat, ratings.dat) and MovieLens 100K
(u.user, u.item, u.data), both mapped onto one schema:

    users:   user_id, sex (F/M), age (ML-1M age group code), occupation (ML-1M code), zip
    movies:  movie_id, raw_title, title, year, alt_titles, ml_genres ('|'-joined)
    ratings: user_id, movie_id, rating (1..5), timestamp, line

Every bad row is dropped (or, for a fixable field, repaired) and recorded in a Rejects
with its file, line and reason; in strict mode the first one raises instead.

ML-100K differences, and how they map:
- ages are numbers; they become ML-1M's age groups: under 18 -> 1, 18-24 -> 18,
  25-34 -> 25, 35-44 -> 35, 45-49 -> 45, 50-55 -> 50, 56 and over -> 56;
- occupations are names; they become ML-1M codes (OCCUPATIONS_100K below);
- genres are 19 flags; the flag 'unknown' is dropped, the rest are '|'-joined.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from data.formats import ML_AGE_GROUPS, ML_GENDERS, ML_GENRES
from common.errors import UserError
from data.rejects import RawDataError, Rejects
from data.windows import PAD_MOVIE

__all__ = ["RawDataError", "read_ml1m", "read_ml100k", "read_movielens", "split_title", "normalise_title"]

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
_ALT_TITLE = re.compile(r"^(?P<title>.*?)\s*\((?:a\.k\.a\.\s*)?(?P<alt>[^()]+)\)\s*$")
_ARTICLES = "The|A|An|La|Le|Les|L'|Il|Das|Der|Die|El|Los|Las|Det|Den"
_TRAILING_ARTICLE = re.compile(rf"^(?P<rest>.*), (?P<article>{_ARTICLES})$")

GENRES_100K = ("unknown",) + ML_GENRES
# ML-100K occupation names -> ML-1M occupation codes (0 is "other or not specified").
OCCUPATIONS_100K = {
    "administrator": 3, "artist": 2, "doctor": 6, "educator": 1, "engineer": 17,
    "entertainment": 0, "executive": 7, "healthcare": 6, "homemaker": 9, "lawyer": 11,
    "librarian": 1, "marketing": 14, "none": 0, "other": 0, "programmer": 12, "retired": 13,
    "salesman": 14, "scientist": 15, "student": 4, "technician": 17, "writer": 20,
}


def age_group(age: np.ndarray) -> np.ndarray:
    """Numeric ages -> ML-1M age group codes."""
    bounds = np.array([18, 25, 35, 45, 50, 56])
    return np.array(ML_AGE_GROUPS)[np.searchsorted(bounds, age, side="right")]


# ---------------------------------------------------------------- titles

def _move_article(title: str) -> str:
    a = _TRAILING_ARTICLE.match(title)
    if not a:
        return title
    sep = "" if a["article"].endswith("'") else " "
    return f"{a['article']}{sep}{a['rest']}"


def split_title(raw: str) -> tuple[str, int]:
    """'American President, The (1995)' -> ('The American President', 1995); year 0 if absent."""
    title, year, _ = parse_title(raw)
    return title, year


def parse_title(raw: str) -> tuple[str, int, list[str]]:
    """Title with its article in front, year, and alternate titles given in parentheses.

    'City of Lost Children, The (Cité des enfants perdus, La) (1995)'
    -> ('The City of Lost Children', 1995, ['La Cité des enfants perdus'])
    """
    m = _TITLE_YEAR.match(raw)
    title, year = (m["title"], int(m["year"])) if m else (raw.strip(), 0)
    alts = []
    while (a := _ALT_TITLE.match(title)) and a["title"]:
        alts.insert(0, _move_article(a["alt"].strip()))
        title = a["title"]
    return _move_article(title.strip()), year, alts


def normalise_title(title: str) -> str:
    """Lower case, accents and punctuation removed, leading article dropped: for matching."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9 ]+", " ", text.lower().replace("&", " and "))
    text = re.sub(rf"^({_ARTICLES.lower()}) ", "", " ".join(text.split()) + " ").strip()
    return text


# ---------------------------------------------------------------- generic reader

ID_RANGE = (1, 2**31 - 1)                 # MovieLens ids are positive; the model keeps them in int32
TIMESTAMP_RANGE = (0, 4_102_444_800)      # 1970-01-01 .. 2100-01-01, Unix seconds
_INTEGER = r"[+-]?\d+"


class MissingFile(UserError, FileNotFoundError):
    """A MovieLens file that should be there is not (or is not a file)."""


def decode(path: Path, rejects: Rejects) -> str:
    """The file's text: strict UTF-8 if it is valid UTF-8 (ASCII is), else latin-1 (MovieLens's own
    encoding). A UTF-8 byte-order mark is dropped. The choice is noted per file for the manifest."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
        encoding = "ascii" if text.isascii() else "utf-8"
        if text.startswith("\ufeff"):
            text, encoding = text[1:], "utf-8 (with byte-order mark)"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    rejects.read(path.name, lines, encoding)
    return text


def _read_lines(path: Path, columns: list[str], sep: str, ints: dict[str, tuple[int, int] | None],
                rejects: Rejects) -> pd.DataFrame:
    """Splits each line into `columns`; blank and malformed lines, and values that are not
    whole numbers in their range (never rounded, truncated or wrapped), go to rejects."""
    text = decode(path, rejects)
    lines = pd.Series(text.split("\n"), dtype=object)
    if len(lines) and lines.iloc[-1] == "":
        lines = lines.iloc[:-1]
    lines = lines.str.rstrip("\r")
    number = np.arange(1, len(lines) + 1)
    name = path.name
    blank = (lines.str.strip() == "").to_numpy()
    rejects.add(name, number[blank], "blank line", lines[blank])
    n_fields = lines.str.count(re.escape(sep)) + 1
    bad = (n_fields != len(columns)).to_numpy() & ~blank
    rejects.add(name, number[bad], f"expected {len(columns)} fields separated by {sep!r}", lines[bad])
    keep = ~bad & ~blank
    ok = lines[keep]
    frame = ok.str.split(sep, expand=True, regex=False) if len(ok) else pd.DataFrame(columns=range(len(columns)))
    frame.columns = columns
    frame["line"] = number[keep]
    frame["text"] = ok.to_numpy()
    frame = frame.reset_index(drop=True)
    for col, bounds in ints.items():
        raw = frame[col].astype(str).str.strip()
        missing = (raw == "").to_numpy()
        frame = _drop(frame, missing, name, f"missing value in {col}", rejects)
        raw = raw[~missing].reset_index(drop=True)
        integer = raw.str.fullmatch(_INTEGER).to_numpy()
        frame = _drop(frame, ~integer, name, f"{col} is not an integer", rejects)
        raw = raw[integer].reset_index(drop=True)
        digits = raw.str.lstrip("+-").str.lstrip("0").str.len().to_numpy()
        huge = digits > 18                           # would not fit 64 bits: never wrapped around
        frame = _drop(frame, huge, name, f"{col} out of range (more than 64 bits)", rejects)
        values = raw[~huge].astype("int64").to_numpy()
        if col == "movie_id":
            pad = values == PAD_MOVIE
            frame = _drop(frame, pad, name, f"movie_id {PAD_MOVIE} is the padding value", rejects)
            values = values[~pad]
        if bounds is not None:
            out = (values < bounds[0]) | (values > bounds[1])
            frame = _drop(frame, out, name, f"{col} out of range {bounds[0]}..{bounds[1]}", rejects)
            values = values[~out]
        frame[col] = values
    return frame.reset_index(drop=True)


RATING_INTS = {"user_id": ID_RANGE, "movie_id": ID_RANGE, "rating": None, "timestamp": TIMESTAMP_RANGE}


def _drop(frame: pd.DataFrame, bad, file: str, reason: str, rejects: Rejects) -> pd.DataFrame:
    bad = np.asarray(bad, dtype=bool)
    rejects.add(file, frame["line"][bad], reason, frame["text"][bad])
    return frame[~bad].reset_index(drop=True)


def _dedupe_ids(frame: pd.DataFrame, key: str, file: str, rejects: Rejects) -> pd.DataFrame:
    return _drop(frame, frame.duplicated(key, keep="first"), file, f"duplicate {key} (kept the first)", rejects)


def _with_titles(movies: pd.DataFrame) -> pd.DataFrame:
    parsed = [parse_title(t) for t in movies["raw_title"]]
    movies["title"] = [p[0] for p in parsed]
    movies["year"] = np.array([p[1] for p in parsed], dtype=np.int64)
    movies["alt_titles"] = ["|".join(p[2]) for p in parsed]
    return movies


def _clean_ratings(ratings: pd.DataFrame, file: str, rejects: Rejects) -> pd.DataFrame:
    ratings = _drop(ratings, ~ratings["rating"].between(1, 5), file, "rating outside 1..5", rejects)
    # The same user rating the same movie twice: keep the latest rating.
    order = ratings.sort_values(["user_id", "movie_id", "timestamp", "line"], kind="stable")
    dup = order.duplicated(["user_id", "movie_id"], keep="last")
    rejects.add(file, order["line"][dup], "duplicate rating of the same movie (kept the latest)", order["text"][dup])
    return ratings.drop(index=order.index[dup.to_numpy()]).reset_index(drop=True)


# ---------------------------------------------------------------- MovieLens 1M

def read_users(path: Path, rejects: Rejects | None = None) -> pd.DataFrame:
    rejects = rejects if rejects is not None else Rejects(strict=True)
    users = _read_lines(Path(path), ["user_id", "sex", "age", "occupation", "zip"], "::",
                        {"user_id": ID_RANGE, "age": None, "occupation": None}, rejects)
    users = _drop(users, ~users["sex"].isin(ML_GENDERS), path.name, "sex is not F or M", rejects)
    users = _drop(users, ~users["age"].isin(ML_AGE_GROUPS), path.name, "age is not an ML-1M age group", rejects)
    users = _drop(users, ~users["occupation"].between(0, 20), path.name, "occupation is not 0..20", rejects)
    users = _dedupe_ids(users, "user_id", path.name, rejects)
    rejects.stop_if_strict()
    return users


def _clean_genres(movies: pd.DataFrame, file: str, rejects: Rejects) -> pd.DataFrame:
    tokens = movies["ml_genres"].str.split("|")
    known = [[g for g in ts if g in ML_GENRES] for ts in tokens]
    repaired = np.array([len(k) != len([t for t in ts if t]) for k, ts in zip(known, tokens)])
    rejects.add(file, movies["line"][repaired], "unknown genre removed", movies["text"][repaired], action="repaired")
    movies["ml_genres"] = ["|".join(dict.fromkeys(k)) for k in known]
    return movies


def read_movies(path: Path, rejects: Rejects | None = None) -> pd.DataFrame:
    rejects = rejects if rejects is not None else Rejects(strict=True)
    movies = _read_lines(Path(path), ["movie_id", "raw_title", "ml_genres"], "::", {"movie_id": ID_RANGE}, rejects)
    movies = _drop(movies, movies["raw_title"].str.strip() == "", path.name, "missing title", rejects)
    movies = _dedupe_ids(_clean_genres(movies, path.name, rejects), "movie_id", path.name, rejects)
    rejects.stop_if_strict()
    return _with_titles(movies)


def read_ratings(path: Path, rejects: Rejects | None = None, stop: bool = True) -> pd.DataFrame:
    """stop=False leaves the strict stop to the caller (the data stage checks unknown ids first)."""
    rejects = rejects if rejects is not None else Rejects(strict=True)
    ratings = _read_lines(Path(path), ["user_id", "movie_id", "rating", "timestamp"], "::",
                          RATING_INTS, rejects)
    ratings = _clean_ratings(ratings, path.name, rejects)
    if stop:
        rejects.stop_if_strict()
    return ratings


def _need(folder: Path, names: tuple[str, ...], what: str) -> None:
    """Each file is there and is a file, or a MissingFile naming the first that is not."""
    for name in names:
        path = folder / name
        if not path.exists():
            raise MissingFile(f"{path}: missing; {what} needs {', '.join(names)} in {folder}")
        if not path.is_file():
            raise MissingFile(f"{path}: is a folder, not a file; {what} needs {', '.join(names)} in {folder}")


def read_ml1m(folder: Path, rejects: Rejects | None = None, stop: bool = True):
    folder = Path(folder)
    _need(folder, ("users.dat", "movies.dat", "ratings.dat"), "MovieLens 1M")
    rejects = rejects if rejects is not None else Rejects(strict=True)
    return (read_users(folder / "users.dat", rejects), read_movies(folder / "movies.dat", rejects),
            read_ratings(folder / "ratings.dat", rejects, stop=stop))


# ---------------------------------------------------------------- MovieLens 100K

def read_ml100k(folder: Path, rejects: Rejects | None = None, stop: bool = True):
    folder = Path(folder)
    _need(folder, ("u.user", "u.item", "u.data"), "MovieLens 100K")
    rejects = rejects if rejects is not None else Rejects(strict=True)
    users = _read_lines(folder / "u.user", ["user_id", "age", "sex", "occupation_name", "zip"], "|",
                        {"user_id": ID_RANGE, "age": (0, 150)}, rejects)
    users = _drop(users, ~users["sex"].isin(ML_GENDERS), "u.user", "sex is not F or M", rejects)
    users = _drop(users, ~users["occupation_name"].isin(list(OCCUPATIONS_100K)), "u.user",
                  "unknown occupation", rejects)
    users["age"] = age_group(users["age"].to_numpy())
    users["occupation"] = users["occupation_name"].map(OCCUPATIONS_100K).astype("int64")
    users = _dedupe_ids(users, "user_id", "u.user", rejects)
    rejects.stop_if_strict()

    item_cols = ["movie_id", "raw_title", "release_date", "video_release_date", "imdb_url", *GENRES_100K]
    movies = _read_lines(folder / "u.item", item_cols, "|", {"movie_id": ID_RANGE}, rejects)
    flags = movies[list(ML_GENRES)].to_numpy() == "1"
    movies["ml_genres"] = ["|".join(g for g, on in zip(ML_GENRES, row) if on) for row in flags]
    movies = _dedupe_ids(movies, "movie_id", "u.item", rejects)
    rejects.stop_if_strict()
    movies = _with_titles(movies)
    # u.item's 'unknown' title has no year; its release date has one where the title lacks it.
    release_year = pd.to_numeric(movies["release_date"].str[-4:], errors="coerce").fillna(0).astype("int64")
    movies["year"] = np.where(movies["year"] == 0, release_year, movies["year"])

    ratings = _read_lines(folder / "u.data", ["user_id", "movie_id", "rating", "timestamp"], "\t",
                          RATING_INTS, rejects)
    ratings = _clean_ratings(ratings, "u.data", rejects)
    if stop:
        rejects.stop_if_strict()
    return users, movies, ratings


def detect_format(folder: Path) -> str:
    """'ml-1m' or 'ml-100k' from the files present (folder itself or an ml-1m/ inside)."""
    folder = Path(folder)
    if (folder / "ml-1m" / "ratings.dat").exists() or (folder / "ratings.dat").exists():
        return "ml-1m"
    if (folder / "u.data").exists() or (folder / "ml-100k" / "u.data").exists():
        return "ml-100k"
    if not folder.exists():
        raise MissingFile(f"{folder}: no such folder (--raw names the folder holding ml-1m/ or ML-100K's u.* files)")
    raise MissingFile(
        f"{folder}: no MovieLens files found: expected ml-1m/{{users,movies,ratings}}.dat "
        f"or u.data, u.user and u.item (ML-100K). Fetch them with `python -m data.cli fetch`.")


def read_movielens(folder: Path, rejects: Rejects, stop: bool = True
                   ) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    fmt = detect_format(folder)
    if fmt == "ml-1m":
        inner = folder / "ml-1m" if (folder / "ml-1m").exists() else folder
        return (fmt, *read_ml1m(inner, rejects, stop=stop))
    inner = folder / "ml-100k" if (folder / "ml-100k").exists() else folder
    return (fmt, *read_ml100k(inner, rejects, stop=stop))
