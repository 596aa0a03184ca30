"""Ranking quality of the served models: HR@10, NDCG@10 and catalogue coverage.

    python -m pipeline.bench_ranking --work-dir work [--rows 300] [--pairs 1000] [--write]

For test-split pair rows whose label is >= 4 (a sample of --rows), the target movie is
ranked among every movie neither member had rated before the test period (train and eval
ratings), the row's own histories as the model saw them; hit rate and NDCG at 10 for the
attention model (the newest pushed version), the SVD++ baseline its run trained, and a
popularity ranker (rating counts before the test period). The same ranks are also taken
among only the candidates the service retrieves for the row (recommend.retrieve: the
--popular most rated and the --near nearest the row's two histories): a target not
retrieved is a miss, so the difference is what retrieval costs. Coverage: the share of the
catalogue that appears in the top-10 lists of --pairs random user pairs (each with their
latest history, every unseen movie scored). --write puts the table into BENCHMARKS.md
between the ranking markers.

After each pipeline run, pipeline/run_local.py computes the same metrics for the run's two
models with for_run, on a seeded sample of SUMMARY_ROWS rows and SUMMARY_PAIRS pairs, into
<work>/reports/<run id>/ranking.json: the run summary prints them and the report shows them.
"""

import argparse
import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import recommend as R
from pipeline import benchmarks_page
from pipeline.layout import DEFAULT_WORK_DIR, WorkLayout
from transform_fn import features as F

SECTION = "ranking"
START, END = benchmarks_page.markers(SECTION)
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


def models_of_latest_push(work: WorkLayout) -> tuple[Path, Path | None, Path | None]:
    """(pushed attention model, its run's baseline model, its run's prepared data)."""
    from pipeline import serve, summary

    model = R.latest_model(work.serving_model)
    baseline = prepared = None
    if work.metadata.exists():
        run = summary.pushing_run(str(work.metadata), serve.PIPELINE_NAME, str(model))
        if run is not None:
            base = run.output("BaselineTrainer", "model")
            baseline = Path(base.uri) / "Format-Serving" if base is not None else None
            prepared = serve.model_info(work, model).get("prepared")
    return model, baseline, Path(prepared) if prepared else None


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
    result = measure(Path(model.uri) / "Format-Serving",
                     Path(baseline.uri) / "Format-Serving" if baseline is not None else None,
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


def table(result: dict, command: str = "") -> str:
    retrieval = result["retrieval"]
    lines = ["## Ranking quality", "", f"Ranking on `{result['data']}` ({dt.date.today().isoformat()}, model {Path(result['model']).name}): "
             f"{result['rows']} test pair rows with label >= 4, the target ranked among every movie neither member "
             f"rated before the test period (pair prediction for the models, rating count for popularity); "
             f"coverage: the share of the catalogue in the top-10 lists of {result['pairs']} random pairs"
             f"{' as the service shows them (retrieved candidates)' if retrieval is not None else ''}. "
             f"`{command}`"]
    header, rule = "| ranker | HR@10 | NDCG@10 | catalogue coverage of top-10 |", "|---|---:|---:|---:|"
    if retrieval is not None:
        lines[2] += (f" Retrieved: the same ranks among only the candidates the service scores (the "
                     f"{retrieval['popular']} most rated unseen movies and the {retrieval['near']} nearest the row's "
                     f"two histories); a target not retrieved is a miss.")
        header += " HR@10 retrieved | NDCG@10 retrieved | target retrieved |"
        rule += "---:|---:|---:|"
    lines += ["", header, rule]
    for name, m in result["rankers"].items():
        line = f"| {name} | {m['hr']:.3f} | {m['ndcg']:.3f} | {m['coverage']:.3f} |"
        if retrieval is not None:
            line += (f" {m['hr_retrieved']:.3f} | {m['ndcg_retrieved']:.3f} | {m['target_retrieved']:.3f} |"
                     if "hr_retrieved" in m else " | | |")
        lines.append(line)
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Replace the ranking section of the results page; the rest is kept."""
    benchmarks_page.write_section(path, SECTION, text)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m pipeline.bench_ranking", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR)
    p.add_argument("--model", help="attention model (default: the newest pushed version)")
    p.add_argument("--baseline", help="SVD++ model folder (default: the one the pushing run trained)")
    p.add_argument("--prepared", help="prepared data (default: the one the pushing run read)")
    p.add_argument("--rows", type=int, default=300, help="test pair rows sampled (label >= 4)")
    p.add_argument("--pairs", type=int, default=1000, help="random pairs for the coverage")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    p.add_argument("--benchmarks", default="BENCHMARKS.md")
    R.add_retrieval_args(p)
    args = p.parse_args(argv)
    retrieval = R.retrieval_from_args(args)
    work = WorkLayout.at(args.work_dir)
    model, baseline, prepared = models_of_latest_push(work)
    model = Path(args.model) if args.model else model
    baseline = Path(args.baseline) if args.baseline else baseline
    prepared = Path(args.prepared) if args.prepared else (prepared or work.latest_prepared())
    result = measure(model, baseline, prepared, args.rows, args.pairs, args.seed, retrieval)
    command = " ".join(["python -m pipeline.bench_ranking", *(sys.argv[1:] if argv is None else argv)])
    text = table(result, command)
    print(f"models: {model} (attention), {baseline} (SVD++); data {prepared}")
    print(text)
    if args.write:
        write_section(Path(args.benchmarks), text)
        print(f"written to {args.benchmarks}")


if __name__ == "__main__":
    main()
