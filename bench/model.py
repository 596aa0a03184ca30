"""Model-quality benchmark: rebuilds the quality table of BENCHMARKS.md.

    python -m bench.model --work-dir work [--ml-100k DIR] [--quick]

For each data set (the embedded default data, and ML-100K when its folder is given or
fetched) it runs the real pipeline several times on the identical split: with the SVD++,
matrix-factorisation and biases-only baselines, the rating model as pushed with three
training seeds, and the seed's own training setup (--preset seed). Test RMSE (all / pair / single)
comes from BlessingGate's records, which score every model on the same test examples;
scikit-surprise's SVD++ is added on the exported split when it is installed, given the
information the model gets (bench/peers.py: fitted on train or on train + eval, with and
without the recency term).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np

from bench import page as benchmarks_page
from common.layout import WorkLayout
from transform_fn import features as F

KINDS = ("all", "pair", "single")
SEEDS = (42, 43, 44)
SECTION = "model-quality"
# (flags, row): each a run of the rating model with one thing changed.
ABLATIONS = (
    # the deep part off (no epoch of training): the in-pipeline SVD++ plus the terms the
    # Trainer fits on eval; what the deep part adds is the difference
    (("--epochs", "0"), "ablation: deep part off (SVD++ + the eval-fitted terms, --epochs 0)"),
    # attention off (each history slot enters the dense layers on its own)
    (("--attention-heads", "0"), "ablation: attention off (--attention-heads 0)"),
    # the neighbourhood term off (trainer_fn/neighbours.py)
    (("--neighbours", "0"), "ablation: no neighbourhood term (--neighbours 0)"),
    # the second factor model's blend term off (trainer_fn/als.py), and the fold-in term off
    (("--als-factors", "0"), "ablation: no second factor model (--als-factors 0)"),
    (("--foldin-l2", "0"), "ablation: no fold-in term (--foldin-l2 0)"),
    # the window only (no recent-ratings terms, model.recent_features, nor the neighbourhood)
    (("--no-recent",), "ablation: the window only, no recent-ratings or neighbourhood terms (--no-recent)"),
    (("--epochs", "0", "--no-recent"), "ablation: deep part off and the window only (--epochs 0 --no-recent)"),
    # a lever tried: the deep part tuned on the later period (trainer_fn/run.py
    # tune_on_later_period), where its residual features are out of sample as on test
    (("--tune-epochs", "10"), "lever: the deep part tuned on the eval period (--tune-epochs 10)"),
)


def run_child(argv: list[str]):
    """run_local with these arguments in a child process (its console passes through), then
    its run read back from the work folder's MLMD. One process a pipeline, as a user runs it:
    each run starts from fresh TensorFlow and Beam state and its own memory, and a run that
    dies (as `--no-recent` did before ce6d5fe) stops the benchmark with its command."""
    import subprocess
    import sys

    from bench.scale import _env
    from pipeline import runs as summary
    from pipeline.config import PROJECT_ROOT
    from runners import run_local

    work_dir = run_local.parse_args(argv).work_dir       # a usage error before the child starts
    subprocess.run([sys.executable, "-m", "runners.run_local", *argv], cwd=PROJECT_ROOT, env=_env(PROJECT_ROOT),
                   check=True)
    return summary.latest_run(str(WorkLayout.at(work_dir).metadata), F.PIPELINE_NAME)


def _run(work: Path, source: list[str], extra: list[str]) -> tuple[dict, float]:
    started = time.time()
    result = run_child(["--work-dir", str(work), "--no-report", "--no-ranking", *source, *extra])
    return run_rmse(result), time.time() - started


def run_rmse(run) -> dict:
    """{candidate|baseline: {all|pair|single: test RMSE}} from a run's BlessingGate records
    (empty where the run has none)."""
    intervals = (run.comparison() or {}).get("intervals", {})
    return {who: {k: d[f"rmse_{ab}"] for k in KINDS if (d := intervals.get(f"candidate - baseline ({k})"))}
            for who, ab in (("candidate", "a"), ("baseline", "b"))}


def fair_peers(prepared: Path):
    """scikit-surprise's SVD++ given the information the model gets (bench/peers.py), None
    when scikit-surprise is not installed."""
    try:
        import surprise  # noqa: F401
    except ImportError:
        return None
    from bench import peers

    return peers.fair_peers(prepared)


def bench(name: str, work: Path, source: list[str], seeds, quick: bool,
          with_seed_preset: bool) -> list[str]:
    import json

    rows, seconds = {}, {}
    pushed = []
    for seed in seeds:
        rmse, s = _run(work, source, ["--train-seed", str(seed)])
        pushed.append(rmse["candidate"])
        seconds[f"as pushed, seed {seed}"] = s
        if seed == seeds[0]:
            rows["SVD++ (in-pipeline BaselineTrainer)"] = rmse["baseline"]
    if not quick:
        for kind, label in (("mf", "matrix factorisation (--baseline mf)"), ("biases", "biases only (--baseline biases)")):
            rmse, s = _run(work, source, ["--baseline", kind])
            rows[label] = rmse["baseline"]
            seconds[label] = s
        for flags, label in ABLATIONS:
            rmse, s = _run(work, source, list(flags))
            rows[label] = rmse["candidate"]
            seconds[" ".join(flags)] = s
        if with_seed_preset:
            rmse, s = _run(work, source, ["--preset", "seed"])
            rows["the seed's model and training setup (--preset seed)"] = rmse["candidate"]
            seconds["--preset seed"] = s
    prepared = WorkLayout.at(work).latest_prepared()
    manifest = json.loads((prepared / F.MANIFEST_FILE).read_text())
    mean = {"all": manifest["baseline"]["rmse"][F.TEST_SPLIT], **manifest["baseline"]["test_rmse_by_kind"]}
    table = {"mean of training labels": mean}
    table.update(rows)
    theirs = fair_peers(prepared)
    if theirs:
        for column, r in theirs.rmse.items():
            table[f"scikit-surprise {column}"] = r
    stacked = {k: np.array([a[k] for a in pushed]) for k in KINDS}
    lines = [f"### {name}", "", "| model | all | pair | single |", "|---|---:|---:|---:|"]
    for label, r in table.items():
        lines.append(f"| {label} | {r['all']:.4f} | {r['pair']:.4f} | {r['single']:.4f} |")
    spread = " | ".join(f"**{stacked[k].mean():.4f}** ± {stacked[k].std(ddof=1) if len(seeds) > 1 else 0:.4f}"
                        for k in KINDS)
    lines.append(f"| rating model as pushed: SVD++, the eval-fitted terms and the deep part where the held slice "
                 f"keeps it (default; mean ± std over seeds "
                 f"{', '.join(map(str, seeds))}) | {spread} |")
    base = rows["SVD++ (in-pipeline BaselineTrainer)"]
    gain = " / ".join(f"{(1 - stacked[k].mean() / base[k]) * 100:+.1f}%" for k in KINDS)
    lines += ["", f"Gain of the rating model, 1 - its RMSE / the peer's (all / pair / single; negative: the peer "
                  f"is better): over the in-pipeline SVD++ + recency {gain}"]
    if theirs:
        from bench import peers

        fair = theirs.rmse["SVD++ on train+eval + recency"]
        gain = " / ".join(f"{(1 - stacked[k].mean() / fair[k]) * 100:+.1f}%" for k in KINDS)
        lines[-1] += (f"; over scikit-surprise's SVD++ on train+eval + recency (w = {peers.weights(theirs)} "
                      f"fitted on eval) {gain}")
    lines[-1] += "."
    lines += [
              "Wall time per pipeline run (s): " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) + ".", ""]
    return lines


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.model", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="work", help="the benchmark's work folders go under it (default %(default)s)")
    p.add_argument("--ml-100k", help="folder holding ML-100K's u.data, u.user, u.item "
                                     "(default: <work>/raw/real/ml-100k from `make fetch DATASET=ml-100k`)")
    p.add_argument("--quick", action="store_true", help="default data only, one seed, no other baselines")
    p.add_argument("--no-seed-preset", action="store_true",
                   help="skip the run with the seed's training setup (batch 32: the slowest run)")
    p.add_argument("--output", default=benchmarks_page.PAGE, help="the page its section is written into (default %(default)s)")
    args = p.parse_args(argv)
    layout = WorkLayout.at(args.work_dir)
    root = layout.bench_model
    datasets = [("Embedded default data (`make run`)", root / "default", ["--size", "default"])]
    ml100k = Path(args.ml_100k) if args.ml_100k else layout.real_raw / "ml-100k"
    if not args.quick and (ml100k / "u.data").exists():
        datasets.append(("MovieLens 100K", root / "ml-100k", ["--raw", str(ml100k)]))
    started = time.time()
    seeds = SEEDS[:1] if args.quick else SEEDS
    section = ["## Model quality", "",
               f"Test RMSE on the last 10% of each user's ratings in time; every model on the identical split "
               f"and test rows. `python -m bench.model{' --quick' if args.quick else ''}"
               f"{' --ml-100k ' + str(ml100k) if args.ml_100k else ''}{' --no-seed-preset' if args.no_seed_preset else ''}` "
               f"(`make bench-model`), commit {benchmarks_page.commit()}, {datetime.date.today()}, {os.cpu_count()} cores, "
               f"{platform.machine()}, CPU only.", ""]
    for name, work, source in datasets:
        lines = bench(name, work, source, seeds, args.quick, not args.no_seed_preset)
        section += lines
    benchmarks_page.finish(args.output, SECTION, section, started, ml100k, any("100K" in d[0] for d in datasets))


if __name__ == "__main__":
    main()
