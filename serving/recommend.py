"""Top-N movies for two people, scored in-process by a pushed SavedModel.

    python -m serving.recommend --work-dir work --users 12 34 --top 10

Candidates are movies neither user has rated. With the pair ranker (a version carrying its
settings and EASE matrix, serving/version_files.py): the POPULAR_CANDIDATES +
NEAR_CANDIDATES unseen movies of highest watch score (EASE over both members' histories,
mixed with the sequence model's `watch_next` score), or with --all-movies every one; for a
rating-only version: the POPULAR_CANDIDATES most rated and the NEAR_CANDIDATES nearest the
members' histories in the model's movie embedding. The candidates' pair ratings come in one
batch from the model's `predict_pair_raw` signature (trainer_fn/signatures.py), the same
Transform graph the Trainer saw, and each member's own rating from `predict_raw` for the top
of the list. The list is ranked by the watch score + the rating weight x the pair rating;
`--strategy least_misery` uses the lower of the two members' ratings, `--diversify` re-ranks
the top candidates for genre diversity (maximal marginal relevance). The HTTP service
(serving/serve.py) calls the same code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from common.layout import DEFAULT_WORK_DIR, WorkLayout
from common.errors import UserError, run_cli
from data.windows import SERVED_RECENT_FROM
from serving.ease import best_positions
from transform_fn import features as F

SERVING_DROP = (F.LABEL, *F.EVAL_ONLY)
STRATEGIES = ("average", "least_misery")
NEW_USER_ID = 0                       # sent for a person without an id: out of the user vocabulary
MMR_LAMBDA = 0.7                      # relevance weight of the diversifying re-rank
MMR_POOL = 5                          # the re-rank picks from the top MMR_POOL * n (at least 50)
SCORE_BATCH = 4096
SEQUENCE_BATCH = 512                  # histories per watch_next call
FIRST_SCORED = 64                     # candidates rated in bounded_pair_ratings' first call
POPULAR_CANDIDATES = 100              # the most rated unseen movies, always scored
NEAR_CANDIDATES = 300                 # and this many more: the unseen movies nearest the histories
# The trained movie table retrieval reads, the first one present and not all zero: the SVD++
# movie vectors the residual rating model holds frozen, the baseline model's own, the
# movie embedding of a rating model trained without the baseline.
EMBEDDING_TABLES = ("baseline_movie_vectors", "movie_vectors", "movie_embedding")


class UnknownUser(KeyError, UserError):
    def __str__(self) -> str:
        return str(self.args[0])


class NoModel(FileNotFoundError, UserError):
    pass


def latest_model(serving_dir: Path) -> Path:
    versions = model_versions(serving_dir)
    if not versions:
        raise NoModel(f"no pushed model under {serving_dir}: run `make run` until a model is "
                                f"blessed, or pass --model DIR")
    return versions[-1]


def model_versions(serving_dir: Path) -> list[Path]:
    """The complete version folders (with saved_model.pb), oldest first."""
    return sorted((p for p in Path(serving_dir).glob("*") if p.name.isdigit() and (p / "saved_model.pb").exists()),
                  key=lambda p: int(p.name))


# ---------------------------------------------------------------- candidate retrieval

@dataclasses.dataclass(frozen=True)
class Retrieval:
    """Which unseen movies a request scores: the `popular` most rated, and the `near` of the
    rest whose highest cosine similarity to a history movie of either member is largest.
    Recommending with retrieval=None scores every unseen movie."""
    popular: int = POPULAR_CANDIDATES
    near: int = NEAR_CANDIDATES

    @property
    def size(self) -> int:
        return self.popular + self.near


DEFAULT_RETRIEVAL = Retrieval()


class MovieEmbedding:
    """Unit-length trained movie vectors, looked up by movie id (ids outside the model's
    movie vocabulary get its out-of-vocabulary row)."""

    def __init__(self, vocabulary: list[str], table: np.ndarray):
        ids = np.array([int(v) for v in vocabulary], dtype=np.int64)
        norms = np.linalg.norm(table, axis=1, keepdims=True)
        self.vectors = (table / np.maximum(norms, 1e-12)).astype(np.float32)
        self.oov = len(vocabulary) + 1                  # after padding 0 and the vocabulary
        self.rows = np.full(int(ids.max(initial=0)) + 1, self.oov, dtype=np.int64)
        self.rows[ids] = np.arange(1, len(ids) + 1)     # Transform's lookup: vocabulary index + 1

    @classmethod
    def from_model(cls, model_dir: Path, variables) -> "MovieEmbedding":
        """From a loaded SavedModel's variables and its Transform movie vocabulary asset."""
        tables = {v.name.split("/")[0]: v for v in variables if v.name.split("/")[-1].startswith("embeddings")}
        for name in EMBEDDING_TABLES:
            if name in tables:
                values = tables[name].numpy()
                if np.any(values):
                    vocabulary = (Path(model_dir) / "assets" / F.MOVIE_VOCAB).read_text().splitlines()
                    return cls(vocabulary, values)
        raise ValueError(f"{model_dir}: no trained movie table ({', '.join(EMBEDDING_TABLES)}) to retrieve "
                         f"candidates with")

    def of(self, movies) -> np.ndarray:
        movies = np.asarray(movies, dtype=np.int64)
        inside = (movies >= 0) & (movies < len(self.rows))
        return self.vectors[np.where(inside, self.rows[np.where(inside, movies, 0)], self.oov)]


