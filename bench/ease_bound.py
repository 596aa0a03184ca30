"""EASE on the most rated movies: what the bound on EASE's catalogue (serving/ranking.py
EASE_MOST_RATED) costs in ranking quality and what it saves in time, into BENCHMARKS.md.

    python -m bench.ease_bound --prepared work/prepared/ml-100k [--prepared ...] [--write]

For each prepared folder, EASE is fitted on the train ratings at one lambda, once on every
rated movie and once on each bound (the N most rated movies, ties by the lower id), and each
fit ranks the same eval cases as the RankingEvaluator chooses its settings on (pair rows and
single rows rated >= 4, the target among every movie not rated before it): plain EASE and
EASE weighted by recency and liking. Eval only: the test split decides nothing here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from bench import page as benchmarks_page
from serving import ranking as M
from serving import recommend as R
from serving.ease import Ease
from transform_fn import features as F

SECTION = "ease-bound"


def measure(prepared: Path, lam: float, decay: float, bounds: list[int | None], rows: int, singles: int,
            seed: int) -> list[dict]:
    tables = R.Tables(prepared)
    catalogue = M.Catalogue(tables)
    train = tables.ratings[tables.ratings["split"] == F.TRAIN_SPLIT]
    cases = {"pair": M.cases(tables, F.EVAL_SPLIT, "pairs", rows, seed),
             "single": M.cases(tables, F.EVAL_SPLIT, "singles", singles, seed)}
    out = []
    for bound in bounds:
        if bound is not None and out and out[0]["movies"] < bound:
            continue                 # the bound keeps every rated movie: the first row again, not fitted
        started = time.perf_counter()
        ease = Ease.fit(train, catalogue.ids, lam, most_rated=bound)
        row = {"bound": bound, "movies": len(ease.movies), "fit_seconds": time.perf_counter() - started}
        for kind, chosen in cases.items():
            for name, d, liked in (("EASE", 1.0, False), ("EASE with recency", decay, True)):
                ranks = M.ranks_of(M.watch_scores(ease, catalogue, chosen, d, liked), catalogue, chosen)
                row[kind, name] = M.hit_and_ndcg(ranks)[1]
            row[kind, "rows"] = len(chosen)
        out.append(row)
    return out


def table(prepared: Path, lam: float, decay: float, result: list[dict]) -> list[str]:
    rows = result[0]["pair", "rows"], result[0]["single", "rows"]
    lines = [f"`{prepared.name}`: lambda {lam:g}, recency decay {decay:g} with liking; "
             f"{rows[0]} eval pair rows and {rows[1]} eval single rows, NDCG@10.", "",
             "| movies fitted | fit (s) | pair: EASE | pair: with recency | single: EASE | single: with recency |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in result:
        label = f"{r['movies']:,} (every rated movie)" if r["bound"] is None else f"{r['movies']:,} most rated"
        lines.append(f"| {label} | {r['fit_seconds']:.2f} | {r['pair', 'EASE']:.4f} | {r['pair', 'EASE with recency']:.4f} "
                     f"| {r['single', 'EASE']:.4f} | {r['single', 'EASE with recency']:.4f} |")
    return lines + [""]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ease_bound", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepared", action="append", required=True,
                   help="a prepared data folder (work/prepared/<name>, written by make run); repeat for more")
    p.add_argument("--lam", type=float, default=200.0, help="EASE's lambda (default %(default)s)")
    p.add_argument("--decay", type=float, default=0.99, help="the recency decay of the second column (default %(default)s)")
    p.add_argument("--bounds", default="8000,4000,2000,1000,500",
                   help="the numbers of most rated movies fitted, besides every rated movie (default %(default)s)")
    p.add_argument("--rows", type=int, default=500, help="eval pair rows sampled (label >= 4)")
    p.add_argument("--singles", type=int, default=300, help="eval single rows sampled (rating >= 4)")
    p.add_argument("--seed", type=int, default=0, help="the seed of the row samples (default %(default)s)")
    p.add_argument("--write", action="store_true", help="write the tables into BENCHMARKS.md")
    p.add_argument("--benchmarks", default="BENCHMARKS.md", help="the page --write writes into (default %(default)s)")
    args = p.parse_args(argv)
    bounds = [None, *(int(b) for b in args.bounds.split(",") if b.strip())]
    command = " ".join(["python -m bench.ease_bound", *(sys.argv[1:] if argv is None else argv)])
    lines = ["## EASE on the most rated movies", "",
             f"Commit {benchmarks_page.commit()}, {dt.date.today().isoformat()}. The RankingEvaluator and the service "
             f"fit EASE on at most {M.EASE_MOST_RATED:,} of the most rated movies (a movie outside the fit scores 0 "
             f"in the watch score). Each fit ranks the same eval cases. `{command}`", ""]
    for folder in args.prepared:
        prepared = Path(folder)
        lines += table(prepared, args.lam, args.decay,
                       measure(prepared, args.lam, args.decay, bounds, args.rows, args.singles, args.seed))
    text = "\n".join(lines)
    print(text)
    if args.write:
        benchmarks_page.write_section(Path(args.benchmarks), SECTION, text)
        print(f"written to {args.benchmarks}")


if __name__ == "__main__":
    main()
