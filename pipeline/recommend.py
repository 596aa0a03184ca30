"""Top-N movies for two people, scored in-process by a pushed SavedModel.

    python -m pipeline.recommend --work-dir work --users 12 34 --top 10

Candidates are the movies neither user has rated (optionally only the most rated ones);
each is scored as the pair (A, B) with both users' latest viewing history, through the
model's serving signature, i.e. the same Transform graph the Trainer saw.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.layout import DEFAULT_WORK_DIR, WorkLayout
from data.errors import UserError, run_cli
from transform_fn import features as F

SERVING_DROP = (F.LABEL, *F.EVAL_ONLY)


class UnknownUser(KeyError, UserError):
    def __str__(self) -> str:
        return str(self.args[0])


class NoModel(FileNotFoundError, UserError):
    pass


def latest_model(serving_dir: Path) -> Path:
    versions = sorted((p for p in Path(serving_dir).glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if not versions:
        raise NoModel(f"no pushed model under {serving_dir}: run `make run` until a model is "
                                f"blessed, or pass --model DIR")
    return versions[-1]


def _history(ratings: pd.DataFrame, user: int) -> tuple[str, str]:
    """The user's last HISTORY_LENGTH ratings, oldest first, left-padded with ''."""
    mine = ratings[ratings["user_id"] == user].sort_values(["timestamp", "movie_id"]).tail(F.HISTORY_LENGTH)
    pad = [""] * (F.HISTORY_LENGTH - len(mine))
    movies = pad + mine["movie_id"].astype(str).tolist()
    stars = pad + mine["rating"].astype(str).tolist()
    return F.LIST_SEPARATOR.join(movies), F.LIST_SEPARATOR.join(stars)


def candidate_rows(prepared: Path, user_a: int, user_b: int, max_candidates: int | None = None) -> pd.DataFrame:
    users = pd.read_csv(prepared / "users.csv").set_index("user_id")
    movies = pd.read_csv(prepared / "movies.csv", keep_default_na=False)
    ratings = pd.read_csv(prepared / "ratings_by_split.csv")
    for user in (user_a, user_b):
        if user not in users.index:
            raise UnknownUser(f"user {user} is not in {prepared / 'users.csv'}")
    seen = set(ratings.loc[ratings["user_id"].isin([user_a, user_b]), "movie_id"])
    candidates = movies[~movies["movie_id"].isin(seen)]
    if max_candidates:
        popularity = ratings["movie_id"].value_counts()
        candidates = candidates.assign(n=candidates["movie_id"].map(popularity).fillna(0))
        candidates = candidates.sort_values(["n", "movie_id"], ascending=[False, True]).head(max_candidates)
    rows = {}
    for side, user in (("a", user_a), ("b", user_b)):
        rows[F.user(side)] = user
        rows[F.hist_movies(side)], rows[F.hist_ratings(side)] = _history(ratings, user)
        rows[F.sex(side)] = users.loc[user, "sex"]
        rows[F.age(side)] = users.loc[user, "age"]
        rows[F.occupation(side)] = users.loc[user, "occupation"]
    frame = pd.DataFrame({**{k: [v] * len(candidates) for k, v in rows.items()},
                          F.MOVIE: candidates["movie_id"].to_numpy(), F.MOVIE_GENRES: candidates["genres"].to_numpy(),
                          F.MOVIE_YEAR: candidates["year"].to_numpy(), F.MOVIE_RUNTIME: candidates["runtime"].to_numpy(),
                          F.MOVIE_DIRECTOR: candidates["director"].to_numpy(),
                          F.MOVIE_ACTORS: candidates["actors"].to_numpy(),
                          F.MOVIE_IMDB_RATING: candidates["imdb_rating"].to_numpy(),
                          F.MOVIE_IMDB_VOTES: candidates["imdb_votes"].to_numpy()})
    return frame.assign(title=candidates["title"].to_numpy())


def recommend(model_dir: Path, prepared: Path, user_a: int, user_b: int, top: int = 10,
              max_candidates: int | None = None, batch: int = 4096) -> pd.DataFrame:
    """The top movies for the pair, highest predicted pair rating first."""
    import tensorflow as tf  # heavy: imported when scoring, not for --help

    from pipeline.tf_examples import serialize

    rows = candidate_rows(prepared, user_a, user_b, max_candidates)
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    examples = serialize(rows, drop=SERVING_DROP)
    scores = [serve(examples=tf.constant(examples[i:i + batch]))[F.PREDICTION_KEY].numpy()[:, 0]
              for i in range(0, len(examples), batch)]
    rows["predicted_rating"] = np.concatenate(scores) if scores else np.array([])
    ranked = rows.sort_values(["predicted_rating", F.MOVIE], ascending=[False, True]).head(top)
    return ranked[[F.MOVIE, "title", F.MOVIE_GENRES, "predicted_rating"]].reset_index(drop=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m pipeline.recommend", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, nargs=2, required=True, metavar=("A", "B"),
                   help="two user ids; the same id twice for one person")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR)
    p.add_argument("--prepared", help="prepared data folder (default: the newest under <work>/prepared)")
    p.add_argument("--model", help="SavedModel folder (default: the newest pushed version)")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--max-candidates", type=int, help="score only the most rated unseen movies")
    p.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)
    run_cli(p.prog, lambda: _main(args), verbose=args.verbose)


def _main(args) -> None:
    work = WorkLayout.at(args.work_dir)
    if args.prepared and not Path(args.prepared, "users.csv").is_file():
        raise UserError(f"--prepared {args.prepared}: not a prepared data folder (no users.csv in it)")
    prepared = Path(args.prepared) if args.prepared else work.latest_prepared()
    model = Path(args.model) if args.model else latest_model(work.serving_model)
    result = recommend(model, prepared, *args.users, top=args.top, max_candidates=args.max_candidates)
    print(f"top {len(result)} for users {args.users[0]} and {args.users[1]} (model {model}):")
    print(result.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