def retrieve(unseen: pd.DataFrame, history: list[int], popularity: pd.Series, retrieval: Retrieval | None,
             embedding: MovieEmbedding | None) -> pd.DataFrame:
    """The candidates among `unseen` (in its order): all of them with retrieval=None, else the
    most rated (`popularity`: rating counts by movie id) and those nearest `history` (movie
    ids) in `embedding`; with no history, the most rated fill both parts."""
    if retrieval is None or len(unseen) <= retrieval.size:
        return unseen
    ids = unseen["movie_id"].to_numpy(dtype=np.int64)
    counts = popularity.reindex(ids).fillna(0).to_numpy()
    by_count = np.lexsort((ids, -counts))               # most rated first, then by id
    if not history or not retrieval.near:
        return unseen.iloc[np.sort(by_count[:retrieval.size])]
    if embedding is None:
        raise ValueError("retrieving movies near the histories needs the model's movie embedding")
    chosen = np.zeros(len(ids), bool)
    chosen[by_count[:retrieval.popular]] = True
    nearness = (embedding.of(ids) @ embedding.of(history).T).max(axis=1)
    nearness[chosen] = -np.inf
    chosen[np.lexsort((ids, -nearness))[:retrieval.near]] = True
    return unseen[chosen]


# ---------------------------------------------------------------- members and tables

@dataclasses.dataclass
class Member:
    """One person as the model sees them: id (NEW_USER_ID when unknown), demographics, the
    latest HISTORY_LENGTH ratings (oldest first) and every movie they rated."""
    user: int
    sex: str
    age: int
    occupation: int
    history: list[tuple[int, float]]
    seen: frozenset
    known: bool = True
    profile: tuple[int, ...] = ()     # every movie they rated, oldest first (the pair ranker's input)
    profile_ratings: tuple[float, ...] = ()     # and its stars
    # Their latest RECENT_LENGTH ratings the served model's baseline has not learnt from
    # (the test period's, then any sent with the request), oldest first.
    recent: tuple[tuple[int, float], ...] = ()

    @property
    def label(self) -> str:
        return f"user {self.user}" if self.user != NEW_USER_ID else "the new member"


class Tables:
    """The prepared tables serving needs: movies, users, people, every rating."""

    def __init__(self, prepared: Path):
        self.prepared = Path(prepared)
        self.users = pd.read_csv(self.prepared / "users.csv").set_index("user_id")
        self.movies = pd.read_csv(self.prepared / "movies.csv", keep_default_na=False).set_index("movie_id",
                                                                                                  drop=False)
        self.movies.index.name = None       # looked up by id; sorted by the movie_id column
        ratings = pd.read_csv(self.prepared / F.RATINGS_FILE)
        self.ratings = ratings.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
        self.by_user = {user: frame for user, frame in self.ratings.groupby("user_id", sort=False)}
        self.popularity = ratings["movie_id"].value_counts()
        # What the served model's baseline has not learnt from: it was refitted on train + eval
        # (data/windows.py FITTED_ON), so the test period's ratings, as the test rows read them.
        unseen = self.ratings[self.ratings["split"].isin(SERVED_RECENT_FROM)]
        self.recent_by_user = {u: list(zip(f["movie_id"].astype(int), f["rating"].astype(float)))[-F.RECENT_LENGTH:]
                               for u, f in unseen.groupby("user_id", sort=False)}
        by_time = unseen.sort_values(["movie_id", "timestamp", "user_id"], kind="stable")
        self.raters = {m: _slots(f["user_id"].astype(int).tolist()[-F.RECENT_LENGTH:],
                                 f["rating"].tolist()[-F.RECENT_LENGTH:])
                       for m, f in by_time.groupby("movie_id", sort=False)}
        self.genres = {m: _genres(g) for m, g in zip(self.movies["movie_id"], self.movies["genres"])}
        self.ranker = None                  # a PairRanker (use_ranker); None: rank by rating only
        self._movie_arrays = weakref.WeakKeyDictionary()     # by scorer: movie_arrays
        people = self.prepared / "people.csv"
        self.directors = {}
        if people.exists():
            frame = pd.read_csv(people, keep_default_na=False)
            frame = frame[frame["role"] == "director"]
            self.directors = dict(zip(frame["code"].astype(int), frame["name"]))

    def movie_arrays(self, scorer: "Scorer") -> dict[str, np.ndarray]:
        """Every movie's raw row (blank members, its recent raters) as the scorer's input arrays,
        in the order of self.movies; made once per scorer (a request gathers its candidates')."""
        arrays = self._movie_arrays.get(scorer)
        if arrays is None:
            arrays = self._movie_arrays[scorer] = movie_arrays(scorer, self.movies, self.raters)
        return arrays

    def request_arrays(self, scorer: "Scorer", a: Member, b: Member, movies: pd.DataFrame) -> dict[str, np.ndarray]:
        """raw_rows(a, b, movies, self.raters) as the scorer's input arrays, without a DataFrame:
        the movies' rows gathered from movie_arrays, the members' columns repeated."""
        at = self.movies.index.get_indexer(movies["movie_id"].to_numpy())
        return with_members(self.movie_arrays(scorer), at,
                            {**member_columns(a, "a"), **member_columns(b, "b")})

    def use_ranker(self, params, ease=None) -> "Tables":
        """Rank by the pair ranker (serving/ease.py) with these settings and `ease`, the matrix
        a version carries (serving/version_files.py); without it, EASE fitted here on every
        rating in the tables (everything known now), as the RankingEvaluator fits it."""
        from serving.ease import Ease, PairRanker

        if ease is None:
            ease = Ease.fit(self.ratings, self.movies["movie_id"], params.lam, params.most_rated)
        self.ranker = PairRanker(ease, params)
        return self

    def member(self, user: int) -> Member:
        if user not in self.users.index:
            raise UnknownUser(f"user {user} is not in {self.prepared / 'users.csv'}")
        row = self.users.loc[user]
        mine = self.by_user.get(user, self.ratings.iloc[:0])
        return Member(int(user), str(row["sex"]), int(row["age"]), int(row["occupation"]),
                      history=_latest(mine["movie_id"], mine["rating"]), seen=frozenset(mine["movie_id"].tolist()),
                      profile=tuple(int(m) for m in mine["movie_id"]),
                      profile_ratings=tuple(float(r) for r in mine["rating"]),
                      recent=tuple(self.recent_by_user.get(user, ())))

    def member_with_ratings(self, ratings: list[tuple[int, float]], user: int | None = None, sex: str | None = None,
                            age: int | None = None, occupation: int | None = None) -> Member:
        """A person from ratings given now (oldest first): a known user's fresher ratings come
        after their stored ones; a person never seen needs sex, age and occupation."""
        unknown = [m for m, _ in ratings if m not in self.movies.index]
        if unknown:
            raise ValueError(f"unknown movie id(s) in the ratings: {unknown[:5]}")
        if user is not None and user in self.users.index:
            base = self.member(user)
            mine = self.by_user.get(user, self.ratings.iloc[:0])
            movies = mine["movie_id"].tolist() + [m for m, _ in ratings]
            stars = mine["rating"].tolist() + [r for _, r in ratings]
            return dataclasses.replace(base, sex=sex or base.sex, age=base.age if age is None else age,
                                       occupation=base.occupation if occupation is None else occupation,
                                       history=_latest(movies, stars), seen=base.seen | {m for m, _ in ratings},
                                       profile=tuple(int(m) for m in movies),
                                       profile_ratings=tuple(float(r) for r in stars),
                                       recent=(base.recent + tuple((int(m), float(r)) for m, r in ratings))[
                                           -F.RECENT_LENGTH:])
        missing = [name for name, value in (("sex", sex), ("age", age), ("occupation", occupation)) if value is None]
        if missing:
            raise ValueError(f"a person not in users.csv needs {', '.join(missing)}")
        return Member(NEW_USER_ID if user is None else int(user), str(sex), int(age), int(occupation),
                      history=_latest([m for m, _ in ratings], [r for _, r in ratings]),
                      seen=frozenset(m for m, _ in ratings), known=False,
                      profile=tuple(int(m) for m, _ in ratings),
                      profile_ratings=tuple(float(r) for _, r in ratings),
                      recent=tuple((int(m), float(r)) for m, r in ratings)[-F.RECENT_LENGTH:])

    def candidates(self, members: list[Member], retrieval: Retrieval | None = None,
                   embedding: MovieEmbedding | None = None) -> pd.DataFrame:
        """The movies none of the members has rated (all, or those `retrieval` picks), in
        catalogue order."""
        seen = set().union(*(m.seen for m in members))
        unseen = self.movies[~self.movies["movie_id"].isin(seen)]
        history = [movie for member in members for movie, _ in member.history]
        return retrieve(unseen, history, self.popularity, retrieval, embedding)


