"""Ranking metrics of the served models: HR@10, NDCG@10 and catalogue coverage.

For test-split pair rows whose label is >= 4, the target movie is ranked among every movie
neither member had rated before the test period (train and eval ratings), the row's own
histories as the model saw them; hit rate and NDCG at 10 for the attention model, the SVD++
baseline its run trained, and a popularity ranker (rating counts before the test period).
The same ranks are also taken among only the candidates the service retrieves for the row
(recommend.retrieve): a target not retrieved is a miss. Coverage: the share of the
catalogue that appears in the top-10 lists of random user pairs.

After each pipeline run, runners/run_local.py computes these metrics for the run's two
models with for_run, on a seeded sample of SUMMARY_ROWS rows and SUMMARY_PAIRS pairs, into
<work>/reports/<run id>/ranking.json: the run summary prints them and the report shows them.
The benchmark (bench/ranking.py) writes the same measure() into BENCHMARKS.md.
"""

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from serving import recommend as R
from transform_fn import features as F

K = 10
SUMMARY_ROWS = 500       # the run summary's sample: test pair rows (label >= 4)...
SUMMARY_PAIRS = 500      # ...and random pairs for the coverage
RESULT_FILE = "ranking.json"


def hit_and_ndcg(ranks: np.ndarray, k: int = K) -> tuple[float, float]:
    """Mean hit rate and NDCG at k for 1-based ranks of one relevant item per row."""
    ranks = np.asarray(ranks, dtype=float)
    if ranks.size == 0:
        return float("nan"), float("nan")
    hits = ranks <= k
    return float(hits.mean()), float(np.where(hits, 1.0 / np.log2(ranks + 1.0), 0.0).mean())


def target_rank(scores: np.ndarray, target: int) -> int:
    """1 + the number of candidates scored strictly above the target (ties in its favour)."""
    return int(1 + np.sum(scores > scores[target]))


