"""IMDb enrichment through a MovieLens links.csv (movieId -> imdbId).

The IMDb TSVs are large: they are read in chunks, keeping only the linked titles.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from data.formats import IMDB_MISSING, ML_TO_IMDB_GENRE

_CHUNK = 200_000
_IMDB_TO_ML_GENRE = {v: k for k, v in ML_TO_IMDB_GENRE.items()}


def _read_filtered(path: Path, usecols: list[str], keep: set[str]) -> pd.DataFrame:
    parts = []
    for chunk in pd.read_csv(path, sep="\t", usecols=usecols, dtype=str, quoting=3,
                             na_values=[IMDB_MISSING], keep_default_na=False, chunksize=_CHUNK):
        parts.append(chunk[chunk["tconst"].isin(keep)])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=usecols)


def read_links(path: Path) -> pd.DataFrame:
    links = pd.read_csv(path, dtype={"movieId": "int64", "imdbId": str}, usecols=["movieId", "imdbId"])
    links["tconst"] = "tt" + links["imdbId"].str.zfill(7)
    return links.rename(columns={"movieId": "movie_id"})[["movie_id", "tconst"]]


def movie_features(imdb_dir: Path, links_path: Path) -> pd.DataFrame:
    """movie_id, runtime (minutes, NaN if unknown), imdb_genres ('|'-joined), director (nconst)."""
    imdb_dir = Path(imdb_dir)
    links = read_links(links_path)
    keep = set(links["tconst"])
    basics = _read_filtered(imdb_dir / "title.basics.tsv.gz", ["tconst", "runtimeMinutes", "genres"], keep)
    crew = _read_filtered(imdb_dir / "title.crew.tsv.gz", ["tconst", "directors"], keep)
    out = links.merge(basics, on="tconst", how="left").merge(crew, on="tconst", how="left")
    out["runtime"] = pd.to_numeric(out["runtimeMinutes"], errors="coerce")
    out["imdb_genres"] = out["genres"].fillna("").map(
        lambda g: "|".join(_IMDB_TO_ML_GENRE.get(x, x) for x in g.split(",") if x))
    out["director"] = out["directors"].fillna("").str.split(",").str[0]
    out["imdb_matched"] = out["tconst"].isin(set(basics["tconst"]))
    return out[["movie_id", "tconst", "imdb_matched", "runtime", "imdb_genres", "director"]]
