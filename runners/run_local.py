"""Local runner: data stage, then the pipeline on Beam with LocalDagRunner, then a summary.

    python -m runners.run_local --work-dir work --size default
    python -m runners.run_local --work-dir work --raw work/raw/real/ml-100k

Everything it writes lives under --work-dir (common/layout.py). The console shows one line as each component
starts and ends, a live line or bar while it runs, and the summary; warnings and logs go to
<work-dir>/logs/<run timestamp>.log (see common/console.py), or with --verbose to the console.

Exit codes: 0 done, 1 a pipeline component failed (the console names it and the log), 2 a
usage or input error found before the pipeline (a missing --raw, data the data stage
refuses, another run holding the work folder: one run per work folder, never two writing
one metadata store), 130 interrupted.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import datetime
import inspect
import io
import os
import sys
import textwrap
import time
import tokenize
from pathlib import Path

from data import prepare as data_prepare
from data import synthetic
from common.errors import EXIT_USAGE, UserError, run_cli, user_message
from data.outdir import file_lock
from pipeline import runs as run_summary
from common.console import Console
from pipeline.config import PipelineConfig
from common.comparison import Check
from common.layout import DEFAULT_WORK_DIR, WorkLayout
from common.scratch import private_tmp
from trainer_fn.hparams import BASELINE_KINDS, BaselineParams, HParams
from transform_fn import features as F


def field_comments(cls) -> dict[str, tuple[str, str]]:
    """The comment of each field of dataclass `cls`, read from its source, and where it is:
    ("beside", the one on the field's line with its continuation lines under it), else
    ("above", the block of comment lines right above it); fields with neither are left out,
    and so is everything when the source cannot be read."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        body = ast.parse(source).body[0].body
    except (OSError, TypeError, SyntaxError, IndexError, AttributeError, tokenize.TokenError):
        return {}
    lines = source.splitlines()
    comments = {t.start[0]: t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT}

    def indent(n: int) -> int:
        return len(lines[n - 1]) - len(lines[n - 1].lstrip())

    def comment_only(n: int) -> bool:
        return 1 <= n <= len(lines) and n in comments and lines[n - 1].lstrip().startswith("#")

    out = {}
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        trailing = [n for n in range(node.lineno, node.end_lineno + 1) if n in comments and not comment_only(n)]
        if trailing:       # beside the field, and the comment lines indented under it that continue it
            n = trailing[-1] + 1
            while comment_only(n) and indent(n) > node.col_offset:
                trailing.append(n)
                n += 1
            where, text = "beside", [comments[n] for n in trailing]
        else:              # the block right above, less the continuation of a comment beside the field above
            n, where, text = node.lineno - 1, "above", []
            while comment_only(n) and indent(n) == node.col_offset:
                text.insert(0, comments[n])
                n -= 1
        if text:
            out[node.target.id] = (" ".join(text), where)
    return out


def _stem(name: str) -> str:
    return name.split("_")[0].rstrip("s")


def terms_lines(terms: dict) -> list[str]:
    """The summary's lines on the hand-made terms over the baseline (the Trainer's term_ablation)."""
    lines = [f"terms          held eval RMSE {terms['held_rmse_with_all']:.4f} with every term ({terms['held_rows']:,} "
             f"rows); without each (weights refitted on the tune slice), the difference and its 95% interval:"]
    for name, t in terms["terms"].items():
        low, high = t["interval"]
        lines.append(f"               {name:28s} weight {t['weight_on_tune']:4.2f}  {t['difference']:+.4f} "
                     f"[{low:+.4f}, {high:+.4f}]")
    return lines


def hparam_helps(cls) -> dict[str, str]:
    """Each field's flag help: its comment in the source (trainer_fn/hparams.py for HParams);
    a field without one that belongs to a group a comment above an earlier field opened (the
    same first word: als_l2 after als_factors) points to that flag; any other, a generic
    phrase. The default in every case, % escaped for argparse."""
    comments, groups, helps = field_comments(cls), {}, {}
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        if field.name in comments:
            text, where = comments[field.name]
            if where == "above":
                groups[_stem(field.name)] = field.name
        elif "_" in field.name and _stem(field.name) in groups:
            text = f"goes with --{groups[_stem(field.name)].replace('_', '-')} (see its help)"
        else:
            text = f"the Trainer's {field.name.replace('_', ' ')}"
        helps[field.name] = f"{text} (default {shown})".replace("%", "%%")
    return helps


def parse_args(argv=None) -> argparse.Namespace:
    return parser().parse_args(argv)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m runners.run_local", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                   help=f"the folder every generated file goes under (default {DEFAULT_WORK_DIR}; common/layout.py)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--size", choices=sorted(synthetic.SIZES), default="default",
                     help="embedded synthetic data set to generate and use (default: default)")
    src.add_argument("--raw", help="a MovieLens release as unzipped (ml-1m/, ML-100K's u.* files, ML-10M's *.dat, or "
                                   "the CSV releases' ratings.csv and movies.csv; optionally imdb/ and links.csv), "
                                   "e.g. work/raw/real/ml-100k after `make fetch DATASET=ml-100k`")
    p.add_argument("--seed", type=int, default=data_prepare.PrepareConfig.seed, help="data generation and pairing seed")
    p.add_argument("--origin", type=float, default=data_prepare.PrepareConfig.origin,
                   help="the rolling origin: the fraction of each user's train ratings before it; the rating "
                        "model's deep part learns on the train rows after it, over baselines fitted on the "
                        "ratings before it (1: no origin, every train row, in sample; "
                        f"default {data_prepare.PrepareConfig.origin})")
    p.add_argument("--partners", type=int, default=data_prepare.PrepareConfig.partners,
                   help="partners paired with each viewing window, making the pair rows "
                        f"(default {data_prepare.PrepareConfig.partners})")
    hp = p.add_argument_group("model hyperparameters (trainer_fn/hparams.py)")
    hp.add_argument("--preset", choices=("default", "seed"), default="default",
                    help="'seed': the spec's training setup (no baseline residual, embedding 4, Adagrad 0.01, "
                         "batch 32, 10 epochs, no early stopping, no sequence model); flags below override it")
    helps = hparam_helps(HParams)
    for field in dataclasses.fields(HParams):
        flag = "--train-seed" if field.name == "seed" else f"--{field.name.replace('_', '-')}"
        text = helps[field.name]
        if field.name == "hidden_units":
            hp.add_argument(flag, type=int, nargs="+", dest=f"hp_{field.name}", help=text)
        elif str(field.type) == "bool":
            hp.add_argument(flag, action=argparse.BooleanOptionalAction, dest=f"hp_{field.name}", help=text)
        else:
            kind = {"int": int, "float": float, "str": str}[str(field.type)]
            hp.add_argument(flag, type=kind, dest=f"hp_{field.name}", help=text)
    p.add_argument("--rmse-upper-bound", type=float,
                   help="bless only below this test RMSE (default: the mean-predictor's test RMSE)")
    p.add_argument("--rmse-change-tolerance", type=float, default=PipelineConfig.rmse_change_tolerance,
                   help="non-inferiority margin: the whole interval of (candidate - last blessed model of the same "
                        f"data) must lie at or below it (default {PipelineConfig.rmse_change_tolerance})")
    p.add_argument("--baseline", choices=BASELINE_KINDS, default=BaselineParams.kind,
                   help="the classical baseline the model must beat: svdpp (default), mf or biases")
    p.add_argument("--baseline-factors", type=int, help=f"its latent factors (default {BaselineParams.factors})")
    p.add_argument("--baseline-margin", type=float, default=PipelineConfig.baseline_margin,
                   help="how far below the baseline's RMSE the model's whole bootstrap interval must lie "
                        f"(default {PipelineConfig.baseline_margin})")
    p.add_argument("--force-push", action="store_true",
                   help="for demos: bless and push the trained model whatever the gate's checks say (they are "
                        "still computed, recorded and shown; a model already pushed is not pushed again)")
    p.add_argument("--ease-most-rated", type=int, default=PipelineConfig.ease_most_rated, metavar="N",
                   help="fit the pair ranker's EASE on at most the N most rated movies, a bound on its movies x movies "
                        f"matrices; 0: every movie rated in train (default {PipelineConfig.ease_most_rated:,})")
    p.add_argument("--no-cache", action="store_true",
                   help="re-execute every component instead of reusing the cached results of earlier runs")
    p.add_argument("--no-report", action="store_true", help="skip the HTML report (make report builds it later)")
    p.add_argument("--no-ranking", action="store_true",
                   help="leave the RankingEvaluator out of the pipeline (the ranking metrics and the gate's "
                        "ranking check)")
    p.add_argument("--verbose", action="store_true",
                   help="print every warning and log on the console instead of <work-dir>/logs/<run>.log")
    p.add_argument("--beam-arg", action="append", default=[], dest="beam_args",
                   help="extra Beam pipeline argument, repeatable (e.g. --beam-arg=--runner=FlinkRunner)")
    return p