def evaluate(scorers: dict, tables: R.Tables, rows: pd.DataFrame,
             retrieval: R.Retrieval | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Target ranks per ranker for the test rows: among every movie neither member rated
    before the test period, and (per model) among the candidates `retrieval` picks from
    them (np.inf where the target is not one)."""
    before = tables.ratings[tables.ratings["split"] != F.TEST_SPLIT]
    seen = before.groupby("user_id")["movie_id"].agg(set).to_dict()
    popularity = before["movie_id"].value_counts()
    catalogue = tables.movies
    ranks = {name: [] for name in [*scorers, "popularity"]}
    retrieved = {name: [] for name in scorers}
    for row in rows.to_dict("records"):
        a, b = int(row[F.user("a")]), int(row[F.user("b")])
        target = int(row[F.MOVIE])
        rated = seen.get(a, set()) | seen.get(b, set())
        movies = catalogue[~catalogue["movie_id"].isin(rated - {target})]
        where = int(np.flatnonzero(movies["movie_id"].to_numpy() == target)[0])
        frame = R.raw_rows(R.Member(a, "", 0, 0, [], frozenset()), R.Member(b, "", 0, 0, [], frozenset()), movies)
        for column in F.USER_COLUMNS:      # the row's own users and histories, as of the test target
            for side in F.SIDES:
                frame[column(side)] = row[column(side)]
        history = [int(m) for side in F.SIDES for m in str(row[F.hist_movies(side)]).split(F.LIST_SEPARATOR) if m]
        for name, scorer in scorers.items():
            scores = scorer.score(frame)["pair_rating"]
            ranks[name].append(target_rank(scores, where))
            picked = R.retrieve(movies, history, popularity, retrieval, scorer.embedding)["movie_id"]
            inside = movies["movie_id"].isin(picked).to_numpy()
            retrieved[name].append(target_rank(scores[inside], int(inside[:where].sum())) if inside[where]
                                   else np.inf)
        pop = movies["movie_id"].map(popularity).fillna(0).to_numpy(float)
        ranks["popularity"].append(target_rank(pop, where))
    return ({name: np.array(r) for name, r in ranks.items()},
            {name: np.array(r, dtype=float) for name, r in retrieved.items()})


def coverage(scorers: dict, tables: R.Tables, pairs: int, seed: int,
             retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL) -> dict[str, float]:
    """The share of the catalogue in the top-10 lists of `pairs` random pairs, as the service
    would show them (the models on the candidates `retrieval` picks; None: every unseen movie)."""
    users = tables.users.index.to_numpy()
    out = {}
    for name, scorer in [*scorers.items(), ("popularity", None)]:
        shown = set()
        rng_pairs = np.random.default_rng(seed)
        for _ in range(pairs):
            a, b = (int(u) for u in rng_pairs.choice(users, 2, replace=False))
            ma, mb = tables.member(a), tables.member(b)
            if scorer is None:
                movies = tables.candidates([ma, mb])
                top = movies.assign(n=movies["movie_id"].map(tables.popularity).fillna(0)).sort_values(
                    ["n", "movie_id"], ascending=[False, True]).head(K)["movie_id"]
            else:
                top = R.rank(R.score_pair(scorer, tables, ma, mb, retrieval=retrieval), "average", K)["movie_id"]
            shown |= set(int(m) for m in top)
        out[name] = len(shown) / len(tables.movies)
    return out


def measure(model: Path, baseline: Path | None, prepared: Path, rows: int, pairs: int, seed: int = 0,
            retrieval: R.Retrieval | None = R.DEFAULT_RETRIEVAL) -> dict:
    """The metrics as plain data: HR@10, NDCG@10 and top-10 coverage per ranker (with
    retrieval also the HR@10 and NDCG@10 among the retrieved candidates and the share of
    targets retrieved), on `rows` sampled test pair rows and `pairs` random pairs."""
    started = time.time()
    tables = R.Tables(prepared)
    scorers = {"attention model": R.Scorer(model)}
    if baseline is not None:
        scorers["SVD++ baseline"] = R.Scorer(baseline)
    test = pd.read_csv(prepared / F.TEST_SPLIT / "pairs.csv", dtype=str, keep_default_na=False)
    test = test[test[F.LABEL].astype(float) >= 4]
    test = test.sample(min(rows, len(test)), random_state=seed) if len(test) else test
    ranks, retrieved = evaluate(scorers, tables, test, retrieval)
    cover = coverage(scorers, tables, pairs, seed, retrieval)
    rankers = {}
    for name, r in ranks.items():
        hr, ndcg = hit_and_ndcg(r)
        rankers[name] = {"hr": hr, "ndcg": ndcg, "coverage": cover[name]}
        if retrieval is not None and name in retrieved:
            got = retrieved[name]
            hr, ndcg = hit_and_ndcg(got)
            rankers[name].update(hr_retrieved=hr, ndcg_retrieved=ndcg,
                                 target_retrieved=float(np.isfinite(got).mean()) if got.size else float("nan"))
    return {"data": prepared.name, "model": str(model), "baseline": str(baseline) if baseline else None,
            "rows": len(test), "pairs": pairs, "seed": seed, "k": K,
            "retrieval": dataclasses.asdict(retrieval) if retrieval else None, "rankers": rankers,
            "seconds": round(time.time() - started, 1)}


def for_run(run, prepared: Path, out_dir: Path, rows: int = SUMMARY_ROWS, pairs: int = SUMMARY_PAIRS) -> dict | None:
    """measure() for a pipeline run's Trainer and BaselineTrainer models on the data it read,
    written to out_dir/RESULT_FILE; None when the run has no trained model."""
    model, baseline = run.output("Trainer", "model"), run.output("BaselineTrainer", "model")
    if model is None:
        return None
    result = measure(Path(model.uri) / F.SERVING_FORMAT,
                     Path(baseline.uri) / F.SERVING_FORMAT if baseline is not None else None,
                     Path(prepared), rows, pairs)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RESULT_FILE).write_text(json.dumps(result, indent=2))
    return result


def sample_text(result: dict) -> str:
    """What the numbers are on, in words (the run summary's and the report's)."""
    return (f"{result['rows']} test pair rows with label >= 4 (the target ranked among every movie neither "
            f"member rated before the test period), top-{result['k']} coverage over {result['pairs']} random pairs"
            f"{' as served (retrieved candidates)' if result.get('retrieval') else ''}, "
            f"seed {result['seed']}")
