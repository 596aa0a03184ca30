"""The sequence model's benchmark: what it adds to the pair ranker, and what in it does the work.

    python -m bench.sequence --work-dir work [--ml-100k DIR] [--quick]

For each data set (ML-100K when its folder is given or fetched, and the embedded default
data) it runs the real pipeline, RankingEvaluator included, with three training seeds and
then one seed for each ablation of trainer_fn/sequence.py: --attention-heads 0 (a causal
mean over the same movies), --sequence-length 3 (the window's length, not 50). Each run's
ranking table (serving/ranking.py) holds on the identical test rows: EASE, EASE with recency
(the strongest simple peer), the sequence model alone and with each history shuffled at
scoring time, the pair ranker without the sequence model (its weight 0) and with it, and the
bootstrap interval of that difference. Writes the "sequence" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from bench import page as benchmarks_page
from common.layout import WorkLayout
from transform_fn import features as F

SECTION = "sequence"
SEEDS = (42, 43, 44)
ABLATIONS = ((("--attention-heads", "0"), "--attention-heads 0 (causal mean, no attention)"),
             (("--sequence-length", "3"), "--sequence-length 3 (the last 3 movies)"))
ROWS = ("EASE", "EASE with recency", "sequence model", "sequence model (history shuffled)",
        "pair ranker without the sequence model", "pair ranker")


def _run(work: Path, source: list[str], extra: list[str]) -> tuple[dict, dict, float]:
    """(the run's ranking result, the Trainer's sequence-model history with the rating model's
    deep-part decision and test RMSEs beside it, seconds)."""
    from bench.model import run_child, run_rmse
    from serving import ranking

    started = time.time()
    result = run_child(["--work-dir", str(work), "--no-report", *source, *extra])
    measured = ranking.for_run(result, WorkLayout.at(work).run_reports(result.run_id))
    trained = result.output("Trainer", "model_run")
    history = {}
    if trained is not None:
        path = Path(trained.uri) / F.HISTORY_FILE
        written = json.loads(path.read_text()) if path.exists() else {}
        history = {**written.get("sequence_model", {}), "deep_part": written.get("deep_part", {})}
    history["rmse"] = run_rmse(result)
    return measured or {}, history, time.time() - started


def _cells(result: dict, name: str) -> list[float]:
    m = result.get("rankers", {}).get(name, {})
    return [m.get(kind, {}).get(key, float("nan")) for kind in ("pair", "single") for key in ("hr", "ndcg")]


def bench(name: str, work: Path, source: list[str], seeds, quick: bool) -> list[str]:
    runs = []
    for seed in seeds:
        runs.append((f"seed {seed}", *_run(work, source, ["--train-seed", str(seed)])))
    if not quick:
        for flags, label in ABLATIONS:
            runs.append((f"{label}, seed {seeds[0]}", *_run(work, source, ["--train-seed", str(seeds[0]), *flags])))
    lines = [f"### {name}", "", "HR@10 / NDCG@10 on test pair rows, then single rows; every ranker of a run on the same "
             "rows (the RankingEvaluator's sample).", "",
             "| run | ranker | pair HR@10 | pair NDCG@10 | single HR@10 | single NDCG@10 |",
             "|---|---|---:|---:|---:|---:|"]
    for label, result, _, _ in runs:
        for row in ROWS:
            cells = _cells(result, row)
            lines.append(f"| {label} | {row} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    seeded = [r for r in runs if r[0].startswith("seed ")]
    if seeded:
        lines += ["", "Over the training seeds (mean ± std), pair rows:", ""]
        for row in ROWS:
            values = np.array([_cells(r[1], row)[:2] for r in seeded])
            spread = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(2)
            lines.append(f"- {row}: HR@10 {values[:, 0].mean():.3f} ± {spread[0]:.3f}, "
                         f"NDCG@10 {values[:, 1].mean():.3f} ± {spread[1]:.3f}")
        ease = np.array([_cells(r[1], "EASE")[:2] for r in seeded]).mean(axis=0)
        ranker = np.array([_cells(r[1], "pair ranker")[:2] for r in seeded]).mean(axis=0)
        lines.append(f"- the pair ranker over EASE: {ranker[0] / ease[0]:.2f}x HR@10, {ranker[1] / ease[1]:.2f}x NDCG@10")
    lines += ["", "Per run, the rating model: test RMSE all / pair (the SVD++ baseline's in brackets), and whether "
              "its deep part was kept (held-eval difference with the start and its 95% interval):", ""]
    for label, _, history, _ in runs:
        rmse, deep = history.get("rmse", {}), history.get("deep_part", {})
        model, base = rmse.get("candidate", {}), rmse.get("baseline", {})
        interval = deep.get("interval") or [float("nan"), float("nan")]
        lines.append(f"- {label}: {model.get('all', float('nan')):.4f} / {model.get('pair', float('nan')):.4f} "
                     f"({base.get('all', float('nan')):.4f} / {base.get('pair', float('nan')):.4f}); deep part "
                     f"{'kept' if deep.get('kept') else 'not kept'}, {deep.get('difference', float('nan')):+.4f} "
                     f"[{interval[0]:+.4f}, {interval[1]:+.4f}]")
    lines += ["", "Per run: the sequence model's gain (pair ranker minus the same with its weight 0, NDCG@10 on "
              "test pair rows, 95% bootstrap interval), the weight eval chose, the sequence model's best epoch "
              "and eval NDCG@10, its training time, the run's wall time:", ""]
    for label, result, history, seconds in runs:
        gain = result.get("check", {}).get("sequence_gain", {})
        weight = result.get("params", {}).get("sequence_weight")
        lines.append(f"- {label}: {gain.get('difference', float('nan')):+.4f} "
                     f"[{gain.get('low', float('nan')):+.4f}, {gain.get('high', float('nan')):+.4f}], weight {weight}, "
                     f"best epoch {history.get('best_epoch')} (eval NDCG@10 {history.get('best_eval_ndcg', float('nan')):.4f} "
                     f"on {history.get('eval_cases')} cases), {history.get('seconds')} s to train; run {seconds:.0f} s")
    return lines + [""]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.sequence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="work", help="the benchmark's work folders go under it (default %(default)s)")
    p.add_argument("--ml-100k", help="folder holding ML-100K's u.* files (default: <work>/raw/real/ml-100k, "
                                     "from `make fetch DATASET=ml-100k`)")
    p.add_argument("--quick", action="store_true", help="one seed, no ablations")
    p.add_argument("--output", default=benchmarks_page.PAGE, help="the page its section is written into (default %(default)s)")
    args = p.parse_args(argv)
    layout = WorkLayout.at(args.work_dir)
    root = layout.bench_model
    ml100k = Path(args.ml_100k) if args.ml_100k else layout.real_raw / "ml-100k"
    datasets = []
    if (ml100k / "u.data").exists():
        datasets.append(("MovieLens 100K", root / "sequence-ml-100k", ["--raw", str(ml100k)]))
    datasets.append(("Embedded default data (`make run`)", root / "sequence-default", ["--size", "default"]))
    started = time.time()
    seeds = SEEDS[:1] if args.quick else SEEDS
    command = "python -m bench.sequence" + (" --quick" if args.quick else "") + (
        " --ml-100k DIR" if args.ml_100k else "")
    section = ["## The sequence model in the pair ranker", "",
               f"`{command}` (`make bench-sequence`), commit {benchmarks_page.commit()}, {datetime.date.today()}, "
               f"{os.cpu_count()} cores, {platform.machine()}, CPU only.", ""]
    for name, work, source in datasets:
        section += bench(name, work, source, seeds, args.quick)
    benchmarks_page.finish(args.output, SECTION, section, started, ml100k, (ml100k / "u.data").exists())


if __name__ == "__main__":
    main()
