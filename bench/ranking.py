"""The ranking benchmark: serving/ranking.py's metrics for the newest pushed model, into BENCHMARKS.md.

    python -m bench.ranking --work-dir work [--rows 500] [--singles 300] [--pairs 500] [--write]

What is measured is serving/ranking.py's docstring: the pair ranker's settings chosen on
eval, then HR@10, NDCG@10 (pair and single test rows) and top-10 coverage of popularity,
EASE, the rating models and the pair ranker, the ranking check against the best peer.
--write puts the table into BENCHMARKS.md between the ranking markers.
"""

import argparse
import datetime as dt
import sys
from pathlib import Path

from bench import page as benchmarks_page
from common.layout import DEFAULT_WORK_DIR, WorkLayout
from serving import recommend as R
from serving.ranking import COLUMNS, check_text, measure, sample_text, table_rows
from transform_fn import features as F

SECTION = "ranking"
START, END = benchmarks_page.markers(SECTION)


def models_of_latest_push(work: WorkLayout) -> tuple[Path, Path | None, Path | None]:
    """(pushed rating model, its run's baseline model, its run's prepared data)."""
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


def models_of_latest_run(work: WorkLayout) -> tuple[Path, Path | None, Path | None]:
    """(the latest run's rating model, its baseline model, its prepared data), pushed or not."""
    from pipeline import runs

    run = runs.latest_run(str(work.metadata), F.PIPELINE_NAME) if work.metadata.exists() else None
    model = run.output("Trainer", "model") if run is not None else None
    if model is None:
        raise R.NoModel(f"no pipeline run with a trained model in {work.root}: run `make run` first")
    base = run.output("BaselineTrainer", "model")
    source = run.components.get("CsvExampleGen")
    prepared = source.properties.get("input_base") if source else None
    return (Path(model.uri) / F.SERVING_FORMAT, Path(base.uri) / F.SERVING_FORMAT if base is not None else None,
            Path(prepared) if prepared else None)


def table(result: dict, command: str = "") -> str:
    chosen = result["chosen_on_eval"]

    def grid(name):
        return ", ".join(f"{float(k):g}: {v:.3f}" for k, v in chosen[name].items())

    model = Path(result["model"])
    lines = ["## Ranking quality", "",
             f"On `{result['data']}` (commit {benchmarks_page.commit()}, {dt.date.today().isoformat()}, model {model.parent.name if model.name == F.SERVING_FORMAT else model.name}): "
             f"{sample_text(result)}. {check_text(result)}. The settings, chosen by NDCG@10 on {chosen['rows']} eval "
             f"pair rows: lambda ({grid('lambda')}), then decay ({grid('decay')}), then liking weights "
             f"({', '.join(f'{k}: {v:.3f}' for k, v in chosen['liked'].items())}), "
             f"{'then the sequence model weight (' + grid('sequence_weight') + '), ' if chosen.get('sequence_weight') else ''}"
             f"then rating weight "
             f"({grid('rating_weight')}), and for one person on eval single rows "
             f"({grid('single_rating_weight') if chosen.get('single_rating_weight') else '-'}). The pair rankers rank only the candidates "
             f"the service scores (the {result['retrieval']['popular'] + result['retrieval']['near'] if result['retrieval'] else 'all'} "
             f"unseen movies of highest watch score); a target not retrieved is a miss. `{command}`", "",
             "| ranker | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for name, values in table_rows(result):
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" if v is not None else "" for v in values) + " |")
    return "\n".join(lines)


def write_section(path: Path, text: str) -> None:
    """Replace the ranking section of the results page; the rest is kept."""
    benchmarks_page.write_section(path, SECTION, text)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.ranking", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder whose pushed model is measured (default %(default)s)")
    p.add_argument("--model", help="rating model (default: the newest pushed version)")
    p.add_argument("--baseline", help="SVD++ model folder (default: the one the pushing run trained)")
    p.add_argument("--prepared", help="prepared data (default: the one the pushing run read)")
    p.add_argument("--rows", type=int, default=500, help="test (and eval) pair rows sampled (label >= 4)")
    p.add_argument("--singles", type=int, default=300, help="test single rows sampled (rating >= 4)")
    p.add_argument("--pairs", type=int, default=500, help="random pairs for the coverage")
    p.add_argument("--seed", type=int, default=0, help="the seed of the row samples and the bootstrap (default %(default)s)")
    p.add_argument("--latest-run", action="store_true",
                   help="the latest pipeline run's models, pushed or not (default: the newest pushed version's)")
    p.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    p.add_argument("--benchmarks", default="BENCHMARKS.md", help="the page --write writes into (default %(default)s)")
    R.add_retrieval_args(p)
    args = p.parse_args(argv)
    retrieval = R.retrieval_from_args(args)
    work = WorkLayout.at(args.work_dir)
    model, baseline, prepared = models_of_latest_run(work) if args.latest_run else models_of_latest_push(work)
    model = Path(args.model) if args.model else model
    baseline = Path(args.baseline) if args.baseline else baseline
    prepared = Path(args.prepared) if args.prepared else (prepared or work.latest_prepared())
    result = measure(model, baseline, prepared, args.rows, args.singles, args.pairs, args.seed, retrieval)
    command = " ".join(["python -m bench.ranking", *(sys.argv[1:] if argv is None else argv)])
    text = table(result, command)
    print(f"models: {model} (rating model), {baseline} (SVD++); data {prepared}")
    print(text)
    if args.write:
        write_section(Path(args.benchmarks), text)
        print(f"written to {args.benchmarks}")


if __name__ == "__main__":
    main()