def hparams_from_args(args) -> HParams:
    overrides = {f.name: getattr(args, f"hp_{f.name}") for f in dataclasses.fields(HParams)
                 if getattr(args, f"hp_{f.name}", None) is not None}
    return HParams.preset(args.preset, **overrides)


def baseline_from_args(args) -> BaselineParams:
    values = {"kind": args.baseline}
    if args.baseline_factors is not None:
        values["factors"] = args.baseline_factors
    return BaselineParams.from_dict(values)


def prepare_data(args, work: WorkLayout) -> tuple[Path, dict]:
    if args.raw:
        raw = Path(args.raw)
    else:
        raw = work.synthetic_raw(args.size, args.seed)
        if not (raw / "ml-1m" / "ratings.dat").exists():
            print(f"generating the embedded '{args.size}' data set into {raw}")
            synthetic.generate(raw, args.size, args.seed)
    prepared = work.prepared_for(raw)
    manifest = data_prepare.prepare(raw, prepared, data_prepare.PrepareConfig(
        partners=args.partners, seed=args.seed, origin=args.origin))
    return prepared, manifest


def pipeline_config(args, work: WorkLayout, prepared: Path, manifest: dict) -> PipelineConfig:
    """The local run's PipelineConfig from the flags and the data stage's manifest."""
    baseline_rmse = manifest["baseline"]["rmse"][F.TEST_SPLIT]
    config = PipelineConfig.local(
        work.root, prepared, hparams=hparams_from_args(args),
        rmse_upper_bound=args.rmse_upper_bound if args.rmse_upper_bound is not None else baseline_rmse,
        rmse_change_tolerance=args.rmse_change_tolerance, baseline_margin=args.baseline_margin,
        force_push=args.force_push,
        baseline_params=baseline_from_args(args), data_identity=f"{prepared.name}:{manifest['key'][:16]}",
        ease_most_rated=args.ease_most_rated, enable_cache=not args.no_cache)
    config.beam_pipeline_args = config.beam_pipeline_args + args.beam_args
    return config


