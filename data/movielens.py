"""Parsers for every MovieLens release, all mapped onto one schema:

- MovieLens 1M: users.dat, movies.dat, ratings.dat (`::`-separated);
- MovieLens 100K: u.user, u.item, u.data;
- MovieLens 10M: movies.dat and ratings.dat as in ML-1M, but no users.dat, and half stars
  (unzipped as ml-10M100K/; its tags.dat is not read);
- MovieLens 20M, 25M, ml-latest and ml-latest-small: ratings.csv and movies.csv with a header
  line, titles in double quotes where they hold a comma, half stars, no users; links.csv
  beside them gives each movie's IMDb id (data/imdb.py, data/prepare.py).

    users:   user_id, sex (F/M, U unknown), age (ML-1M age group code, 0 unknown),
             occupation (ML-1M code; 0 "other or not specified"), zip
    movies:  movie_id, raw_title, title, year, alt_titles, ml_genres ('|'-joined)
    ratings: user_id, movie_id, rating (0.5..5 in half stars), timestamp, line

One rating rule for every release: a whole or half star from 0.5 to 5, kept exactly as
written (never rounded); anything else is rejected. Ratings stay whole numbers (int64)
where every kept rating is whole, as in ML-1M and ML-100K, else they are float64.

A release without users.dat gives every user the unknown values UNKNOWN_SEX, UNKNOWN_AGE
and UNKNOWN_OCCUPATION (data/formats.py), so the tables downstream keep their columns.

Every bad row is dropped (or, for a fixable field, repaired) and recorded in a Rejects
with its file, line and reason; in strict mode the first one raises instead.

ML-100K differences, and how they map:
- ages are numbers; they become ML-1M's age groups: under 18 -> 1, 18-24 -> 18,
  25-34 -> 25, 35-44 -> 35, 45-49 -> 45, 50-55 -> 50, 56 and over -> 56;
- occupations are names; they become ML-1M codes (OCCUPATIONS_100K below);
- genres are 19 flags; the flag 'unknown' is dropped, the rest are '|'-joined.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from data import formats
from data.formats import ML_AGE_GROUPS, ML_GENDERS, ML_GENRES
from common.errors import UserError
from data.rejects import RawDataError, Rejects
from data.windows import PAD_MOVIE

__all__ = ["RawDataError", "read_ml1m", "read_ml100k", "read_ml10m", "read_ml_csv", "read_movielens", "locate",
           "detect_format", "source_files", "split_title", "normalise_title"]

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


def decode(path: Path, rejects: Rejects, header: int = 0) -> str:
    """The file's text: strict UTF-8 if it is valid UTF-8 (ASCII is), else latin-1 (MovieLens's own
    encoding). A UTF-8 byte-order mark is dropped. The choice is noted per file for the manifest,
    with the number of header lines (counted among the lines, neither kept nor dropped)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
        encoding = "ascii" if text.isascii() else "utf-8"
        if text.startswith("\ufeff"):
            text, encoding = text[1:], "utf-8 (with byte-order mark)"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    rejects.read(path.name, lines, encoding, header=header)
    return text


class BadHeader(RawDataError):
    """A CSV release's file whose first line is not the header of its columns."""


