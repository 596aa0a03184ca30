"""The ranking benchmark: serving/ranking.py's metrics for the newest pushed model, into BENCHMARKS.md.

    python -m bench.ranking --work-dir work [--rows 300] [--pairs 1000] [--write]

What is measured is serving/ranking.measure's docstring: HR@10, NDCG@10 and top-10 coverage
of the attention model, its run's SVD++ baseline and popularity, among every unseen movie
and among the candidates the service retrieves. --write puts the table into BENCHMARKS.md
between the ranking markers.
"""

import argparse
import datetime as dt
import sys
from pathlib import Path

from bench import page as benchmarks_page
from common.layout import DEFAULT_WORK_DIR, WorkLayout
from serving import recommend as R
from serving.ranking import measure
from transform_fn import features as F

SECTION = "ranking"
START, END = benchmarks_page.markers(SECTION)


def models_of_latest_push(work: WorkLayout) -> tuple[Path, Path | None, Path | None]:
    """(pushed attention model, its run's baseline model, its run's prepared data)."""
    from serving import serve
    from pipeline import runs as summary

    model = R.latest_model(work.serving_model)
    baseline = prepared = None
    if work.metadata.exists():
        run = summary.pushing_run(str(work.metadata), F.PIPELINE_NAME, str(model))
        if run is not None:
            base = run.output("BaselineTrainer", "model")
            baseline = Path(base.uri) / F.SERVING_FORMAT if base is not None else None
            prepared = serve.model_info(work, model).get("prepared")
    return model, baseline, Path(prepared) if prepared else None


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
    p = argparse.ArgumentParser(prog="python -m bench.ranking", description=__doc__,
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
    command = " ".join(["python -m bench.ranking", *(sys.argv[1:] if argv is None else argv)])
    text = table(result, command)
    print(f"models: {model} (attention), {baseline} (SVD++); data {prepared}")
    print(text)
    if args.write:
        write_section(Path(args.benchmarks), text)
        print(f"written to {args.benchmarks}")


if __name__ == "__main__":
    main()
