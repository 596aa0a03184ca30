"""The rating model's deep part: what the rolling origin, the learning rate and the learned
attention over the recent slots do, on eval (where they are chosen) and on test.

    python -m bench.origin --work-dir work [--ml-100k DIR]

Runs the real pipeline on ML-100K (or the embedded default data when no ML-100K folder is
given or fetched) with one training seed: the default, then each arm with one setting changed
(--origin 1: the deep part trained on every train row, in sample, as before the rolling
origin; --recent-heads 2: the target's learned attention over the recent slots;
--learning-rate 0.0003; --epochs 0: the deep part off). For each run: the best epoch's RMSE
on the tune slice of eval (early stopping's), the held slice's RMSE trained and at the start
with the paired bootstrap interval that decides the keep, and the test RMSE of the pushed
model (all / pair / single, the SVD++ baseline's beside it); then the default run's table of
what each hand-made term over the baseline adds on the held slice. The arms share the identical
split and rows (the data stage's pairing and each table's shuffle do not depend on the
origin). Writes the "rolling-origin" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

from bench import page as benchmarks_page
from common.layout import WorkLayout
from transform_fn import features as F

SECTION = "rolling-origin"
SEED = 42
ARMS = (((), "default (rolling origin 0.75, learning rate 1e-4, no recent attention)"),
        (("--origin", "1"), "--origin 1 (every train row, in sample)"),
        (("--recent-heads", "2"), "--recent-heads 2 (learned attention over the recent slots)"),
        (("--learning-rate", "0.0003"), "--learning-rate 0.0003"),
        (("--epochs", "0"), "--epochs 0 (deep part off)"))


def _run(work: Path, source: list[str], extra: list[str]) -> tuple[dict, dict, float]:
    """(test RMSE {candidate|baseline: {all|pair|single}}, the Trainer's history file, seconds)."""
    from bench.model import run_child, run_rmse

    started = time.time()
    result = run_child(["--work-dir", str(work), "--no-report", "--no-ranking", "--train-seed", str(SEED),
                        *source, *extra])
    trained = result.output("Trainer", "model_run")
    path = Path(trained.uri) / F.HISTORY_FILE if trained is not None else None
    history = json.loads(path.read_text()) if path is not None and path.exists() else {}
    return run_rmse(result), history, time.time() - started


def row(label: str, rmse: dict, history: dict, seconds: float) -> str:
    nan = float("nan")
    val = history.get("history", {}).get("val_rmse") or []
    deep = history.get("deep_part", {})
    interval = deep.get("interval") or [nan, nan]
    trained_on = deep.get("trained_on", {})
    model, base = rmse.get("candidate", {}), rmse.get("baseline", {})
    rows = f"{trained_on.get('train_rows', 0):,}" if val else "0 (not trained)"
    return (f"| {label} | {rows} | {min(val) if val else nan:.4f} | "
            f"{deep.get('held_eval_rmse_trained', nan):.4f} | {deep.get('held_eval_rmse_start', nan):.4f} | "
            f"[{interval[0]:+.4f}, {interval[1]:+.4f}] | {'kept' if deep.get('kept') else 'not kept'} | "
            f"{model.get('all', nan):.4f} / {model.get('pair', nan):.4f} / {model.get('single', nan):.4f} | "
            f"{base.get('all', nan):.4f} | {seconds:.0f} |")


def terms_table(terms: dict) -> list[str]:
    """The default run's hand-made terms over the baseline (the Trainer's term_ablation): each
    left out in turn, the weights refitted on the tune slice, judged on the held slice."""
    if not terms.get("terms"):
        return []
    lines = ["", f"What each hand-made term adds in the default run: the term left out, the other weights refitted "
                 f"on the tune slice, the held slice's RMSE ({terms['held_rows']:,} rows; "
                 f"{terms['held_rmse_with_all']:.4f} with every term) and the 95% paired bootstrap interval of the "
                 f"difference (without minus with; above 0: what the term adds).", "",
             "| term | weight on the tune slice | held RMSE without it | difference | 95% interval |",
             "|---|---:|---:|---:|---|"]
    for name, t in terms["terms"].items():
        lines.append(f"| {name} | {t['weight_on_tune']:.3f} | {t['held_rmse_without']:.4f} | {t['difference']:+.4f} | "
                     f"[{t['interval'][0]:+.4f}, {t['interval'][1]:+.4f}] |")
    return lines


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.origin", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="work", help="the benchmark's work folders go under it (default %(default)s)")
    p.add_argument("--ml-100k", help="folder holding ML-100K's u.* files (default: <work>/raw/real/ml-100k)")
    p.add_argument("--output", default=benchmarks_page.PAGE, help="the page its section is written into (default %(default)s)")
    args = p.parse_args(argv)
    layout = WorkLayout.at(args.work_dir)
    ml100k = Path(args.ml_100k) if args.ml_100k else layout.real_raw / "ml-100k"
    real = (ml100k / "u.data").exists()
    name, source = (("MovieLens 100K", ["--raw", str(ml100k)]) if real
                    else ("Embedded default data (`make run`)", ["--size", "default"]))
    work = layout.bench_model / "origin"
    started = time.time()
    lines = [f"## The rating model's deep part: rolling origin, learning rate, recent attention", "",
             f"{name}, training seed {SEED}, every arm on the identical split and rows. "
             f"`python -m bench.origin{' --ml-100k DIR' if args.ml_100k else ''}` (`make bench-origin`), commit "
             f"{benchmarks_page.commit()}, {datetime.date.today()}, {os.cpu_count()} cores, {platform.machine()}, CPU only.", "",
             "Eval (where every choice is made): the best epoch's RMSE on the tune slice (3 movies in 4 of "
             "eval, early stopping's), and on the held slice (the other movies) the trained deep part's and the "
             "start's RMSE with the 95% paired bootstrap interval of their difference, which decides the keep. "
             "Test: the pushed model's RMSE, all / pair / single, and the SVD++ baseline's (all).", "",
             "| run | rows trained on | tune RMSE | held RMSE trained | held RMSE start | held interval | deep part "
             "| test RMSE | SVD++ test | s |", "|---|---:|---:|---:|---:|---|---|---|---:|---:|"]
    terms = {}
    for flags, label in ARMS:
        rmse, history, seconds = _run(work, source, list(flags))
        lines.append(row(label, rmse, history, seconds))
        print(lines[-1], flush=True)
        if not flags:
            terms = history.get("recency_terms") or {}
    lines += terms_table(terms)
    text = "\n".join(lines + [""])
    print(text)
    benchmarks_page.write_section(args.output, SECTION, text)
    print(f"bench.origin: {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