def run(args) -> run_summary.RunSummary:
    log_path = WorkLayout.at(args.work_dir).logs / f"{datetime.datetime.now():%Y-%m-%dT%H-%M-%S}.log"
    with Console(log_path, verbose=args.verbose) as console:
        return _run(args, console)


def _run(args, console: Console) -> run_summary.RunSummary:
    from tfx import v1 as tfx  # heavy import, after argument errors are reported

    from pipeline.pipeline import create_pipeline

    started = time.time()
    work = WorkLayout.at(args.work_dir)
    with console.step("data stage"):
        try:
            prepared, manifest = prepare_data(args, work)
        except OSError as e:   # a full disk, a folder we may not write: the input's fault, exit 2
            message = user_message(e)
            if message is None:
                raise
            raise UserError(f"data stage: {message}") from e
    config = pipeline_config(args, work, prepared, manifest)
    from serving.ranking_evaluator import ranking_evaluator

    with private_tmp(work.tmp):
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config, None if args.no_ranking else ranking_evaluator))

    result = run_summary.latest_run(config.metadata_path, config.pipeline_name)
    ranking = None
    if not args.no_ranking:
        from serving import ranking as ranking_metrics

        # the RankingEvaluator's result, beside the run's report (which shows it; the service
        # reads the pair ranker's settings from there)
        ranking = ranking_metrics.for_run(result, work.run_reports(result.run_id))
    report_path = None
    if not args.no_report:
        from report.report import build_report

        with console.step("report"):
            report_path = build_report(config.metadata_path, config.pipeline_name, work.reports)
    with console.printing():
        print_summary(result, manifest, config, time.time() - started, report_path, ranking)
    return result


