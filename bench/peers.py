"""Fair peers: scikit-surprise's SVD++ given the information the pipeline's model gets.

    python -m bench.peers --prepared work/prepared/<name>

The protocol (README, "What a row may read"): a test row is predicted one step ahead. Every
rating before the test period is known (train and eval), and the row carries its members'
latest ratings before the target's second, which may themselves be test-period ratings.
A peer that learns from train only and ignores the row's history sees less than that. So
each SVD++ here is scored four ways on exactly the rows of test/pairs.csv and
test/singles.csv (a pair as the mean of its members):

- fitted on train (what the in-pipeline baseline does today);
- the same + recency: `w * r`, r the mean residual (rating minus the same SVD++'s
  prediction) of the row's filled history slots, both members pooled, w one least-squares
  weight fitted on the eval rows;
- refitted on train + eval (every rating before the test period);
- that refit + recency, reusing the w fitted on eval with the train-only fit: no test row
  informs any choice.
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


def _history(rows: pd.DataFrame) -> list[list[tuple[int, int, float]]]:
    """Each row's filled history slots as (user, movie, rating), both members pooled
    (a single row's two sides are the same person: counted once)."""
    out = []
    for row in rows.to_dict("records"):
        slots = []
        for side in (F.SIDES if row["kind"] == "pair" else F.SIDES[:1]):
            user = int(row[F.user(side)])
            movies = row[F.hist_movies(side)].split(F.LIST_SEPARATOR)
            ratings = row[F.hist_ratings(side)].split(F.LIST_SEPARATOR)
            slots += [(user, int(m), float(r)) for m, r in zip(movies, ratings) if m]
        out.append(slots)
    return out


def _fit(events: pd.DataFrame, seed: int):
    import surprise

    algo = surprise.SVDpp(random_state=seed, cache_ratings=True)
    data = surprise.Dataset.load_from_df(events[["user_id", "movie_id", "rating"]], surprise.Reader(rating_scale=(1, 5)))
    algo.fit(data.build_full_trainset())
    return algo


def _predict(algo, rows: pd.DataFrame, history) -> tuple[np.ndarray, np.ndarray]:
    """(the pair prediction, the mean history residual r) for each row."""
    movies = rows[F.MOVIE].astype(int).to_numpy()
    pred = np.mean([[algo.predict(int(u), m).est for u, m in zip(rows[F.user(s)], movies)] for s in F.SIDES], axis=0)
    residual = np.array([np.mean([r - algo.predict(u, m).est for u, m, r in slots]) if slots else 0.0
                         for slots in history])
    return pred, residual


@dataclasses.dataclass
class Peers:
    rmse: dict[str, dict[str, float]]      # column -> kind -> test RMSE
    errors: dict[str, np.ndarray]          # column -> per-row error on the test rows
    recency_weight: float                  # w, fitted on eval with the train-only fit
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
    w = float(np.dot(r, eval_label - pred) / max(np.dot(r, r), 1e-12))      # least squares, eval rows only
    test_pred, test_r = _predict(on_train, test_rows, test_history)
    refit = _fit(before_test, seed)
    refit_pred, refit_r = _predict(refit, test_rows, test_history)
    columns = dict(zip(COLUMNS, (test_pred, test_pred + w * test_r, refit_pred, refit_pred + w * refit_r)))
    kinds = test_rows["kind"].to_numpy()
    errors = {name: np.clip(p, F.RATING_MIN, F.RATING_MAX) - label for name, p in columns.items()}
    rmse = {name: {kind: float(np.sqrt(np.mean(e[(kinds == kind) | (kind == "all")] ** 2))) for kind in KINDS}
            for name, e in errors.items()}
    return Peers(rmse, errors, w, kinds, time.time() - started)


def table(peers: Peers) -> list[str]:
    lines = ["| scikit-surprise SVD++ (defaults, random_state 0) | all | pair | single |", "|---|---:|---:|---:|"]
    for name, r in peers.rmse.items():
        lines.append(f"| {name} | {r['all']:.4f} | {r['pair']:.4f} | {r['single']:.4f} |")
    lines += ["", f"Recency weight w = {peers.recency_weight:.3f} (least squares on the eval rows, the train-only "
                  f"fit); {peers.seconds:.0f} s for the four columns."]
    return lines


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepared", required=True, help="a prepared folder (work/prepared/<name>)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print("\n".join(table(fair_peers(Path(args.prepared), args.seed))))


if __name__ == "__main__":
    main()