def _read_lines(path: Path, columns: list[str], sep: str, ints: dict[str, tuple[int, int] | None],
                rejects: Rejects, header: str | None = None, quoted: bool = False) -> pd.DataFrame:
    """Splits each line into `columns`; blank and malformed lines, and values that are not
    whole numbers in their range (never rounded, truncated or wrapped), go to rejects.

    header: the file's first line must be this header (the CSV releases'), else BadHeader;
    it is neither kept nor dropped, and the data lines keep their numbers in the file (2, 3, ...).
    quoted: fields may be in double quotes holding the separator (movies.csv's titles); each
    line is one record."""
    text = decode(path, rejects, header=1 if header else 0)
    lines = pd.Series(text.split("\n"), dtype=object)
    if len(lines) and lines.iloc[-1] == "":
        lines = lines.iloc[:-1]
    lines = lines.str.rstrip("\r")
    number = np.arange(1, len(lines) + 1)
    name = path.name
    if header is not None:
        first = lines.iloc[0] if len(lines) else ""
        if first.strip() != header:
            raise BadHeader(f"{path}:1: expected the header line {header!r}, found {first[:120]!r} "
                            f"(the MovieLens CSV releases start with it)")
        lines, number = lines.iloc[1:], number[1:]
    blank = (lines.str.strip() == "").to_numpy()
    rejects.add(name, number[blank], "blank line", lines[blank])
    if quoted:
        fields = pd.Series([next(csv.reader([line]), []) if not b else [] for line, b in zip(lines, blank)],
                           index=lines.index, dtype=object)
        n_fields = fields.map(len)
    else:
        n_fields = lines.str.count(re.escape(sep)) + 1
    bad = (n_fields != len(columns)).to_numpy() & ~blank
    rejects.add(name, number[bad], f"expected {len(columns)} fields separated by {sep!r}", lines[bad])
    keep = ~bad & ~blank
    ok = lines[keep]
    if not len(ok):
        frame = pd.DataFrame(columns=range(len(columns)))
    elif quoted:
        frame = pd.DataFrame(fields[keep].tolist(), columns=range(len(columns)))
    else:
        frame = ok.str.split(sep, expand=True, regex=False)
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


# The rating is checked on its own (_check_ratings): whole or half stars.
RATING_INTS = {"user_id": ID_RANGE, "movie_id": ID_RANGE, "timestamp": TIMESTAMP_RANGE}
RATING_COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_HALF_STAR = r"[+-]?\d*(?:\.(?:0*|50*))?"       # of the numbers: those with .0 or .5 (or none) as fraction


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


def _check_ratings(ratings: pd.DataFrame, file: str, rejects: Rejects) -> pd.DataFrame:
    """The rating column as numbers: whole or half stars in RATING_LOW..RATING_HIGH, read from
    the text exactly (a 3.5 stays 3.5; 3.25, 4.9, 1e0, nan or 6 go to rejects). int64 where
    every kept rating is whole, float64 otherwise."""
    raw = ratings["rating"].astype(str).str.strip()
    missing = (raw == "").to_numpy()
    ratings = _drop(ratings, missing, file, "missing value in rating", rejects)
    raw = raw[~missing].reset_index(drop=True)
    number = raw.str.fullmatch(_NUMBER).to_numpy()
    ratings = _drop(ratings, ~number, file, "rating is not a number", rejects)
    raw = raw[number].reset_index(drop=True)
    half = raw.str.fullmatch(_HALF_STAR).to_numpy()
    ratings = _drop(ratings, ~half, file, f"rating is not a whole or half star (a multiple of {formats.RATING_STEP})",
                    rejects)
    values = raw[half].astype("float64").to_numpy()
    low, high = formats.RATING_LOW, formats.RATING_HIGH
    out = (values < low) | (values > high)
    ratings = _drop(ratings, out, file, f"rating outside {low:g}..{high:g}", rejects)
    values = values[~out]
    whole = bool(np.all(values == np.floor(values)))
    ratings["rating"] = values.astype("int64") if whole else values
    return ratings


def _clean_ratings(ratings: pd.DataFrame, file: str, rejects: Rejects) -> pd.DataFrame:
    ratings = _check_ratings(ratings, file, rejects)
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
    """'|'-joined genres: the later releases' spellings mapped to ML-1M's (Children ->
    Children's), "(no genres listed)" read as none, an unknown genre removed (repaired)."""
    tokens = [[formats.GENRE_ALIASES.get(t.strip(), t.strip()) for t in ts if t.strip() != formats.NO_GENRES_LISTED]
              for ts in movies["ml_genres"].str.split("|")]
    known = [[g for g in ts if g in formats.KNOWN_GENRES] for ts in tokens]
    repaired = np.array([len(k) != len([t for t in ts if t]) for k, ts in zip(known, tokens)], dtype=bool)
    rejects.add(file, movies["line"][repaired], "unknown genre removed", movies["text"][repaired], action="repaired")
    movies["ml_genres"] = ["|".join(dict.fromkeys(k)) for k in known]
    return movies


