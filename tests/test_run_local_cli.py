"""run_local's command line without running a pipeline: every flag's help (the hyperparameters'
read from trainer_fn/hparams.py's comments), and --force-push from the flag to the gate's
record."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

from common.errors import UserError
from runners import run_local
from trainer_fn.hparams import HParams


def test_every_flag_has_a_help_text():
    for action in run_local.parser()._actions:
        assert action.help and action.help.strip(), f"{action.option_strings} has no help"
        # More than the default alone (the old "default N").
        assert not action.help.startswith("default "), f"{action.option_strings}: {action.help!r}"


def test_the_help_renders():
    text = run_local.parser().format_help()      # argparse %-formats every help: none may break it
    assert "--force-push" in text and "--train-seed" in text


@dataclasses.dataclass(frozen=True)
class Example:
    plain: int = 1
    beside: float = 0.5        # the comment beside it
    # The block above the next field,
    # over two lines.
    grouped: int = 3
    grouped_more: int = 4
    other: str = "x"
    continued: bool = True     # a comment beside that
                               # goes on under it
    after: tuple[int, ...] = (2, 1)
    # 50% of it
    percent: int = 50


def test_field_comments_beside_above_and_continued():
    comments = run_local.field_comments(Example)
    assert comments == {
        "beside": ("the comment beside it", "beside"),
        "grouped": ("The block above the next field, over two lines.", "above"),
        "continued": ("a comment beside that goes on under it", "beside"),
        "percent": ("50% of it", "above"),
    }


def test_hparam_helps_fall_back_to_the_group_or_a_generic_phrase_with_the_default():
    helps = run_local.hparam_helps(Example)
    assert helps["beside"] == "the comment beside it (default 0.5)"
    assert helps["grouped_more"] == "goes with --grouped (see its help) (default 4)"
    assert helps["plain"] == "the Trainer's plain (default 1)"
    assert helps["after"] == "the Trainer's after (default 2 1)"
    assert helps["percent"] == "50%% of it (default 50)"        # escaped for argparse


def test_the_hyperparameter_flags_read_hparams_comments():
    helps = run_local.hparam_helps(HParams)
    assert set(helps) == {f.name for f in dataclasses.fields(HParams)}
    comments = run_local.field_comments(HParams)
    # Most fields are commented in trainer_fn/hparams.py; their help is that comment, found there.
    assert len(comments) >= len(helps) // 2
    source = inspect.getsource(HParams)
    for name, (text, _) in comments.items():
        assert helps[name].startswith(text.replace("%", "%%"))
        assert text.split()[0] in source


def test_an_unreadable_source_gives_no_comments():
    Made = dataclasses.make_dataclass("Made", [("x", int, dataclasses.field(default=1))])
    assert run_local.field_comments(Made) == {}
    assert run_local.hparam_helps(Made) == {"x": "the Trainer's x (default 1)"}


# ---------------------------------------------------------------------------------------------
# --force-push


MANIFEST = {"baseline": {"rmse": {"test": 1.05}}, "key": "0123456789abcdef0123"}


def _config(tmp_path, *flags):
    from common.layout import WorkLayout

    args = run_local.parse_args(["--work-dir", str(tmp_path / "work"), *flags])
    prepared = tmp_path / "prepared" / "default"
    prepared.mkdir(parents=True, exist_ok=True)
    return run_local.pipeline_config(args, WorkLayout.at(args.work_dir), prepared, MANIFEST)


def test_force_push_flows_into_the_config_and_the_blessing_gate(tmp_path):
    from pipeline.pipeline import create_pipeline

    assert not _config(tmp_path).force_push
    config = _config(tmp_path, "--force-push", "--baseline-margin", "-1")
    assert config.force_push and config.baseline_margin == -1       # --baseline-margin still works
    gate = next(c for c in create_pipeline(config).components if c.id == "BlessingGate")
    assert gate.exec_properties["force_push"] is True
    gate = next(c for c in create_pipeline(_config(tmp_path)).components if c.id == "BlessingGate")
    assert gate.exec_properties["force_push"] is False


def test_ease_most_rated_flows_into_the_ranking_evaluator(tmp_path):
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import create_pipeline
    from serving.ranking import EASE_MOST_RATED
    from serving.ranking_evaluator import ranking_evaluator

    def bound(*flags):
        config = _config(tmp_path, *flags)
        ranker = next(c for c in create_pipeline(config, ranking_evaluator).components if c.id == "RankingEvaluator")
        return config.ease_most_rated, ranker.exec_properties["most_rated"]

    assert bound() == (EASE_MOST_RATED, EASE_MOST_RATED) == (10_000, 10_000)
    assert bound("--ease-most-rated", "2500") == (2500, 2500)
    assert bound("--ease-most-rated", "0") == (0, 0)        # every rated movie
    with pytest.raises(UserError, match="--ease-most-rated must be 0"):
        run_local.check_args(run_local.parse_args(["--ease-most-rated", "-1"]))
    for bad in (-1, 2.5, True, "10"):                         # a settings file's value (Kubeflow)
        with pytest.raises(ValueError, match="ease_most_rated must be a whole number"):
            PipelineConfig(ease_most_rated=bad)


def _rows(seed=0, n=600):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 60, n)
    b = rng.integers(0, 60, n)
    kinds = np.where(rng.random(n) < 0.5, "pair", "single")
    labels = rng.integers(1, 6, n).astype(float)
    return rng, {"user": (a, np.where(kinds == "single", a, b)), "movie": (rng.integers(0, 100, n),)}, labels, kinds


def _decide(force, **kw):
    from components.blessing_gate import decide

    rng, clusters, labels, kinds = _rows()
    bad, good = labels + rng.normal(0, 1.5, len(labels)), labels + rng.normal(0, 0.5, len(labels))
    return decide(clusters, labels, kinds, {"candidate": bad, "baseline": good}, baseline_margin=0.0,
                  change_tolerance=0.0, rmse_upper_bound=1.0, resamples=200, seed=0, force=force, **kw)


def test_force_push_blesses_a_failing_candidate_and_records_why():
    from components.blessing_gate import FORCED

    honest = _decide(False)
    assert not honest["blessed"] and "forced" not in honest
    forced = _decide(True)
    assert forced["blessed"] and forced["forced"] == FORCED == "forced by --force-push"
    # The checks are still what the model achieved.
    assert forced["checks"] == honest["checks"] and not any(c["passed"] for c in forced["checks"])


def test_force_push_does_not_bless_the_last_blessed_model_again():
    result = _decide(True, same_as_last_blessed=True)
    assert not result["blessed"] and "forced" not in result


def test_the_summary_says_the_blessing_was_forced(capsys, tmp_path):
    config = _config(tmp_path, "--force-push")

    class Run:
        components = {}

        def output(self, *a):
            return None

        def comparison(self):
            return {"checks": [{"name": "beats the strong baseline", "metric": "RMSE difference", "bound": 0.0,
                                "value": 0.1, "passed": False, "relation": "<", "interval": [0.05, 0.1]}],
                    "intervals": {}, "last_blessed_model": False, "forced": "forced by --force-push"}

        def blessed(self):
            return True

        def pushed_path(self):
            return "/work/serving_model/1"

    manifest = {**MANIFEST, "baseline": {"rmse": {"test": 1.05}, "test_rmse_by_kind": {"pair": 1.0, "single": 1.1}},
                "counts": {"pairs_per_split": {s: 1 for s in ("train", "eval", "test")},
                           "singles_per_split": {s: 1 for s in ("train", "eval", "test")}}}
    run_local.print_summary(Run(), manifest, config, 1.0)
    out = capsys.readouterr().out
    assert "blessed        yes (forced by --force-push" in out and "FAILED" in out


def _parsers(main) -> list:
    """The argument parsers a command-line entry point builds (its sub-commands' included)."""
    import argparse

    built = []

    def grab(self, *args, **kwargs):
        built.append(self)
        raise SystemExit(0)

    original = argparse.ArgumentParser.parse_args
    argparse.ArgumentParser.parse_args = grab
    try:
        main([])
    except SystemExit:
        pass
    finally:
        argparse.ArgumentParser.parse_args = original
    out = list(built)
    for p in built:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                out += list(action.choices.values())
    return out


def test_every_flag_of_every_command_line_has_a_help_text():
    from bench import beam_modes, data_stage, ease_bound, model, origin, peers, ranking, scale, sequence
    from bench import serve as bench_serve
    from data import cli as data_cli
    from report import report
    from runners import run_kubeflow
    from serving import recommend, serve

    for main in (data_cli.main, run_kubeflow.main, recommend.main, serve.main, report.main, data_stage.main,
                 model.main, origin.main, peers.main, ranking.main, scale.main, sequence.main, bench_serve.main,
                 ease_bound.main, beam_modes.main):
        parsers = _parsers(main)
        assert parsers, main
        for p in parsers:
            for action in p._actions:
                if action.option_strings and action.dest != "help":
                    assert action.help and action.help.strip(), f"{p.prog} {action.option_strings} has no help"


def test_the_summary_names_each_terms_weight_difference_and_interval():
    terms = {"held_rows": 3293, "held_rmse_with_all": 0.7704,
             "terms": {"neighbourhood": {"weight_on_tune": 1.081, "held_rmse_without": 0.7752, "difference": 0.0048,
                                         "interval": [-0.0028, 0.0137]},
                       "window drift": {"weight_on_tune": 0.0, "held_rmse_without": 0.77035, "difference": 0.0,
                                        "interval": [0.0, 0.0]}}}
    lines = run_local.terms_lines(terms)
    assert "0.7704 with every term (3,293 rows)" in lines[0]
    assert lines[1].split() == ["neighbourhood", "weight", "1.08", "+0.0048", "[-0.0028,", "+0.0137]"]
    assert lines[2].split()[:4] == ["window", "drift", "weight", "0.00"]


def test_bench_origin_tables_the_default_runs_terms_and_nothing_without_them():
    from bench.origin import terms_table

    assert terms_table({}) == [] and terms_table({"terms": {}}) == []
    lines = terms_table({"held_rows": 3293, "held_rmse_with_all": 0.7704,
                         "terms": {"fold-in": {"weight_on_tune": 0.981, "held_rmse_without": 0.7723,
                                               "difference": 0.0019, "interval": [-0.0016, 0.0054]}}})
    assert "3,293 rows; 0.7704 with every term" in lines[1]
    assert lines[-1] == "| fold-in | 0.981 | 0.7723 | +0.0019 | [-0.0016, +0.0054] |"
