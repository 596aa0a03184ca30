"""The data stage: raw MovieLens (+ IMDb) files -> prepared CSVs, tables and a manifest.

Any MovieLens release data/movielens.py reads: ML-1M, ML-100K, ML-10M, ML-20M, ML-25M,
ml-latest(-small). A release without users.dat (ML-10M and later) gives every user the
unknown sex, age and occupation (data/formats.py UNKNOWN_*), written like known ones, so
the pipeline's columns stay the same; the manifest says so under "demographics".

Output folder layout (written to a temporary folder and swapped in only when complete,
so a failed run never overwrites a good result):

    {train,eval,test}/pairs.csv                        one row per user pair, for CsvExampleGen
    {train,eval,test}/singles.csv                      one row (A, A) per single-user target: the
                                                       window targets in train and eval, and every
                                                       rating of the test period in test
    movies.csv  users.csv  people.csv                  the tables serving needs
    ratings_by_split.csv                               every kept rating with its split
    rejects.csv                                        every dropped or repaired raw row: file, line, why
    unmatched_movies.csv                               movies IMDb had no title for
    manifest.json                                      counts, drops and why, checksums, config
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from data import imdb, movielens, outdir
from common.errors import UserError
from data.formats import UNKNOWN_AGE, UNKNOWN_OCCUPATION, UNKNOWN_SEX
from data.rejects import Rejects
from data.windows import PAD_MOVIE, make_windows, pair_windows, recent_ratings, split_in_time
from transform_fn import features as F
from transform_fn.features import EVAL_SPLIT, SPLITS, TEST_SPLIT, TRAIN_SPLIT

MANIFEST = F.MANIFEST_FILE
MANIFEST_VERSION = 5


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    sequence_length: int = F.SEQUENCE_LENGTH
    step: int = 2
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    # the rolling origin: the fraction of each user's train ratings before it (data/windows.py)
    origin: float = 0.75
    partners: int = 2
    seed: int = 42
    strict: bool = False      # fail on the first bad raw row instead of rejecting it

    def __post_init__(self):
        if self.partners < 1:
            raise UserError(f"--partners must be at least 1 (got {self.partners}): each window needs a partner")
        if self.seed < 0:
            raise UserError(f"--seed must be 0 or more (got {self.seed})")
        if not 0.0 < self.origin <= 1.0:
            raise UserError(f"--origin must be in (0, 1] (got {self.origin}): the fraction of each user's train "
                            "ratings before the rolling origin")
        if self.step < 1 or self.sequence_length < 2:
            raise UserError(f"step must be >= 1 and sequence_length >= 2 (got {self.step}, {self.sequence_length})")


class DatasetTooSmall(UserError):
    """The data left after cleaning cannot train or evaluate a model."""


_sha256 = outdir.sha256


RAW_NAMES = ("users.dat", "movies.dat", "ratings.dat", "u.user", "u.item", "u.data", "links.csv",
             "movies.csv", "ratings.csv")


def _raw_files(raw_dir: Path) -> list[Path]:
    """The input files whose content decides the output (for the rebuild check)."""
    movielens.detect_format(raw_dir)
    files = [p for p in raw_dir.rglob("*") if p.is_file() and (p.name in RAW_NAMES or p.name.endswith(".tsv.gz"))]
    return sorted(files)


def _code_version() -> str:
    """Hash of the code that shapes the output, so a code change rebuilds it."""
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py")) + [Path(F.__file__).resolve()]
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def load_manifest(out_dir: Path) -> dict | None:
    """The manifest of a prepared folder, None if there is none or it is unreadable."""
    path = Path(out_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def prepare(raw_dir, out_dir, config: PrepareConfig = PrepareConfig(), force: bool = False) -> dict:
    """Runs the data stage unless out_dir already holds it, undamaged, for the same inputs and config.

    Refuses (UserError) an out_dir it must not write (data/outdir.py), and a data set too small
    to train on, before anything is written; one run at a time per out_dir.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    movielens.detect_format(raw_dir)
    outdir.check_out(out_dir, raw_dir)
    with outdir.locked(out_dir):
        outdir.recover(out_dir)
        outdir.check_out(out_dir, raw_dir)
        inputs = {str(p.relative_to(raw_dir)): _sha256(p) for p in _raw_files(raw_dir)}
        key = hashlib.sha256(json.dumps([MANIFEST_VERSION, inputs, dataclasses.asdict(config), _code_version()],
                                        sort_keys=True).encode()).hexdigest()
        old = load_manifest(out_dir)
        if old and old.get("key") == key and not force:
            problem = outdir.damaged(out_dir, old.get("outputs") or {MANIFEST: ""})
            if problem is None:
                return old
            print(f"data stage: {out_dir}: {problem}; rebuilding it", file=sys.stderr, flush=True)

        started = time.time()
        tables, manifest = build(raw_dir, config)
        check_trainable(manifest, raw_dir)
        manifest.update(key=key, version=MANIFEST_VERSION, config=dataclasses.asdict(config),
                        inputs=inputs, raw_dir=str(raw_dir))
        tmp = outdir.new_temp(out_dir)
        try:
            for rel, frame in tables.items():
                with outdir.writing(out_dir / rel):
                    path = tmp / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    if isinstance(frame, RowTable):
                        frame.write(path)
                    else:
                        frame.to_csv(path, index=False, lineterminator="\n")
            manifest["outputs"] = {rel: _sha256(tmp / rel) for rel in sorted(tables)}
            manifest["seconds"] = round(time.time() - started, 2)
            with outdir.writing(out_dir / MANIFEST):
                (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            outdir.swap_in(tmp, out_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)     # only still there if writing failed
        return load_manifest(out_dir)


def check_trainable(manifest: dict, raw_dir: Path) -> None:
    """Stops (DatasetTooSmall) when a split has no user pairs: nothing to train or evaluate on."""
    counts = manifest["counts"]
    empty = [s for s in SPLITS if counts["pairs_per_split"][s] == 0]
    if empty:
        kept = sum(counts["ratings_per_split"].values())
        raise DatasetTooSmall(
            f"{raw_dir}: too small to train on: no user pairs in the {' and '.join(empty)} split "
            f"({kept} usable ratings of {counts['users_with_ratings']} users; a pair needs two users rating "
            f"the same movie in the same period of their histories). Nothing was written.")


# The model rows are built and written this many at a time (RowTable), so that the frames of
# whole tables (and their split and shuffled copies) are never held.
CHUNK_ROWS = 100_000


@dataclasses.dataclass
class RowTable:
    """A table of model rows, row i pairing windows a[i] and b[i] (a == b: one person),
    built and written a chunk at a time, never whole in memory."""
    windows: pd.DataFrame
    slots: dict[str, np.ndarray]     # each window's '|'-joined slots (slot_strings), shared by tables
    a: np.ndarray
    b: np.ndarray
    users: pd.DataFrame
    movie_table: pd.DataFrame

    def __len__(self) -> int:
        return len(self.a)

    def labels(self) -> pd.Series:
        """The rows' labels (the pair's mean rating) without building the rows."""
        rating = self.windows["rating"].to_numpy()
        return pd.Series((rating[self.a] + rating[self.b]) / 2.0)

    def chunks(self, rows: int = CHUNK_ROWS):
        for lo in range(0, max(len(self), 1), rows):
            pairs = pd.DataFrame({"a": self.a[lo:lo + rows], "b": self.b[lo:lo + rows]})
            yield _pair_rows(self.windows, self.slots, pairs, self.users, self.movie_table)

    def frame(self) -> pd.DataFrame:
        """The whole table (for small data and tests)."""
        return pd.concat(list(self.chunks()), ignore_index=True)

    def write(self, path: Path, rows: int = CHUNK_ROWS) -> None:
        """The CSV the whole frame's to_csv writes, byte for byte, a chunk at a time."""
        for i, chunk in enumerate(self.chunks(rows)):
            chunk.to_csv(path, mode="w" if i == 0 else "a", header=i == 0, index=False, lineterminator="\n")


def _shuffled(rows: np.ndarray, seed: int, name: str) -> np.ndarray:
    """Rows come out grouped by movie; shuffled (seeded) so that readers with a bounded
    shuffle buffer still see mixed batches, each table with its own stream, so that one
    split's rows (and the ranking's sample of them) do not move when another changes size."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return rows[rng.permutation(len(rows))]


def build(raw_dir: Path, config: PrepareConfig) -> tuple[dict[str, pd.DataFrame | RowTable], dict]:
    """The pure part: parsed inputs -> output tables (the model rows as RowTables, written a
    chunk at a time) and manifest counts."""
    rejects = Rejects(strict=config.strict)
    fmt, users, movies, ratings = movielens.read_movielens(raw_dir, rejects, stop=False)
    users_file, movies_file, ratings_file = movielens.source_files(fmt)
    # Named by which id and which file: a user or movie whose own line was rejected there
    # takes its ratings with it, and the reason says where to look.
    unknown_user = ~ratings["user_id"].isin(users["user_id"])
    unknown_movie = ~unknown_user & ~ratings["movie_id"].isin(movies["movie_id"])
    for rows, kind, file in ((unknown_user, "user", users_file or "the ratings"), (unknown_movie, "movie", movies_file)):
        rejects.add(ratings_file, ratings["line"][rows],
                    f"unknown {kind}: {kind}_id not in {file} (absent there, or its line rejected)", ratings["text"][rows])
    unknown = unknown_user | unknown_movie
    rejects.stop_if_strict()
    ratings = ratings[~unknown][["user_id", "movie_id", "rating", "timestamp"]]
    if ratings.empty:
        lines = rejects.files.get(ratings_file, {}).get("lines", 0)
        reasons = "; ".join(f"{r.split(': ', 1)[1]} x{n}" for r, n in rejects.counts("dropped").items()
                            if r.startswith(ratings_file))
        raise DatasetTooSmall(f"{ratings_file}: no usable ratings ({lines} lines"
                              f"{', all rejected: ' + reasons if reasons else ''}). Nothing was written.")

    movie_table, people, imdb_counts = _movie_table(raw_dir, movies, rejects, _links_file(raw_dir))
    timeline = split_in_time(ratings, config.split_fractions, config.origin)
    windows = make_windows(timeline, config.sequence_length, config.step)
    pairs = pair_windows(windows, config.partners, config.seed)

    hist = config.sequence_length - 1
    pair_a, pair_b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    split_of_pair = windows["split"].to_numpy()[pair_a]
    slots = slot_strings(windows, recent_ratings(timeline, windows, F.RECENT_LENGTH), hist)
    tables: dict[str, pd.DataFrame | RowTable] = {}
    for s in SPLITS:
        order = _shuffled(np.flatnonzero(split_of_pair == s), config.seed, f"{s}/pairs.csv")
        tables[f"{s}/pairs.csv"] = RowTable(windows, slots, pair_a[order], pair_b[order], users, movie_table)
    # Single-user rows (A, A): every window target in train and eval; in test every rating
    # of the period (windows with step 1), so test RMSE compares with rating prediction.
    # Built for the test period only: its recent slots are 120 columns a row.
    every = make_windows(timeline, config.sequence_length, step=1, splits=[TEST_SPLIT])
    every_slots = slot_strings(every, recent_ratings(timeline, every, F.RECENT_LENGTH), hist)
    for s in SPLITS:
        source, joined = (every, every_slots) if s == TEST_SPLIT else (windows, slots)
        order = _shuffled(np.flatnonzero(source["split"].to_numpy() == s), config.seed, f"{s}/singles.csv")
        tables[f"{s}/singles.csv"] = RowTable(source, joined, order, order, users, movie_table)
    tables["movies.csv"] = movie_table
    tables["users.csv"] = users[["user_id", "sex", "age", "occupation"]]
    tables["people.csv"] = people
    tables[F.RATINGS_FILE] = timeline[["user_id", "movie_id", "rating", "timestamp", "split", "period"]]
    tables["rejects.csv"] = rejects.frame()
    tables["unmatched_movies.csv"] = movie_table.loc[~movie_table["imdb_matched"], ["movie_id", "title", "year"]]

    paired = np.zeros(len(windows), dtype=bool)
    paired[pairs["a"].to_numpy()] = True
    paired[pairs["b"].to_numpy()] = True
    split_rows = {s: pd.concat([tables[f"{s}/pairs.csv"].labels(), tables[f"{s}/singles.csv"].labels()],
                               ignore_index=True) for s in SPLITS}
    train_mean = float(split_rows[TRAIN_SPLIT].mean())
    kept = {movies_file: len(movies), ratings_file: len(ratings)}
    if users_file:
        kept[users_file] = len(users)
    files = {}
    for name, info in rejects.files.items():
        dropped = rejects.dropped(name)
        files[name] = {**info, "kept": int(kept.get(name, info["lines"] - info.get("header", 0) - dropped)),
                       "dropped": dropped, "repaired": rejects.repaired(name)}
    stars = timeline["rating"].to_numpy(dtype=np.float64)
    manifest = {
        "format": fmt,
        "files": files,
        "demographics": (f"sex, age and occupation from {users_file}" if users_file else
                         f"unknown: {fmt} has no users file; every user has sex {UNKNOWN_SEX!r}, "
                         f"age {UNKNOWN_AGE} and occupation {UNKNOWN_OCCUPATION}"),
        # The stars the kept ratings use: whole (step 1) or half stars (step 0.5), lowest and highest.
        "rating_scale": {"min": float(stars.min()), "max": float(stars.max()),
                         "step": 1.0 if np.all(stars == np.floor(stars)) else 0.5},
        "counts": {
            "users": int(len(users)), "movies": int(len(movies)),
            "users_with_ratings": int(ratings["user_id"].nunique()),
            "raw_ratings": int(len(ratings) + rejects.dropped(ratings_file)),
            "ratings_per_split": _per_split(timeline["split"]),
            "train_ratings_per_period": {p: int((timeline["period"] == p).sum()) for p in F.TRAIN_PERIODS},
            "windows_per_split": _per_split(windows["split"]),
            "pairs_per_split": {s: int(len(tables[f"{s}/pairs.csv"])) for s in SPLITS},
            "singles_per_split": {s: int(len(tables[f"{s}/singles.csv"])) for s in SPLITS},
            "padded_windows": int((windows["hist_movie_1"] == PAD_MOVIE).sum()),
        },
        "rating_roles": _rating_roles(timeline, windows, paired, config),
        "dropped": rejects.counts("dropped"),
        "repaired": rejects.counts("repaired"),
        "imdb": imdb_counts,
        "baseline": {
            "name": "predict the mean training label",
            "train_label_mean": train_mean,
            "rmse": {s: _rmse(split_rows[s], train_mean) for s in (EVAL_SPLIT, TEST_SPLIT)},
            "test_rmse_by_kind": {kind: _rmse(tables[f"test/{kind}s.csv"].labels(), train_mean)
                                  for kind in ("pair", "single")},
        },
    }
    return tables, manifest


def _links_file(raw_dir: Path) -> Path | None:
    """links.csv (movieId -> imdbId): beside the release's folder (the synthetic data, a user's
    own), else in it (ML-20M, ML-25M, ml-latest ship one)."""
    for folder in dict.fromkeys([raw_dir, movielens.locate(raw_dir)[1]]):
        if (folder / "links.csv").is_file():
            return folder / "links.csv"
    return None


def _movie_table(raw_dir: Path, movies: pd.DataFrame, rejects: Rejects | None = None, links: Path | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    imdb_dir = raw_dir / "imdb"
    if (imdb_dir / "title.basics.tsv.gz").exists():
        extra, people, counts = imdb.movie_features(movies, imdb_dir, links, rejects)
    else:
        extra, people = imdb.no_features(movies), pd.DataFrame(columns=["role", "code", "nconst", "name"])
        counts = {"method": "none (no imdb/ folder)", "movies": int(len(movies)), "matched": 0, "match_rate": 0.0}
        if links is not None:
            # No IMDb features without the IMDb files, but the release's own IMDb ids are kept
            # (movies.csv's tconst); imdb_matched stays False: nothing was joined.
            ids = imdb.read_links(links, rejects if rejects is not None else Rejects()).set_index("movie_id")["tconst"]
            extra["tconst"] = extra["movie_id"].map(ids)
            counts["tconst_from_links"] = int(extra["tconst"].notna().sum())
    table = movies[["movie_id", "title", "year", "ml_genres"]].merge(extra, on="movie_id", how="left")
    table["genres"] = [
        F.LIST_SEPARATOR.join(dict.fromkeys(g for g in f"{ml}|{im}".split("|") if g)) or F.NO_GENRES
        for ml, im in zip(table["ml_genres"], table["imdb_genres"])
    ]
    # Always MAX_ACTORS '|'-joined slots, 0 for none: a bare number would be read as an INT column.
    table["actors"] = [F.LIST_SEPARATOR.join((a.split("|") if a else [])[:F.MAX_ACTORS]
                                             + [str(imdb.UNKNOWN)] * (F.MAX_ACTORS - len(a.split("|") if a else [])))
                       for a in table["actors"]]
    cols = ["movie_id", "title", "year", "genres", "runtime", "director", "actors", "imdb_rating",
            "imdb_votes", "imdb_matched", "tconst"]
    return table[cols].sort_values("movie_id").reset_index(drop=True), people, counts


def _joined(windows: pd.DataFrame, prefix: str, hist: int, key: str = "hist", filled: str = "movie",
            rows: int = CHUNK_ROWS) -> np.ndarray:
    """<key>_<prefix>_1..hist as one '|'-joined string per window, '' in padded slots (those
    whose <key>_<filled>_k is PAD_MOVIE). Made `rows` windows at a time: each slot's values as
    text for every window at once (30 slots of recent ratings) peaked at about 1 GB at ML-1M's
    size."""
    out = np.empty(len(windows), dtype=object)
    for start in range(0, len(windows), rows):
        at = slice(start, start + rows)
        joined = None
        for k in range(1, hist + 1):
            value = windows[f"{key}_{prefix}_{k}"].iloc[at].astype(str).to_numpy()
            part = np.where(windows[f"{key}_{filled}_{k}"].to_numpy()[at] == PAD_MOVIE, "", value).astype(object)
            joined = part if joined is None else joined + F.LIST_SEPARATOR + part
        out[at] = joined
    return out


def slot_strings(windows: pd.DataFrame, recent: pd.DataFrame, hist: int) -> dict[str, np.ndarray]:
    """Each window's slots as '|'-joined strings: its history's movies and ratings, its
    recent ratings' movies and stars, and its movie's recent raters and their stars (the
    windows' recent_ratings, `recent`, row for row: 120 columns a window, read only here,
    so never joined to the windows)."""
    return {"hist_movie": _joined(windows, "movie", hist), "hist_rating": _joined(windows, "rating", hist),
            **{f"recent_{name}": _joined(recent, name, F.RECENT_LENGTH, "recent") for name in ("movie", "rating")},
            **{f"rater_{name}": _joined(recent, name, F.RECENT_LENGTH, "rater", "user") for name in ("user", "rating")}}


def _pair_rows(windows, slots: dict[str, np.ndarray], pairs, users, movie_table) -> pd.DataFrame:
    """The model rows of `pairs` (rows a and b of `windows`, whose slot_strings are `slots`)."""
    hist_movies, hist_ratings = slots["hist_movie"], slots["hist_rating"]
    recent = {name: slots[f"recent_{name}"] for name in ("movie", "rating")}
    raters = {name: slots[f"rater_{name}"] for name in ("user", "rating")}
    user_info = users.set_index("user_id")
    cols: dict[str, object] = {}
    for side, idx in (("a", pairs["a"].to_numpy()), ("b", pairs["b"].to_numpy())):
        uid = windows["user_id"].to_numpy()[idx]
        cols[F.user(side)] = uid
        cols[F.hist_movies(side)] = hist_movies[idx]
        cols[F.hist_ratings(side)] = hist_ratings[idx]
        cols[F.recent_movies(side)] = recent["movie"][idx]
        cols[F.recent_ratings(side)] = recent["rating"][idx]
        info = user_info.loc[uid]
        cols[F.sex(side)] = info["sex"].to_numpy()
        cols[F.age(side)] = info["age"].to_numpy()
        cols[F.occupation(side)] = info["occupation"].to_numpy()
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    movie = windows["movie_id"].to_numpy()[a]
    m = movie_table.set_index("movie_id").loc[movie]
    cols[F.MOVIE] = movie
    cols[F.MOVIE_GENRES] = m["genres"].to_numpy()
    cols[F.MOVIE_YEAR] = m["year"].to_numpy()
    cols[F.MOVIE_RUNTIME] = m["runtime"].to_numpy()
    cols[F.MOVIE_DIRECTOR] = m["director"].to_numpy()
    cols[F.MOVIE_ACTORS] = m["actors"].to_numpy()
    cols[F.MOVIE_IMDB_RATING] = m["imdb_rating"].to_numpy()
    cols[F.MOVIE_IMDB_VOTES] = m["imdb_votes"].to_numpy()
    # The movie's other raters as the earlier of the two targets saw them: neither member's own
    # rating of it (part of the label) can be among them.
    stamp = windows["timestamp"].to_numpy()
    earlier = np.where(stamp[a] <= stamp[b], a, b)
    cols[F.MOVIE_RATERS] = raters["user"][earlier]
    cols[F.MOVIE_RATER_RATINGS] = raters["rating"][earlier]
    cols[F.EXAMPLE_KIND] = np.where(a == b, "single", "pair")
    padded = (windows["hist_movie_1"] == PAD_MOVIE).to_numpy()
    cols[F.HISTORY_PADDED] = np.where(padded[a] | padded[b], "padded", "full")
    cols[F.MOVIE_PRIMARY_GENRE] = [g.split(F.LIST_SEPARATOR)[0] for g in m["genres"]]
    rating = windows["rating"].to_numpy()
    cols[F.LABEL] = (rating[a] + rating[b]) / 2.0
    return pd.DataFrame(cols)[list(F.RAW_COLUMNS)]


def _rating_roles(timeline, windows, paired, config) -> dict:
    """Every kept rating in exactly one role, so nothing is lost silently."""
    step, hist = config.step, config.sequence_length - 1
    pos, n = timeline["pos"].to_numpy(), timeline["n"].to_numpy()
    is_target = (pos + 1) % step == 0
    next_target = pos + 1 + (step - 1 - (pos + 1) % step) % step
    in_history = (next_target < n) & (next_target - pos <= hist)
    return {
        "target_of_a_pair": int(paired.sum()),
        "target_without_partner_in_split": int((~paired).sum()),
        "history_only": int((~is_target & in_history).sum()),
        "unused_last_rating": int((~is_target & ~in_history).sum()),
    }


def _per_split(split: pd.Series) -> dict:
    counts = split.value_counts()
    return {s: int(counts.get(s, 0)) for s in SPLITS}


def _rmse(labels: pd.Series, prediction: float) -> float | None:
    return float(np.sqrt(np.mean((labels.to_numpy() - prediction) ** 2))) if len(labels) else None