def read_movies(path: Path, rejects: Rejects | None = None, csv_file: bool = False) -> pd.DataFrame:
    """movies.dat (ML-1M, ML-10M) or, with csv_file, movies.csv (the CSV releases)."""
    path = Path(path)
    rejects = rejects if rejects is not None else Rejects(strict=True)
    columns, ints = ["movie_id", "raw_title", "ml_genres"], {"movie_id": ID_RANGE}
    movies = (_read_lines(path, columns, ",", ints, rejects, header=formats.MOVIES_CSV_HEADER, quoted=True)
              if csv_file else _read_lines(path, columns, "::", ints, rejects))
    movies = _drop(movies, movies["raw_title"].str.strip() == "", path.name, "missing title", rejects)
    movies = _dedupe_ids(_clean_genres(movies, path.name, rejects), "movie_id", path.name, rejects)
    rejects.stop_if_strict()
    return _with_titles(movies)


def read_ratings(path: Path, rejects: Rejects | None = None, stop: bool = True, csv_file: bool = False
                 ) -> pd.DataFrame:
    """ratings.dat (ML-1M, ML-10M) or, with csv_file, ratings.csv (the CSV releases).
    stop=False leaves the strict stop to the caller (the data stage checks unknown ids first)."""
    path = Path(path)
    rejects = rejects if rejects is not None else Rejects(strict=True)
    ratings = (_read_lines(path, RATING_COLUMNS, ",", RATING_INTS, rejects, header=formats.RATINGS_CSV_HEADER)
               if csv_file else _read_lines(path, RATING_COLUMNS, "::", RATING_INTS, rejects))
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

    ratings = _read_lines(folder / "u.data", RATING_COLUMNS, "\t", RATING_INTS, rejects)
    ratings = _clean_ratings(ratings, "u.data", rejects)
    if stop:
        rejects.stop_if_strict()
    return users, movies, ratings


# ---------------------------------------------------------------- releases without users

def unknown_users(user_ids) -> pd.DataFrame:
    """One row per user id (sorted) with the unknown sex, age and occupation: the users table
    of a release that has no users.dat."""
    ids = np.unique(np.asarray(user_ids, dtype=np.int64))
    return pd.DataFrame({"user_id": ids, "sex": formats.UNKNOWN_SEX, "age": np.int64(formats.UNKNOWN_AGE),
                         "occupation": np.int64(formats.UNKNOWN_OCCUPATION), "zip": ""})


def read_ml10m(folder: Path, rejects: Rejects | None = None, stop: bool = True):
    """MovieLens 10M (or ratings in its shape): movies.dat and ratings.dat, no users.dat."""
    folder = Path(folder)
    _need(folder, formats.ML10M_FILES, "MovieLens 10M")
    rejects = rejects if rejects is not None else Rejects(strict=True)
    movies = read_movies(folder / "movies.dat", rejects)
    ratings = read_ratings(folder / "ratings.dat", rejects, stop=stop)
    return unknown_users(ratings["user_id"]), movies, ratings


def read_ml_csv(folder: Path, rejects: Rejects | None = None, stop: bool = True):
    """MovieLens 20M, 25M, ml-latest, ml-latest-small (or ratings in their shape): movies.csv
    and ratings.csv with their header lines, no users."""
    folder = Path(folder)
    _need(folder, formats.CSV_FILES, "A MovieLens CSV release (ML-20M, ML-25M, ml-latest)")
    rejects = rejects if rejects is not None else Rejects(strict=True)
    movies = read_movies(folder / "movies.csv", rejects, csv_file=True)
    ratings = read_ratings(folder / "ratings.csv", rejects, stop=stop, csv_file=True)
    return unknown_users(ratings["user_id"]), movies, ratings