def _genres(text: str) -> frozenset:
    return frozenset(g for g in str(text).split(F.LIST_SEPARATOR) if g and g != F.NO_GENRES)


def _latest(movies, stars) -> list[tuple[int, float]]:
    pairs = list(zip((int(m) for m in movies), (float(r) for r in stars)))
    return pairs[-F.HISTORY_LENGTH:] if F.HISTORY_LENGTH else []


def _stars(r) -> str:
    return str(int(r)) if float(r).is_integer() else str(r)


def _slots(ids: list, stars: list, width: int = F.RECENT_LENGTH) -> tuple[str, str]:
    """ids and their stars as `width` '|'-joined slots each, oldest first, left-padded with ''."""
    pad = [""] * (width - len(ids))
    return (F.LIST_SEPARATOR.join(pad + [str(i) for i in ids]),
            F.LIST_SEPARATOR.join(pad + [_stars(r) for r in stars]))


NO_RATERS = _slots([], [])


def _history_strings(member: Member) -> tuple[str, str]:
    """'|'-joined, oldest first, left-padded with '' (as the data stage writes them)."""
    return _slots([m for m, _ in member.history], [r for _, r in member.history], F.HISTORY_LENGTH)


def member_columns(member: Member, side: str) -> dict:
    """One member's raw serving columns (the same on every row of a request) by column name."""
    hist_movies, hist_ratings = _history_strings(member)
    recent_movies, recent_ratings = _slots([m for m, _ in member.recent], [r for _, r in member.recent])
    return {F.user(side): member.user, F.hist_movies(side): hist_movies, F.hist_ratings(side): hist_ratings,
            F.recent_movies(side): recent_movies, F.recent_ratings(side): recent_ratings,
            F.sex(side): member.sex, F.age(side): member.age, F.occupation(side): member.occupation}


def raw_rows(a: Member, b: Member, movies: pd.DataFrame, tables_raters: dict | None = None) -> pd.DataFrame:
    """The raw serving columns (pairs.csv's, without label and evaluation-only columns), one
    row per movie, for the pair (a, b); tables_raters: each movie's recent raters
    (Tables.raters), none when not given."""
    n = len(movies)
    columns = {}
    for side, member in (("a", a), ("b", b)):
        columns.update({name: [value] * n for name, value in member_columns(member, side).items()})
    columns.update({F.MOVIE: movies["movie_id"].to_numpy(), F.MOVIE_GENRES: movies["genres"].to_numpy(),
                    F.MOVIE_YEAR: movies["year"].to_numpy(), F.MOVIE_RUNTIME: movies["runtime"].to_numpy(),
                    F.MOVIE_DIRECTOR: movies["director"].to_numpy(), F.MOVIE_ACTORS: movies["actors"].to_numpy(),
                    F.MOVIE_IMDB_RATING: movies["imdb_rating"].to_numpy(),
                    F.MOVIE_IMDB_VOTES: movies["imdb_votes"].to_numpy()})
    raters = [tables_raters.get(int(m), NO_RATERS) for m in movies["movie_id"]] if tables_raters else [NO_RATERS] * n
    columns[F.MOVIE_RATERS] = [r[0] for r in raters]
    columns[F.MOVIE_RATER_RATINGS] = [r[1] for r in raters]
    return pd.DataFrame(columns)


def movie_arrays(scorer: "Scorer", movies: pd.DataFrame, tables_raters: dict | None = None) -> dict[str, np.ndarray]:
    """raw_rows of `movies` with blank members, as the scorer's input arrays: what with_members
    gathers a request's (or a case's) rows from."""
    blank = Member(0, "", 0, 0, [], frozenset())
    return scorer.raw_arrays(raw_rows(blank, blank, movies, tables_raters))


