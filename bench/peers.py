"""Fair peers: scikit-surprise's SVD++ given the information the pipeline's model gets.

    python -m bench.peers --prepared work/prepared/<name>

The protocol (README, "What a row may read"): a test row is predicted one step ahead. Every
rating before the test period is known (train and eval), and the row carries its members'
window (their previous ratings, which may be test-period ones), their latest ratings the
model has not learnt from, and the target movie's latest such raters. A peer that learns
from train only and ignores what the row carries sees less than that. So each SVD++ here is
scored four ways on exactly the rows of test/pairs.csv and test/singles.csv (a pair as the
mean of its members):

- fitted on train;
- the same + recency: `w . r`, r two mean residuals (rating minus the same SVD++'s
  prediction): of every rating of the row's members it carries (window and recent slots, a
  movie in both once, both members pooled) and of the movie's recent raters' ratings; w
  two least-squares weights fitted on the eval rows;
- refitted on train + eval (every rating before the test period);
- that refit + recency, reusing the w fitted on eval with the train-only fit: no test row
  informs any choice. The in-pipeline BaselineTrainer does the same (trainer_fn/baseline/run.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pandas as pd

from transform_fn import features as F

KINDS = ("all", "pair", "single")
COLUMNS = ("SVD++ on train", "SVD++ on train + recency", "SVD++ on train+eval", "SVD++ on train+eval + recency")


def _rows(prepared: Path, split: str) -> pd.DataFrame:
    frames = []
    for kind in ("pair", "single"):
        frame = pd.read_csv(prepared / split / f"{kind}s.csv", dtype=str, keep_default_na=False)
        frame["kind"] = kind
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _slots(row: dict, movies_column: str, ratings_column: str) -> list[tuple[int, float]]:
    movies = row[movies_column].split(F.LIST_SEPARATOR)
    ratings = row[ratings_column].split(F.LIST_SEPARATOR)
    return [(int(m), float(r)) for m, r in zip(movies, ratings) if m]


def _history(rows: pd.DataFrame) -> list[tuple[list[tuple[int, int, float]], list[tuple[int, int, float]]]]:
    """Each row's (member slots, rater slots) as (user, movie, rating). Member slots: every
    rating of its members the row carries (the window and the recent slots, a movie in both
    once), both members pooled (a single row's two sides are the same person: counted once);
    rater slots: the target movie's recent raters."""
    out = []
    for row in rows.to_dict("records"):
        members = []
        for side in (F.SIDES if row["kind"] == "pair" else F.SIDES[:1]):
            user = int(row[F.user(side)])
            recent = _slots(row, F.recent_movies(side), F.recent_ratings(side))
            seen = {m for m, _ in recent}
            window = [(m, r) for m, r in _slots(row, F.hist_movies(side), F.hist_ratings(side)) if m not in seen]
            members += [(user, m, r) for m, r in window + recent]
        movie = int(row[F.MOVIE])
        raters = [(u, movie, r) for u, r in _slots(row, F.MOVIE_RATERS, F.MOVIE_RATER_RATINGS)]
        out.append((members, raters))
    return out


def _fit(events: pd.DataFrame, seed: int):
    import surprise

    algo = surprise.SVDpp(random_state=seed, cache_ratings=True)
    scale = (F.rating_floor(events["rating"].to_numpy()), F.RATING_MAX)     # as the BaselineTrainer's
    data = surprise.Dataset.load_from_df(events[["user_id", "movie_id", "rating"]], surprise.Reader(rating_scale=scale))
    algo.fit(data.build_full_trainset())
    return algo


def _predict(algo, rows: pd.DataFrame, history) -> tuple[np.ndarray, np.ndarray]:
    """(the pair prediction, r [rows, 2]: the mean residuals of the member and the rater slots)."""
    movies = rows[F.MOVIE].astype(int).to_numpy()
    pred = np.mean([[algo.predict(int(u), m).est for u, m in zip(rows[F.user(s)], movies)] for s in F.SIDES], axis=0)
    residual = np.array([[np.mean([r - algo.predict(u, m).est for u, m, r in slots]) if slots else 0.0
                          for slots in row] for row in history]).reshape(len(history), 2)
    return pred, residual


@dataclasses.dataclass
class Peers:
    rmse: dict[str, dict[str, float]]      # column -> kind -> test RMSE
    errors: dict[str, np.ndarray]          # column -> per-row error on the test rows
    recency_weight: list[float]            # w (members, raters), fitted on eval with the train-only fit
    kinds: np.ndarray                      # the test rows' kind
    seconds: float


def fair_peers(prepared: Path, seed: int = 0) -> Peers:
    started = time.time()
    prepared = Path(prepared)
    ratings = pd.read_csv(prepared / F.RATINGS_FILE)
    train = ratings[ratings["split"] == F.TRAIN_SPLIT]
    before_test = ratings[ratings["split"] != F.TEST_SPLIT]
    eval_rows, test_rows = _rows(prepared, F.EVAL_SPLIT), _rows(prepared, F.TEST_SPLIT)
    eval_history, test_history = _history(eval_rows), _history(test_rows)
    eval_label = eval_rows[F.LABEL].astype(float).to_numpy()
    label = test_rows[F.LABEL].astype(float).to_numpy()

    on_train = _fit(train, seed)
    pred, r = _predict(on_train, eval_rows, eval_history)
    w = np.linalg.lstsq(r, eval_label - pred, rcond=None)[0]                 # least squares, eval rows only
    test_pred, test_r = _predict(on_train, test_rows, test_history)
    refit = _fit(before_test, seed)
    refit_pred, refit_r = _predict(refit, test_rows, test_history)
    columns = dict(zip(COLUMNS, (test_pred, test_pred + test_r @ w, refit_pred, refit_pred + refit_r @ w)))
    kinds = test_rows["kind"].to_numpy()
    floor = F.rating_floor(before_test["rating"].to_numpy())
    errors = {name: np.clip(p, floor, F.RATING_MAX) - label for name, p in columns.items()}
    rmse = {name: {kind: float(np.sqrt(np.mean(e[(kinds == kind) | (kind == "all")] ** 2))) for kind in KINDS}
            for name, e in errors.items()}
    return Peers(rmse, errors, [float(x) for x in w], kinds, time.time() - started)


def table(peers: Peers) -> list[str]:
    lines = ["| scikit-surprise SVD++ (defaults, random_state 0) | all | pair | single |", "|---|---:|---:|---:|"]
    for name, r in peers.rmse.items():
        lines.append(f"| {name} | {r['all']:.4f} | {r['pair']:.4f} | {r['single']:.4f} |")
    lines += ["", f"Recency weights w = {weights(peers)} (members, raters: least squares on the eval rows, the "
                  f"train-only fit); {peers.seconds:.0f} s for the four columns."]
    return lines


def weights(peers: Peers) -> str:
    return ", ".join(f"{w:.3f}" for w in peers.recency_weight)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepared", required=True, help="a prepared folder (work/prepared/<name>)")
    p.add_argument("--seed", type=int, default=0, help="scikit-surprise's random state (default %(default)s)")
    args = p.parse_args(argv)
    print("\n".join(table(fair_peers(Path(args.prepared), args.seed))))


if __name__ == "__main__":
    main()