# ---------------------------------------------------------------- which release

def _csv_format(folder: Path) -> str:
    return folder.name if folder.name in formats.CSV_RELEASES else "ml-csv"


def _release_below(folder: Path) -> list[tuple[str, Path]]:
    """The ML-10M and CSV releases unzipped in folder (ml-10M100K/, ml-latest-small/, ...)."""
    found = [("ml-10m", folder / d) for d in formats.ML10M_DIRS
             if (folder / d / "ratings.dat").exists() and not (folder / d / "users.dat").exists()]
    found += [(_csv_format(folder / d), folder / d) for d in formats.CSV_RELEASES if (folder / d / "ratings.csv").exists()]
    return found


def locate(folder: Path) -> tuple[str, Path]:
    """The release in `folder` and the folder holding its files: the folder itself, or a
    release's folder inside it (ml-1m/, ml-100k/, ml-10M100K/, ml-20m/, ml-25m/, ml-latest/,
    ml-latest-small/).

    Formats: 'ml-1m' (users.dat, movies.dat, ratings.dat; a folder named ml-1m, or one holding
    users.dat), 'ml-100k' (u.*), 'ml-10m' (movies.dat and ratings.dat without users.dat),
    'ml-20m', 'ml-25m', 'ml-latest', 'ml-latest-small' or, in a folder of another name,
    'ml-csv' (ratings.csv and movies.csv). A folder holding ml-1m/ or ml-100k/ is read as
    before; one holding several of the later releases is refused, naming them."""
    folder = Path(folder)
    if (folder / "ml-1m" / "ratings.dat").exists():
        return "ml-1m", folder / "ml-1m"
    if (folder / "ratings.dat").exists():
        if (folder / "users.dat").exists() or folder.name == "ml-1m":
            return "ml-1m", folder
        return "ml-10m", folder
    if (folder / "u.data").exists():
        return "ml-100k", folder
    if (folder / "ml-100k" / "u.data").exists():
        return "ml-100k", folder / "ml-100k"
    if (folder / "ratings.csv").exists():
        return _csv_format(folder), folder
    below = _release_below(folder)
    if len(below) == 1:
        return below[0]
    if len(below) > 1:
        raise MissingFile(f"{folder}: holds several MovieLens releases ({', '.join(p.name + '/' for _, p in below)}); "
                          f"pass the folder of the one to read")
    if not folder.exists():
        raise MissingFile(f"{folder}: no such folder (--raw names the folder holding ml-1m/ or ML-100K's u.* files)")
    raise MissingFile(
        f"{folder}: no MovieLens files found: expected ml-1m/{{users,movies,ratings}}.dat, "
        f"u.data, u.user and u.item (ML-100K), movies.dat and ratings.dat (ML-10M, in ml-10M100K/) "
        f"or movies.csv and ratings.csv (ML-20M, ML-25M, ml-latest, ml-latest-small). "
        f"Fetch them with `python -m data.cli fetch`.")


def detect_format(folder: Path) -> str:
    """The release in `folder` (locate)."""
    return locate(folder)[0]


def source_files(fmt: str) -> tuple[str | None, str, str]:
    """(users file or None where the release has none, movies file, ratings file) of a format."""
    if fmt == "ml-1m":
        return "users.dat", "movies.dat", "ratings.dat"
    if fmt == "ml-100k":
        return "u.user", "u.item", "u.data"
    if fmt == "ml-10m":
        return None, "movies.dat", "ratings.dat"
    return None, "movies.csv", "ratings.csv"


def has_demographics(fmt: str) -> bool:
    return source_files(fmt)[0] is not None


def read_movielens(folder: Path, rejects: Rejects, stop: bool = True
                   ) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    fmt, inner = locate(folder)
    read = {"ml-1m": read_ml1m, "ml-100k": read_ml100k, "ml-10m": read_ml10m}.get(fmt, read_ml_csv)
    return (fmt, *read(inner, rejects, stop=stop))