def repeated(value, n: int, dtype: np.dtype) -> np.ndarray:
    """value n times as an array of dtype (a string column keeps its whole strings)."""
    if dtype.kind == "U":
        return np.full(n, str(value))
    return np.full(n, value).astype(dtype)


def with_members(movie_arrays: dict[str, np.ndarray], at: np.ndarray, columns: dict) -> dict[str, np.ndarray]:
    """The rows of the movies at positions `at` of movie_arrays (Scorer.raw_arrays of every
    movie) with the members' columns (by name: one value each, repeated) put in."""
    out = {name: values[at] for name, values in movie_arrays.items()}
    for name, value in columns.items():
        if name in out:
            out[name] = repeated(value, len(at), out[name].dtype)
    return out


def candidate_rows(prepared: Path, user_a: int, user_b: int) -> pd.DataFrame:
    """The raw rows of every unseen movie for a pair, with the title (the first version's API)."""
    tables = Tables(prepared)
    a, b = tables.member(user_a), tables.member(user_b)
    movies = tables.candidates([a, b])
    return raw_rows(a, b, movies, tables.raters).assign(title=movies["title"].to_numpy())


# ---------------------------------------------------------------- the model

class Scorer:
    """A loaded SavedModel version: pair rating, member ratings and attention per row. Models
    pushed before `predict_raw` existed are scored through serving_default (no attention)."""

    def __init__(self, model_dir: Path, batch_wait_s: float = 0.0):
        """batch_wait_s > 0: concurrent callers' rows go through each signature in one call,
        a round waiting at most this long for them (serving/batching.py; the service's)."""
        import tensorflow as tf  # heavy: imported when scoring, not for --help

        from serving.batching import MicroBatcher

        self.tf = tf
        self.model_dir = Path(model_dir)
        self.loaded = tf.saved_model.load(str(model_dir))
        self.raw = self.loaded.signatures.get(F.RAW_SIGNATURE)
        self.has_attention = self.raw is not None
        if self.raw is not None:
            self.dtypes = {name: spec.dtype for name, spec in self.raw.structured_input_signature[1].items()}
        self.default = self.loaded.signatures[F.SERVING_DEFAULT]
        self.pair = self.loaded.signatures.get(F.PAIR_SIGNATURE)     # None for models pushed before it
        self.embedding = MovieEmbedding.from_model(self.model_dir, self.loaded.variables)
        # the sequence model (trainer_fn/sequence.py): None for a model without it
        self.sequence = self.loaded.signatures.get(F.SEQUENCE_SIGNATURE)
        self.sequence_length = int(self.loaded.sequence_length.numpy()) if self.sequence is not None else 0
        if self.sequence is not None:
            vocabulary = (self.model_dir / "assets" / F.MOVIE_VOCAB).read_text().splitlines()
            self.sequence_movies = np.array([int(v) for v in vocabulary], dtype=np.int64)
        self._batched = {name: MicroBatcher(self._signature_fn(signature, batch), batch_wait_s)
                         for name, signature, batch in (("pair", self.pair, SCORE_BATCH), ("raw", self.raw, SCORE_BATCH),
                                                        ("sequence", self.sequence, SEQUENCE_BATCH))
                         if signature is not None}

    def _signature_fn(self, signature, batch: int):
        """rows (numpy arrays by input name) -> the signature's outputs as numpy arrays, run
        `batch` rows a call."""
        tf = self.tf
        dtypes = {name: spec.dtype for name, spec in signature.structured_input_signature[1].items()}

        def run(arrays):
            n = len(next(iter(arrays.values())))
            parts = [{k: v.numpy() for k, v in signature(**{
                name: tf.constant(arrays[name][i:i + batch], dtype=dtype) for name, dtype in dtypes.items()}).items()}
                for i in range(0, n, batch)]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

        return run

    @property
    def has_sequence(self) -> bool:
        return self.sequence is not None

    def pair_ratings(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Each row's pair rating (rows as raw_arrays' arrays), through predict_pair_raw (a third
        of the model's work of score()) where the model has it."""
        if self.pair is None:
            return np.asarray(self.score(pd.DataFrame(arrays))["pair_rating"])
        if not len(next(iter(arrays.values()))):
            return np.zeros(0, np.float32)
        return self._batched["pair"](arrays)["pair_rating"]

    def score_arrays(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """score() for rows given as arrays (raw_arrays')."""
        if self.raw is None or not len(next(iter(arrays.values()))):
            return self.score(pd.DataFrame(arrays))
        return self._batched["raw"](arrays)

    def next_log_probabilities(self, histories, movie_ids) -> np.ndarray:
        """[len(histories), len(movie_ids)]: log p(the next movie is m | the history) from the
        `watch_next` signature, each history a list of movie ids oldest first (its last
        sequence_length are read); a movie outside the model's vocabulary gets the row's lowest."""
        ids = np.asarray(movie_ids, dtype=np.int64)
        order = np.argsort(self.sequence_movies, kind="stable")
        at = np.clip(np.searchsorted(self.sequence_movies[order], ids), 0, max(len(order) - 1, 0))
        known = self.sequence_movies[order][at] == ids if len(order) else np.zeros(len(ids), bool)
        columns = order[at] if len(order) else np.zeros(len(ids), np.int64)
        if not len(histories):
            return np.zeros((0, len(ids)), np.float64)
        text = np.array([F.LIST_SEPARATOR.join(str(int(m)) for m in list(h)[-self.sequence_length:])
                         for h in histories], dtype=object)
        values = self._batched["sequence"]({F.SEQUENCE_INPUT: text})[F.SEQUENCE_OUTPUT]
        return np.where(known, values[:, columns], values.min(axis=1, keepdims=True)).astype(np.float64)

    def pair_sequence_scores(self, histories, movie_ids) -> np.ndarray:
        """The pair's sequence score of each movie: the sum over its members (their histories, one
        for one person) of log p(movie | member's history)."""
        return self.next_log_probabilities(histories, movie_ids).sum(axis=0)

    def raw_arrays(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """The raw signatures' inputs as numpy arrays of their dtypes (strings as str); a model
        without them (pushed before predict_raw) gets the columns as they are."""
        tf = self.tf
        if self.raw is None:
            return {name: rows[name].to_numpy() for name in rows.columns}
        return {name: (rows[name].to_numpy().astype(str) if dtype == tf.string
                       else rows[name].to_numpy().astype(dtype.as_numpy_dtype))
                for name, dtype in self.dtypes.items()}

    def score(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        """{pair_rating, a_rating, b_rating: [n], a_attention, b_attention: [n, HISTORY_LENGTH]}."""
        parts = [self._score(rows.iloc[i:i + SCORE_BATCH]) for i in range(0, len(rows), SCORE_BATCH)]
        if not parts:
            return {k: np.zeros((0,) if "rating" in k else (0, F.HISTORY_LENGTH), np.float32)
                    for k in ("pair_rating", "a_rating", "b_rating", "a_attention", "b_attention")}
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _score(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        tf = self.tf
        if self.raw is not None:
            return self._batched["raw"](self.raw_arrays(rows))
        from serving.tf_examples import serialize

        def pair(frame):
            return self.default(examples=tf.constant(serialize(frame, drop=SERVING_DROP)))[F.PREDICTION_KEY].numpy()[:, 0]

        out = {"pair_rating": pair(rows)}
        for side in F.SIDES:
            single = rows.copy()
            for column in F.USER_COLUMNS:
                for other in F.SIDES:
                    single[column(other)] = rows[column(side)].to_numpy()
            out[f"{side}_rating"] = pair(single)
            out[f"{side}_attention"] = np.zeros((len(rows), F.HISTORY_LENGTH), np.float32)
        return out


# ---------------------------------------------------------------- ranking (no TensorFlow)

def score_pair(scorer: Scorer, tables: Tables, a: Member, b: Member,
               retrieval: Retrieval | None = DEFAULT_RETRIEVAL, movies: pd.DataFrame | None = None,
               ranker=None, top: int | None = None, listed: int | None = None) -> pd.DataFrame:
    """The candidates (every unseen movie with retrieval=None; or `movies`) with their
    predictions, in catalogue order. With a pair ranker (`ranker`, else the tables'), the
    candidates are the retrieval.size unseen movies of highest watch score, and the frame
    has their watch score and the rating weight the ranking adds to it.

    top: only the `top` candidates of highest `average` score (rank()'s order) need each
    member's rating: pair ratings come from predict_pair_raw, and predict_raw (members and
    attention) runs on those `top` only; the others' member ratings are NaN. listed (default
    top): with the pair ranker, the pair rating is computed only for the candidates that can
    reach the first `listed` places (bounded_pair_ratings), NaN for the others. The list
    rank(frame, "average", k) is the same for every k <= listed as with every candidate
    scored."""
    members = [a] if a is b else [a, b]
    ranker = ranker if ranker is not None else tables.ranker
    watch = None
    if ranker is not None:
        # the watch score over every unseen movie (or the given ones), standardised over them as
        # the ranking metrics do (serving/ranking.py), then the retrieval.size best kept
        movies = tables.candidates(members) if movies is None else movies
        ids = movies["movie_id"].to_numpy()
        watch = ranker.blend(ranker.watch(members, ids), sequence_part(scorer, ranker, members, ids))
        if retrieval is not None and len(movies) > retrieval.size:
            keep = best_positions(watch, ids, retrieval.size)
            movies, watch = movies.iloc[keep], watch[keep]
    movies = tables.candidates(members, retrieval, scorer.embedding) if movies is None else movies
    rows = tables.request_arrays(scorer, a, b, movies)
    listed = None if top is None else max(top, listed or 0)
    if listed is not None and watch is not None and listed < len(movies):
        scores = _score_top(scorer, rows, watch, ranker.weight(single=a is b), movies["movie_id"].to_numpy(), top,
                            listed)
    else:
        scores = scorer.score_arrays(rows)
    frame = movies[["movie_id", "title", "year", "genres", "director"]].reset_index(drop=True)
    frame = frame.assign(pair_rating=scores["pair_rating"], a_rating=scores["a_rating"],
                         b_rating=scores["b_rating"])
    frame["a_attention"] = list(scores["a_attention"])
    frame["b_attention"] = list(scores["b_attention"])
    if watch is not None:
        frame["watch"] = watch
        frame["rating_weight"] = ranker.weight(single=a is b)
    return frame


def sequence_part(scorer: Scorer, ranker, members: list[Member], ids) -> np.ndarray | None:
    """The pair's sequence score of each of `ids` (Scorer.pair_sequence_scores over the members'
    whole profiles, oldest first), or None where the ranker gives it no weight or the model has
    no sequence model: then it is not computed."""
    if not ranker.params.sequence_weight or not scorer.has_sequence:
        return None
    return scorer.pair_sequence_scores([list(m.profile) for m in members], ids)


def bounded_pair_ratings(scorer: Scorer, rows: dict[str, np.ndarray], watch: np.ndarray, weight: float,
                         ids: np.ndarray, listed: int, first: int | None = None) -> np.ndarray:
    """Each row's pair rating where the row can reach the first `listed` places of the list by
    watch + weight x pair rating (ties by the pair rating, then the movie id), NaN where it
    cannot. A pair rating is at most RATING_MAX, so a row whose watch + max(weight, 0) x
    RATING_MAX is below the listed-th best score of the rows already scored cannot enter: rows
    are scored in order of that bound (the watch score's), `first` of them (default
    FIRST_SCORED) and then every row whose bound still reaches the list, in one more call.
    The list is the one that scoring every row gives."""
    n = len(ids)
    pair = np.full(n, np.nan)
    if n == 0 or listed <= 0:
        return pair
    order = np.lexsort((ids, -watch))
    descending_bound = -(watch[order] + max(weight, 0.0) * F.RATING_MAX)     # ascending
    done, need = 0, min(n, max(listed, FIRST_SCORED if first is None else first))
    while need > done:
        chunk = order[done:need]
        pair[chunk] = scorer.pair_ratings({name: values[chunk] for name, values in rows.items()})
        done = need
        if done < listed:              # fewer rows than places: every row is rated
            break
        scored = order[:done]
        threshold = np.partition(watch[scored] + weight * pair[scored], done - listed)[done - listed]
        need = max(done, int(np.searchsorted(descending_bound, -threshold, side="right")))
    return pair


def _score_top(scorer: Scorer, rows: dict[str, np.ndarray], watch: np.ndarray, weight: float, ids: np.ndarray,
               top: int, listed: int) -> dict[str, np.ndarray]:
    """score()'s columns with the members' ratings and attention for the `top` rows of highest
    watch + weight x pair rating only (ties as rank(): the pair rating, then the movie id),
    and the pair rating of the rows that can reach the first `listed` places only
    (bounded_pair_ratings); rows: the rows as the scorer's input arrays (Tables.request_arrays)."""
    pair = bounded_pair_ratings(scorer, rows, watch, weight, ids, listed)
    known = ~np.isnan(pair)
    best = np.lexsort((ids, -np.where(known, pair, -np.inf), -np.where(known, watch + weight * pair, -np.inf)))[:top]
    full = scorer.score_arrays({name: values[best] for name, values in rows.items()})
    n = len(ids)
    out = {"pair_rating": pair}
    for side in F.SIDES:
        out[f"{side}_rating"] = np.full(n, np.nan, np.asarray(full[f"{side}_rating"]).dtype)
        out[f"{side}_rating"][best] = full[f"{side}_rating"]
        out[f"{side}_attention"] = np.zeros((n, F.HISTORY_LENGTH), np.asarray(full[f"{side}_attention"]).dtype)
        out[f"{side}_attention"][best] = full[f"{side}_attention"]
    return out


def strategy_score(frame: pd.DataFrame, strategy: str) -> pd.Series:
    """average: the pair prediction; least_misery: the lower of the two members' own. With
    the pair ranker's columns (score_pair), the watch score plus the rating weight times it."""
    if strategy == "average":
        rating = frame["pair_rating"]
    elif strategy == "least_misery":
        rating = np.minimum(frame["a_rating"], frame["b_rating"])
    else:
        raise ValueError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    if "watch" in frame.columns:
        return frame["watch"] + frame["rating_weight"] * rating
    return rating


def rank(frame: pd.DataFrame, strategy: str = "average", n: int = 10) -> pd.DataFrame:
    """The top n by the strategy's score; ties by the pair rating, then the movie id."""
    scored = frame.assign(score=strategy_score(frame, strategy))
    return scored.sort_values(["score", "pair_rating", "movie_id"], ascending=[False, False, True],
                              kind="stable").head(n).reset_index(drop=True)


def genre_similarity(x: frozenset, y: frozenset) -> float:
    """Jaccard similarity of two genre sets (0 when both are empty)."""
    union = len(x | y)
    return len(x & y) / union if union else 0.0


def mmr_pool(n: int) -> int:
    """How many of the top candidates diversify() re-ranks for a list of n."""
    return max(MMR_POOL * n, 50)


def diversify(frame: pd.DataFrame, strategy: str = "average", n: int = 10, lam: float = MMR_LAMBDA,
              pool: int | None = None) -> pd.DataFrame:
    """Maximal marginal relevance over the top candidates: each pick maximises
    lam * relevance - (1 - lam) * (highest genre similarity to the movies already picked),
    relevance being the strategy's score scaled to [0, 1] over the pool."""
    pool = pool or mmr_pool(n)
    top = rank(frame, strategy, pool)
    if top.empty:
        return top
    genres = [_genres(g) for g in top["genres"]]
    score = top["score"].to_numpy(dtype=float)
    spread = score.max() - score.min()
    relevance = (score - score.min()) / spread if spread > 0 else np.ones_like(score)
    picked, left = [], list(range(len(top)))
    while left and len(picked) < n:
        def value(i):
            redundancy = max((genre_similarity(genres[i], genres[j]) for j in picked), default=0.0)
            return lam * relevance[i] - (1 - lam) * redundancy
        best = max(left, key=lambda i: (value(i), -i))
        picked.append(best)
        left.remove(best)
    return top.iloc[picked].reset_index(drop=True)


def genre_spread(frame: pd.DataFrame) -> dict:
    """How varied a list is: distinct genres, the count of each, and the mean pairwise
    genre dissimilarity (1 - Jaccard; 0 when every movie has the same genres)."""
    genres = [_genres(g) for g in frame["genres"]]
    counts: dict[str, int] = {}
    for gs in genres:
        for g in gs:
            counts[g] = counts.get(g, 0) + 1
    pairs = [(i, j) for i in range(len(genres)) for j in range(i + 1, len(genres))]
    dissimilarity = (float(np.mean([1 - genre_similarity(genres[i], genres[j]) for i, j in pairs]))
                     if pairs else 0.0)
    return {"distinct_genres": len(counts), "genre_counts": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "mean_pairwise_genre_dissimilarity": round(dissimilarity, 4)}


def top_contributors(tables: Tables, members: list[Member], movie_ids, scorer: Scorer | None = None) -> list[list]:
    """For each member, for each of movie_ids: (part, history movie, what it adds) for the history
    movie that drives the movie's watch score most, or None. With the sequence model in the
    ranker (its weight above 0): part "sequence", the movie of their last sequence_length whose
    removal lowers log p(movie | their history) most, and by how much (sequence_reasons); else
    part "EASE", the movie that adds most to its EASE score (one product per member)."""
    ranker = tables.ranker
    if scorer is not None and ranker.params.sequence_weight and scorer.has_sequence:
        return [[("sequence", *found) if found else None for found in mine]
                for mine in sequence_reasons(scorer, members, movie_ids)]
    return [[("EASE", *found) if found else None
             for found in ranker.ease.top_contributors(m.profile, movie_ids, ranker.params.decay,
                                                       m.profile_ratings if ranker.params.liked else None)]
            for m in members]


def sequence_reasons(scorer: Scorer, members: list[Member], movie_ids) -> list[list[tuple[int, float] | None]]:
    """For each member, for each of movie_ids: the movie of the member's last sequence_length
    whose removal from their history lowers log p(movie | history) most, and by how much (None
    where no removal lowers it). The same watch_next graph, for each member once with the
    history whole and once without each of its latest movies: every member's variants in one
    batch."""
    movie_ids = list(movie_ids)
    variants, spans = [], []
    for member in members:
        profile = list(member.profile)
        latest = profile[-scorer.sequence_length:] if scorer.sequence_length else []
        older = profile[:len(profile) - len(latest)]
        spans.append((len(variants), latest))
        if latest:
            variants += [profile] + [older + latest[:i] + latest[i + 1:] for i in range(len(latest))]
    scores = scorer.next_log_probabilities(variants, movie_ids) if variants else None
    out = []
    for start, latest in spans:
        if not latest:
            out.append([None] * len(movie_ids))
            continue
        drop = scores[start][None, :] - scores[start + 1:start + 1 + len(latest)]    # [latest movies, movie_ids]
        best = np.argmax(drop, axis=0)
        out.append([(int(latest[i]), float(drop[i, j])) if drop[i, j] > 0 else None for j, i in enumerate(best)])
    return out


def reason(tables: Tables, row, members: list[Member], contributors: list | None = None) -> str:
    """Why this movie. With the pair ranker: for each member the movie of their history that
    drives its watch score most (top_contributors: through the sequence model where the ranker
    weighs it, else through EASE), and their predicted rating; else the history movie each
    member's attention weighted most. Then the genres or director it shares with their history.
    contributors: each member's (part, movie, value) for this row's movie, when
    top_contributors() computed them already."""
    parts = []
    title = lambda m: tables.movies.at[m, "title"] if m in tables.movies.index else f"movie {m}"  # noqa: E731
    ranker = tables.ranker if "watch" in getattr(row, "index", ()) else None
    for k, (side, member) in enumerate(zip(F.SIDES, members)):
        rating = row.get(f"{side}_rating") if hasattr(row, "get") else None
        if ranker is not None:
            if contributors is not None:
                top = contributors[k]
            else:
                top = (ranker.ease.contributions(member.profile, int(row["movie_id"]), ranker.params.decay,
                                                 member.profile_ratings if ranker.params.liked else None) or [None])[0]
                top = ("EASE", *top) if top else None
            if top and top[2] > 0:
                if top[0] == "sequence":
                    part = (f"{member.label} watched '{title(top[1])}' lately (without it the sequence model's "
                            f"log-probability of this movie falls by {top[2]:.2f})")
                else:
                    part = f"{member.label} watched '{title(top[1])}' (most of the watch score)"
                parts.append(part + (f", predicted {float(rating):.1f} stars" if rating is not None else ""))
            elif rating is not None:
                parts.append(f"{member.label}: predicted {float(rating):.1f} stars")
            continue
        weights = np.asarray(row[f"{side}_attention"], dtype=float)[-len(member.history):] if member.history else []
        if len(weights) and weights.max() > 0:
            i = int(np.argmax(weights))
            movie, stars = member.history[i]
            parts.append(f"{member.label}'s attention weighted '{title(movie)}' ({stars:g} stars) most "
                         f"({weights[i]:.2f})")
    movie_genres = _genres(row["genres"])
    shared = set()
    director = int(row["director"]) if str(row["director"]).lstrip("-").isdigit() else 0
    same_director = []
    for member in members:
        for movie, _ in member.history:
            shared |= movie_genres & tables.genres.get(movie, frozenset())
            if director >= 2 and movie in tables.movies.index and int(tables.movies.at[movie, "director"]) == director:
                same_director.append(title(movie))
    if shared:
        parts.append("shares " + ", ".join(sorted(shared)) + " with their recent movies")
    if same_director:
        name = tables.directors.get(director, f"director {director}")
        parts.append(f"same director ({name}) as '{same_director[0]}'")
    return "; ".join(parts) if parts else "high predicted rating"


def recommendations(scorer: Scorer, tables: Tables, members: list[Member], n: int = 10,
                    strategy: str = "average", diversified: bool = False,
                    retrieval: Retrieval | None = DEFAULT_RETRIEVAL) -> dict:
    """The ranked list as plain data (the service's response body without the model)."""
    strategy_score(pd.DataFrame({"pair_rating": [], "a_rating": [], "b_rating": []}), strategy)  # validates
    a, b = (members[0], members[0]) if len(members) == 1 else members
    # least_misery ranks by the members' own ratings: every candidate needs them.
    needed = None if strategy != "average" else (mmr_pool(n) if diversified else n)
    frame = score_pair(scorer, tables, a, b, retrieval, top=needed)
    top = diversify(frame, strategy, n) if diversified else rank(frame, strategy, n)
    items = []
    ids = [int(m) for m in top["movie_id"]]
    found = top_contributors(tables, members, ids, scorer) if "watch" in top.columns else None
    for i, row in top.iterrows():
        ratings = [{"user": m.user if m.user != NEW_USER_ID else None, "predicted_rating": round(float(row[f"{s}_rating"]), 4)}
                   for s, m in zip(F.SIDES, members)]
        items.append({"rank": i + 1, "movie": int(row["movie_id"]), "title": row["title"],
                      "year": int(row["year"]) if str(row["year"]).isdigit() else None,
                      "genres": sorted(_genres(row["genres"])), "pair_rating": round(float(row["pair_rating"]), 4),
                      "member_ratings": ratings, "score": round(float(row["score"]), 4),
                      "reason": reason(tables, row, members, [f[i] for f in found] if found else None)})
    return {"mode": "single" if len(members) == 1 else "pair", "strategy": strategy, "diversify": diversified,
            "candidates": int(len(frame)), "items": items, "genre_spread": genre_spread(top)}


def recommend(model_dir: Path, prepared: Path, user_a: int, user_b: int, top: int = 10,
              retrieval: Retrieval | None = DEFAULT_RETRIEVAL, strategy: str = "average", diversified: bool = False,
              scorer: Scorer | None = None, tables: Tables | None = None) -> pd.DataFrame:
    """The top movies for the pair, as a table: highest strategy score first (with the pair
    ranker's settings the version carries, version_tables, unless `tables` are given)."""
    if tables is None:
        tables = version_tables(prepared, model_dir)
    scorer = scorer or Scorer(model_dir)
    a, b = tables.member(user_a), tables.member(user_b)
    frame = score_pair(scorer, tables, a, b, retrieval)
    ranked = diversify(frame, strategy, top) if diversified else rank(frame, strategy, top)
    members = [a] if user_a == user_b else [a, b]
    found = top_contributors(tables, members, [int(m) for m in ranked["movie_id"]], scorer) if "watch" in ranked \
        else None
    ranked["reason"] = [reason(tables, row, members, [f[i] for f in found] if found else None)
                        for i, row in ranked.iterrows()]
    if user_a == user_b:
        ranked = ranked.drop(columns="b_rating")
    ranked = ranked.rename(columns={"movie_id": F.MOVIE, "genres": F.MOVIE_GENRES, "pair_rating": "predicted_rating",
                                    "a_rating": f"rating_{user_a}", "b_rating": f"rating_{user_b}"})
    columns = [F.MOVIE, "title", F.MOVIE_GENRES, "score", "predicted_rating", f"rating_{user_a}", f"rating_{user_b}",
               "reason"]
    return ranked[list(dict.fromkeys(columns))].reset_index(drop=True)


def add_retrieval_args(p: argparse.ArgumentParser) -> None:
    """--popular, --near, --all-movies: the command-line recommender's, the service's and the
    benchmarks' candidate options."""
    g = p.add_argument_group("candidates")
    g.add_argument("--popular", type=int, default=POPULAR_CANDIDATES, help="the most rated unseen movies scored")
    g.add_argument("--near", type=int, default=NEAR_CANDIDATES,
                   help="more unseen movies scored: those nearest the members' histories in the movie embedding")
    g.add_argument("--all-movies", action="store_true", help="score every unseen movie instead")


def retrieval_from_args(args) -> Retrieval | None:
    if args.popular < 0 or args.near < 0:
        raise UserError(f"--popular and --near must be 0 or more (got {args.popular}, {args.near})")
    return None if args.all_movies else Retrieval(args.popular, args.near)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m serving.recommend", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, nargs=2, required=True, metavar=("A", "B"),
                   help="two user ids; the same id twice for one person")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder: serving_model/, prepared/, metadata.sqlite (default %(default)s)")
    p.add_argument("--prepared", help="prepared data folder (default: the newest under <work>/prepared)")
    p.add_argument("--model", help="SavedModel folder (default: the newest pushed version)")
    p.add_argument("--top", type=int, default=10, help="how many movies to list (default %(default)s)")
    add_retrieval_args(p)
    p.add_argument("--strategy", choices=STRATEGIES, default="average",
                   help="average: the pair prediction; least_misery: the lower member prediction")
    p.add_argument("--diversify", action="store_true", help="re-rank the top candidates for genre diversity")
    p.add_argument("--json", action="store_true", help="print the service's JSON body instead of a table")
    p.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)
    run_cli(p.prog, lambda: _main(args), verbose=args.verbose)


def version_tables(prepared: Path, model: Path) -> Tables:
    """The tables, ranking with the pair ranker's settings and EASE matrix the version carries
    (assets.extra/, chosen on eval by its run's RankingEvaluator), or by the predicted rating
    alone for a version that says so (pushed with --no-ranking): as the service ranks
    (serving/serve.py). A version without its files is refused (version_files.BadVersionFile)."""
    from serving import version_files as V

    tables = Tables(prepared)
    try:
        params = V.ranker_params(V.read_ranking(model))
        ease, ratings, _ = V.read_ease(model, params)
    except V.BadVersionFile as error:
        raise UserError(f"model version {model.name}: {error}") from None
    warning = V.fitted_elsewhere(ratings, tables.ratings, prepared.name)
    if warning:
        print(f"warning: version {model.name}: {warning}", file=sys.stderr)
    return tables.use_ranker(params, ease) if params is not None else tables


def _main(args) -> None:
    work = WorkLayout.at(args.work_dir)
    if args.prepared and not Path(args.prepared, "users.csv").is_file():
        raise UserError(f"--prepared {args.prepared}: not a prepared data folder (no users.csv in it)")
    prepared = Path(args.prepared) if args.prepared else work.latest_prepared()
    model = Path(args.model) if args.model else latest_model(work.serving_model)
    tables = version_tables(prepared, model)
    if args.json:
        members = [tables.member(u) for u in dict.fromkeys(args.users)]
        body = recommendations(Scorer(model), tables, members, args.top, args.strategy, args.diversify,
                               retrieval_from_args(args))
        from serving import version_files as V

        ranker = V.RATING_ONLY if tables.ranker is None else V.PAIR_RANKER
        print(json.dumps({"users": list(dict.fromkeys(args.users)), "model": str(model), "ranker": ranker, **body},
                         indent=2))
        return
    result = recommend(model, prepared, *args.users, top=args.top, retrieval=retrieval_from_args(args),
                       strategy=args.strategy, diversified=args.diversify, tables=tables)
    print(f"top {len(result)} for users {args.users[0]} and {args.users[1]} (model {model}):")
    with pd.option_context("display.max_colwidth", 90, "display.width", 250):
        print(result.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
