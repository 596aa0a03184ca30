"""Local runner: data stage, then the pipeline on Beam with LocalDagRunner, then a summary.

    python -m pipeline.run_local --work-dir work --size default
    python -m pipeline.run_local --work-dir work --raw /path/with/ml-1m-folder

Everything it writes lives under --work-dir. The console shows one line as each component
starts and ends, a live line or bar while it runs, and the summary; warnings and logs go to
<work-dir>/logs/<run timestamp>.log (see pipeline/console.py), or with --verbose to the console.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
import time
from pathlib import Path

from data import prepare as data_prepare
from data import synthetic
from pipeline import summary as run_summary
from pipeline.console import Console
from pipeline.config import PipelineConfig
from trainer_fn.hparams import HParams
from transform_fn import features as F


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m pipeline.run_local", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default="work")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--size", choices=sorted(synthetic.SIZES), default="default",
                     help="embedded synthetic data set to generate and use (default: default)")
    src.add_argument("--raw", help="folder holding ml-1m/ (and optionally imdb/ and links.csv)")
    p.add_argument("--seed", type=int, default=42, help="data generation and pairing seed")
    p.add_argument("--partners", type=int, default=data_prepare.PrepareConfig.partners)
    hp = p.add_argument_group("model hyperparameters (defaults: the seed's, see trainer_fn/model.py)")
    for field in dataclasses.fields(HParams):
        flag = "--train-seed" if field.name == "seed" else f"--{field.name.replace('_', '-')}"
        if field.name == "hidden_units":
            hp.add_argument(flag, type=int, nargs="+", dest=f"hp_{field.name}")
        else:
            kind = {"int": int, "float": float}[str(field.type)]
            hp.add_argument(flag, type=kind, dest=f"hp_{field.name}", help=f"default {field.default}")
    p.add_argument("--rmse-upper-bound", type=float,
                   help="bless only below this test RMSE (default: the mean-predictor's test RMSE)")
    p.add_argument("--rmse-change-tolerance", type=float, default=0.0,
                   help="how much worse than the last blessed model's RMSE still blesses")
    p.add_argument("--baseline-factors", type=int,
                   help="latent factors of the matrix-factorisation baseline (0: biases only; default 32)")
    p.add_argument("--baseline-margin", type=float, default=0.0,
                   help="how much lower than the matrix-factorisation baseline's RMSE the model's must be")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report (make report builds it later)")
    p.add_argument("--verbose", action="store_true",
                   help="print every warning and log on the console instead of <work-dir>/logs/<run>.log")
    p.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                   help="extra Beam pipeline argument, repeatable (e.g. --beam-arg=--runner=FlinkRunner)")
    return p.parse_args(argv)


def hparams_from_args(args) -> HParams:
    overrides = {f.name: getattr(args, f"hp_{f.name}") for f in dataclasses.fields(HParams)
                 if getattr(args, f"hp_{f.name}", None) is not None}
    return HParams.from_dict(overrides)


def prepare_data(args, work: Path) -> tuple[Path, dict]:
    if args.raw:
        raw, name = Path(args.raw), Path(args.raw).resolve().name
    else:
        name = f"synthetic-{args.size}-seed{args.seed}"
        raw = work / "raw" / name
        if not (raw / "ml-1m" / "ratings.dat").exists():
            print(f"generating the embedded '{args.size}' data set into {raw}")
            synthetic.generate(raw, args.size, args.seed)
    prepared = work / "prepared" / name
    manifest = data_prepare.prepare(raw, prepared, data_prepare.PrepareConfig(
        partners=args.partners, seed=args.seed))
    return prepared, manifest


def run(args) -> run_summary.RunSummary:
    log_path = Path(args.work_dir).resolve() / "logs" / f"{datetime.datetime.now():%Y-%m-%dT%H-%M-%S}.log"
    with Console(log_path, verbose=args.verbose) as console:
        return _run(args, console)


def _run(args, console: Console) -> run_summary.RunSummary:
    from tfx import v1 as tfx  # heavy import, after argument errors are reported

    from pipeline.pipeline import create_pipeline

    started = time.time()
    work = Path(args.work_dir).resolve()
    with console.step("data stage"):
        prepared, manifest = prepare_data(args, work)
    baseline_rmse = manifest["baseline"]["rmse"]["test"]
    config = PipelineConfig.local(
        work, prepared, hparams=hparams_from_args(args),
        rmse_upper_bound=args.rmse_upper_bound if args.rmse_upper_bound is not None else baseline_rmse,
        rmse_change_tolerance=args.rmse_change_tolerance, baseline_margin=args.baseline_margin,
        baseline_params={} if args.baseline_factors is None else {"factors": args.baseline_factors},
        enable_cache=not args.no_cache)
    config.beam_pipeline_args = config.beam_pipeline_args + args.beam_args
    tfx.orchestration.LocalDagRunner().run(create_pipeline(config))

    result = run_summary.latest_run(config.metadata_path, config.pipeline_name)
    report_path = None
    if not args.no_report:
        from pipeline.report import build_report

        with console.step("report"):
            report_path = build_report(config.metadata_path, config.pipeline_name, work / "reports")
    with console.printing():
        print_summary(result, manifest, config, time.time() - started, report_path)
    return result


def print_summary(result: run_summary.RunSummary, manifest: dict, config: PipelineConfig, seconds: float,
                  report_path: Path | None = None):
    counts = manifest["counts"]
    evaluation = result.output("Evaluator", "evaluation")
    mf_eval = result.output("BaselineEvaluator", "evaluation")
    # Each TFMA result is read once; the table and lines below pick slices from it.
    by_slice = {name: run_summary.metrics_by_slice(source.uri) if source else {}
                for name, source in (("Evaluator", evaluation), ("BaselineEvaluator", mf_eval))}
    metrics = run_summary.candidate_and_baseline(by_slice["Evaluator"].get((), {}))
    nan = float("nan")
    print("\n=== movie-pair-recommender: run summary ===")
    print(f"data           {config.data_root}")
    print("rows           " + ", ".join(f"{s} {counts['pairs_per_split'][s]:,} pairs + "
                                        f"{counts['singles_per_split'][s]:,} single" for s in ("train", "eval", "test")))
    table = {"mean predictor": [manifest["baseline"]["rmse"]["test"]] +
             [manifest["baseline"]["test_rmse_by_kind"][k] for k in ("pair", "single")]}
    baseline_name = "biases only" if config.baseline_params.get("factors") == 0 else "matrix factorisation"
    for name, source, who in ((baseline_name, "BaselineEvaluator", "baseline"),
                              ("attention model", "Evaluator", "candidate")):
        table[name] = [run_summary.candidate_and_baseline(by_slice[source].get(key, {})).get(who, {})
                       .get("root_mean_squared_error", nan)
                       for key in ((), ((F.EXAMPLE_KIND, "pair"),), ((F.EXAMPLE_KIND, "single"),))]
    print(f"test RMSE      {'':22s} {'all':>7s} {'pair':>7s} {'single':>7s}")
    for name, values in table.items():
        print(f"               {name:22s} " + " ".join(f"{v:7.4f}" for v in values))
    if "baseline" in metrics:
        print(f"last blessed   RMSE {metrics['baseline'].get('root_mean_squared_error', nan):.4f}")
    print(f"blessed        {'yes' if result.blessed() else 'no'}: RMSE below {config.rmse_upper_bound:.4f} "
          f"(mean predictor) {'ok' if result.blessed('Evaluator') else 'FAILED'} with not worse than the last "
          f"blessed model (+{config.rmse_change_tolerance}); below {baseline_name} by "
          f"{config.baseline_margin} {'ok' if result.blessed('BaselineEvaluator') else 'FAILED'}")
    for component in ("Evaluator", "BaselineEvaluator"):
        evaluation_of = result.output(component, "evaluation")
        for line in run_summary.failed_thresholds(evaluation_of.uri) if evaluation_of else []:
            print(f"  failed       {component}: {line}")
    print(f"pushed         {result.pushed_path() or 'nothing (model not blessed)'}")
    states = ", ".join(f"{c.component} {c.state.lower()}" for c in result.components.values())
    print(f"components     {states}")
    if report_path:
        print(f"report         {report_path}")
    print(f"elapsed        {seconds:.0f} s")


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        run(args)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        if args.verbose:
            raise
        sys.exit(1)   # the console has shown the error and the log's path; the traceback is in the log


if __name__ == "__main__":
    main()