BASELINE_NAMES = {"svdpp": "SVD++ baseline", "mf": "matrix factorisation", "biases": "biases only"}


def trainer_history(result: run_summary.RunSummary) -> dict:
    """The Trainer's history file (trainer_fn/run.py: what it decided and why), {} without one."""
    import json

    run = result.output("Trainer", "model_run")
    path = Path(run.uri) / F.HISTORY_FILE if run is not None else None
    return json.loads(path.read_text()) if path is not None and path.exists() else {}


def print_summary(result: run_summary.RunSummary, manifest: dict, config: PipelineConfig, seconds: float,
                  report_path: Path | None = None, ranking: dict | None = None):
    counts = manifest["counts"]
    evaluation = result.output("Evaluator", "evaluation")
    by_slice = run_summary.metrics_by_slice(evaluation.uri) if evaluation else {}
    comparison = result.comparison() or {}
    nan = float("nan")
    print(f"\n=== {config.pipeline_name}: run summary ===")
    print(f"data           {config.data_root}")
    print("rows           " + ", ".join(f"{s} {counts['pairs_per_split'][s]:,} pairs + "
                                        f"{counts['singles_per_split'][s]:,} single" for s in F.SPLITS))
    table = {"mean predictor": [manifest["baseline"]["rmse"][F.TEST_SPLIT]] +
             [manifest["baseline"]["test_rmse_by_kind"][k] for k in ("pair", "single")]}
    baseline_name = BASELINE_NAMES[config.baseline_params.kind]
    history = trainer_history(result)
    deep, terms = history.get("deep_part"), history.get("recency_terms")
    for name, who in ((baseline_name, "baseline"), ("rating model", "candidate")):
        table[name] = [run_summary.candidate_and_baseline(by_slice.get(key, {})).get(who, {})
                       .get("root_mean_squared_error", nan)
                       for key in ((), ((F.EXAMPLE_KIND, "pair"),), ((F.EXAMPLE_KIND, "single"),))]
    print(f"test RMSE      {'':22s} {'all':>7s} {'pair':>7s} {'single':>7s}")
    for name, values in table.items():
        print(f"               {name:22s} " + " ".join(f"{v:7.4f}" for v in values))
    for name, d in comparison.get("intervals", {}).items():
        resampled = " and ".join(f"{n:,} {space}s" for space, n in d.get("clusters", {"user": d["users"]}).items())
        relative = f" ({d['diff'] / d['rmse_b']:+.2%} of {d['rmse_b']:.4f})" if d.get("rmse_b") else ""
        print(f"difference     {name}: {d['diff']:+.4f}{relative}, {d['confidence']:.0%} interval "
              f"[{d['low']:+.4f}, {d['high']:+.4f}] ({resampled} resampled)")
    if deep is not None:
        print(f"deep part      {'kept' if deep['kept'] else 'not kept, not served'}: {deep['why']}")
        if deep.get("trained_on"):
            print(f"               trained on {deep['trained_on']['rows']} ({deep['trained_on']['train_rows']:,} rows)")
    if comparison.get("last_blessed_other_data"):
        print(f"               the last blessed model learnt from other data "
              f"({comparison['last_blessed_other_data']}): not compared with")
    elif comparison and not comparison.get("last_blessed_model"):
        print("               no last blessed model yet: that check is skipped")
    if terms:
        for line in terms_lines(terms):
            print(line)
    if ranking:
        from serving.ranking import check_text, sample_text, table_rows

        print(f"ranking        {'':38s} {'pair':>15s} {'single':>15s}")
        print(f"               {'':38s} {'HR@10':>7s} {'NDCG@10':>7s} {'HR@10':>7s} {'NDCG@10':>7s} {'cover':>7s}")
        for name, values in table_rows(ranking):
            print(f"               {name:38s} " + " ".join(f"{v:7.3f}" if v is not None else f"{'-':>7s}"
                                                           for v in values))
        print(f"               on {sample_text(ranking)} ({ranking['seconds']:.0f} s)")
        print(f"  check        {check_text(ranking)}")
    forced = f" ({comparison['forced']}: the checks below are what it achieved)" if comparison.get("forced") else ""
    print(f"blessed        {'yes' if result.blessed() else 'no'}{forced if result.blessed() else ''}")
    for check in comparison.get("checks", []):
        print(f"  check        {Check(**{**check, 'interval': check.get('interval') and tuple(check['interval'])}).line()}")
    already = any(c["name"] == "is a new model" and not c["passed"] for c in comparison.get("checks", []))
    if not config.infra_validation:
        print("infra          InfraValidator skipped locally (no Kubernetes); on Kubeflow it runs before the Pusher")
    print(f"pushed         {result.pushed_path() or ('nothing new: this model is the last blessed one, already pushed' if already else 'nothing (model not blessed)')}")
    states = ", ".join(f"{c.component} {c.state.lower()}" for c in result.components.values())
    print(f"components     {states}")
    if report_path:
        print(f"report         {report_path}")
    print(f"elapsed        {seconds:.0f} s")


