"""Parsers for the MovieLens 1M files (users.dat, movies.dat, ratings.dat).

The files are '::'-separated and latin-1 encoded. Each parser returns a DataFrame with
an explicit schema and raises RawDataError naming the file and line of bad input.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from data.formats import ML_AGE_GROUPS, ML_GENDERS, ML_GENRES

USERS_COLUMNS = {"user_id": "int64", "sex": "string", "age": "int64", "occupation": "int64", "zip": "string"}
MOVIES_COLUMNS = {"movie_id": "int64", "raw_title": "string", "ml_genres": "string"}
RATINGS_COLUMNS = {"user_id": "int64", "movie_id": "int64", "rating": "int64", "timestamp": "int64"}

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.*), (?P<article>The|A|An|La|Le|Les|L'|Il|Das|Der|Die|El|Los|Las)$")


class RawDataError(ValueError):
    """Bad raw input; the message names the file and the line."""


def _read_dat(path: Path, columns: dict[str, str]) -> pd.DataFrame:
    text = path.read_bytes().decode("latin-1")
    bad = [i for i, line in enumerate(text.split("\n"), start=1)
           if line and line.count("::") != len(columns) - 1]
    if bad:
        line = text.split("\n")[bad[0] - 1]
        raise RawDataError(f"{path}:{bad[0]}: expected {len(columns)} '::'-separated fields, "
                           f"got {line.count('::') + 1}: {line[:80]!r} ({len(bad)} bad lines in all)")
    frame = pd.read_csv(io.StringIO(text.replace("::", "\t")), sep="\t", header=None,
                        names=list(columns), dtype=str, keep_default_na=False, quoting=3)
    for name, dtype in columns.items():
        if dtype == "int64":
            values = pd.to_numeric(frame[name], errors="coerce")
            if values.isna().any():
                i = int(values.isna().to_numpy().argmax())
                raise RawDataError(f"{path}:{i + 1}: field {name!r} is not an integer: {frame[name].iloc[i]!r}")
            frame[name] = values.astype("int64")
    return frame


def read_users(path: Path) -> pd.DataFrame:
    users = _read_dat(Path(path), USERS_COLUMNS)
    _check_codes(path, users, "sex", ML_GENDERS)
    _check_codes(path, users, "age", ML_AGE_GROUPS)
    _check_codes(path, users, "occupation", range(21))
    return users


def read_movies(path: Path) -> pd.DataFrame:
    movies = _read_dat(Path(path), MOVIES_COLUMNS)
    parsed = movies["raw_title"].map(split_title)
    movies["title"] = parsed.map(lambda p: p[0])
    movies["year"] = parsed.map(lambda p: p[1]).astype("int64")
    unknown = movies["ml_genres"].str.split("|").explode().loc[lambda g: ~g.isin(ML_GENRES)]
    if len(unknown):
        i = int(unknown.index[0])
        raise RawDataError(f"{path}:{i + 1}: unknown genre {unknown.iloc[0]!r}")
    return movies


def read_ratings(path: Path) -> pd.DataFrame:
    ratings = _read_dat(Path(path), RATINGS_COLUMNS)
    bad = ~ratings["rating"].between(1, 5)
    if bad.any():
        i = int(bad.to_numpy().argmax())
        raise RawDataError(f"{path}:{i + 1}: rating {ratings['rating'].iloc[i]} is outside 1..5")
    return ratings


def split_title(raw: str) -> tuple[str, int]:
    """'American President, The (1995)' -> ('The American President', 1995); year 0 if absent."""
    m = _TITLE_YEAR.match(raw)
    title, year = (m["title"], int(m["year"])) if m else (raw.strip(), 0)
    a = _TRAILING_ARTICLE.match(title)
    if a:
        sep = "" if a["article"].endswith("'") else " "
        title = f"{a['article']}{sep}{a['rest']}"
    return title, year


def _check_codes(path, frame: pd.DataFrame, column: str, allowed) -> None:
    bad = ~frame[column].isin(list(allowed))
    if bad.any():
        i = int(bad.to_numpy().argmax())
        value = frame[column].tolist()[i]
        raise RawDataError(f"{path}:{i + 1}: {column} {value!r} is not a MovieLens 1M code")


def read_ml1m(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    return (read_users(folder / "users.dat"), read_movies(folder / "movies.dat"),
            read_ratings(folder / "ratings.dat"))