def check_args(args) -> None:
    """The usage errors found without reading any data (UserError)."""
    if args.raw and not Path(args.raw).is_dir():
        raise UserError(f"--raw {args.raw}: {'is a file, not a folder' if Path(args.raw).exists() else 'no such folder'}"
                        f" (it names the folder holding ml-1m/ or ML-100K's u.* files)")
    data_prepare.PrepareConfig(partners=args.partners, seed=args.seed, origin=args.origin)    # its checks, declared once there
    if args.ease_most_rated < 0:
        raise UserError(f"--ease-most-rated must be 0 (every rated movie) or more, got {args.ease_most_rated}")
    work = Path(args.work_dir)
    if work.exists() and not work.is_dir():
        raise UserError(f"--work-dir {work} is a file, not a folder")


def work_lock(work: WorkLayout):
    """One run per work folder: a second one is refused while the first holds the lock."""
    work.root.mkdir(parents=True, exist_ok=True)

    def refuse(holder: str) -> None:
        raise UserError(f"another run is using the work folder {work.root} ({holder}); wait for it to "
                        f"finish, or give this one another --work-dir")

    return file_lock(work.run_lock, f"pid {os.getpid()}, started {datetime.datetime.now():%Y-%m-%d %H:%M:%S}",
                     refuse)


def main(argv=None) -> None:
    args = parse_args(argv)

    def body():
        check_args(args)
        with work_lock(WorkLayout.at(args.work_dir)):
            try:
                run(args)
            except KeyboardInterrupt:
                sys.exit(130)
            except UserError:
                if args.verbose:
                    raise
                sys.exit(EXIT_USAGE)   # the input's fault; the console has shown the message
            except Exception:
                if args.verbose:
                    raise
                sys.exit(1)   # the console has shown the error and the log's path; the traceback is in the log

    run_cli("python -m runners.run_local", body, verbose=args.verbose)


if __name__ == "__main__":
    main()
