"""Beam's running mode for the Beam-based components, chosen by measurement.

    python -m bench.beam_modes --work-dir <the work folder of a finished run> [--write]
        [--components CsvExampleGen StatisticsGen Evaluator] [--modes in_memory multi_processing:2]

Each component's TFX executor runs again on the inputs its latest run in that work folder read
(the artifacts MLMD recorded) and with that run's execution properties, once per Beam mode
(`--direct_running_mode`, and `--direct_num_workers` after a colon), each in a child process
whose process tree's RSS is sampled every 0.2 s (bench/scale.py RssSampler). The outputs go to
a scratch folder that is removed afterwards: the run's own artifacts are read, never written.
Writes the `beam-modes` section of BENCHMARKS.md with --write.

The pipeline runs every Beam component in Beam's default, `--direct_running_mode=in_memory`
(PipelineConfig.beam_pipeline_args is empty); `make run ARGS="--beam-arg=--direct_running_mode=multi_processing
--beam-arg=--direct_num_workers=2"` is the other choice this measures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import page as benchmarks_page
from bench.scale import RssSampler, _env, _machine
from common.scratch import private_tmp
from common.layout import WorkLayout
from pipeline.config import PROJECT_ROOT
from transform_fn import features as F

# The executor of each component, its inputs (input key -> the producing component and its output
# key in the same run) and its outputs (output key -> artifact type name).
COMPONENTS = {
    "CsvExampleGen": ("tfx.components.example_gen.csv_example_gen.executor.Executor", {},
                      {"examples": "Examples"}),
    "StatisticsGen": ("tfx.components.statistics_gen.executor.Executor",
                      {"examples": ("CsvExampleGen", "examples")}, {"statistics": "ExampleStatistics"}),
    "Evaluator": ("tfx.components.evaluator.executor.Executor",
                  {"examples": ("CsvExampleGen", "examples"), "model": ("Trainer", "model"),
                   "baseline_model": ("BaselineTrainer", "model")},
                  {"evaluation": "ModelEvaluation", "blessing": "ModelBlessing"}),
}
MODES = ("in_memory", "multi_processing:2")


def beam_args(mode: str) -> list[str]:
    """`in_memory` or `multi_processing:N` as Beam's DirectRunner arguments."""
    name, _, workers = mode.partition(":")
    if name not in ("in_memory", "multi_threading", "multi_processing"):
        raise ValueError(f"unknown mode {mode!r}: in_memory, multi_threading[:N] or multi_processing[:N]")
    return [f"--direct_running_mode={name}", *([f"--direct_num_workers={int(workers)}"] if workers else [])]


def spec_of(work_dir: Path, component: str) -> dict:
    """What the child process needs to run `component` again: its input artifacts (MLMD protos
    as JSON, with their type) and its execution properties, from the latest run."""
    from google.protobuf import json_format

    from pipeline import runs

    layout = WorkLayout.at(work_dir)
    run = runs.latest_run(str(layout.metadata), F.PIPELINE_NAME)
    store = runs.store(str(layout.metadata))
    if component not in run.components:
        raise LookupError(f"{component} did not run in the latest run of {work_dir}")
    inputs = {}
    for key, (producer, output) in COMPONENTS[component][1].items():
        artifact = run.output(producer, output)
        if artifact is None:
            raise LookupError(f"{producer} has no output {output!r} in the latest run of {work_dir}")
        kind = store.get_artifact_types_by_id([artifact.type_id])[0]
        inputs[key] = {"artifact": json_format.MessageToJson(artifact), "type": json_format.MessageToJson(kind)}
    return {"component": component, "inputs": inputs, "properties": run.components[component].properties}


def rows_of(work_dir: Path) -> dict[str, int]:
    """The prepared rows per split the run read (the data stage's manifest)."""
    from pipeline import runs

    run = runs.latest_run(str(WorkLayout.at(work_dir).metadata), F.PIPELINE_NAME)
    root = Path(str(run.components["CsvExampleGen"].properties["input_base"]))
    counts = json.loads((root / F.MANIFEST_FILE).read_text())["counts"]
    return {s: counts["pairs_per_split"][s] + counts["singles_per_split"][s] for s in F.SPLITS}


def child(spec_path: str) -> None:
    """Runs one executor as the spec says (in this process; the parent samples its RSS)."""
    import importlib

    from google.protobuf import json_format
    from ml_metadata.proto import metadata_store_pb2
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import artifact_utils, standard_artifacts

    spec = json.loads(Path(spec_path).read_text())
    module, _, name = COMPONENTS[spec["component"]][0].rpartition(".")
    executor_class = getattr(importlib.import_module(module), name)
    inputs = {}
    for key, value in spec["inputs"].items():
        artifact = json_format.Parse(value["artifact"], metadata_store_pb2.Artifact())
        kind = json_format.Parse(value["type"], metadata_store_pb2.ArtifactType())
        inputs[key] = [artifact_utils.deserialize_artifact(kind, artifact)]
    scratch = Path(spec["scratch"])
    outputs = {}
    for key, type_name in COMPONENTS[spec["component"]][2].items():
        artifact = getattr(standard_artifacts, type_name)()
        artifact.uri = str(scratch / key)
        Path(artifact.uri).mkdir(parents=True, exist_ok=True)
        outputs[key] = [artifact]
    context = BaseBeamExecutor.Context(beam_pipeline_args=spec["beam_args"], tmp_dir=str(scratch / "tmp") + "/",
                                       unique_id="bench-beam-modes")
    # what TFX and Beam leave behind (the executor packages TFX as it is made) goes with it
    with private_tmp(scratch / "python-tmp"):
        executor_class(context).Do(inputs, outputs, dict(spec["properties"]))


def measure(spec: dict, mode: str, log) -> dict:
    """One child process running spec_of's component in `mode`: its wall time and peak RSS."""
    component = spec["component"]
    with tempfile.TemporaryDirectory(prefix="beam-modes-") as scratch:
        path = Path(scratch) / "spec.json"
        path.write_text(json.dumps({**spec, "scratch": scratch, "beam_args": beam_args(mode)}, default=str))
        started = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "bench.beam_modes", "--child", str(path)], cwd=PROJECT_ROOT,
                                env=_env(PROJECT_ROOT), stdout=log, stderr=subprocess.STDOUT)
        with RssSampler(proc.pid) as rss:
            code = proc.wait()
        wall = time.time() - started
    if code != 0:
        raise RuntimeError(f"{component} in mode {mode} exited {code}; its output is in {log.name}")
    return {"seconds": wall, "peak_rss_mb": rss.peak()}


def render(results: dict, rows: dict, work_dir: Path, command: str) -> str:
    lines = ["## Beam's running mode (DirectRunner), by measurement", "",
             f"`{command}`, commit {benchmarks_page.commit()}, {time.strftime('%Y-%m-%d')}, {_machine()}. "
             f"Each component's executor run again on the inputs and settings of the latest run in "
             f"`{work_dir.name}` ({rows[F.TRAIN_SPLIT]:,} train, {rows[F.EVAL_SPLIT]:,} eval and "
             f"{rows[F.TEST_SPLIT]:,} test rows), once per mode, in a child process: wall time (its imports "
             f"included) and the process tree's peak RSS (the workers' included).", "",
             "| component | mode | seconds | peak RSS MB | time against in_memory |", "|---|---|---:|---:|---:|"]
    for component, by_mode in results.items():
        base = by_mode.get("in_memory", {}).get("seconds")
        for mode, r in by_mode.items():
            ratio = f"{r['seconds'] / base:.2f}" if base else ""
            lines.append(f"| {component} | {mode} | {r['seconds']:.0f} | {r['peak_rss_mb']:,.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.beam_modes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", help="the work folder of a finished pipeline run")
    p.add_argument("--components", nargs="+", choices=list(COMPONENTS), default=list(COMPONENTS),
                   help="the components to run again (default: %(default)s)")
    p.add_argument("--modes", nargs="+", default=list(MODES),
                   help="in_memory, multi_threading[:N] or multi_processing[:N] (default: %(default)s)")
    p.add_argument("--write", action="store_true", help="write the beam-modes section of BENCHMARKS.md")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args.child)
    if not args.work_dir:
        p.error("--work-dir is required")
    for mode in args.modes:
        beam_args(mode)
    work_dir = Path(args.work_dir).resolve()
    results: dict[str, dict] = {}
    log_path = WorkLayout.at(work_dir).logs / "beam-modes.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        print(f"output of every run in {log_path}", flush=True)
        for component in args.components:
            spec = spec_of(work_dir, component)
            for mode in args.modes:
                r = results.setdefault(component, {})[mode] = measure(spec, mode, log)
                print(f"{component:14s} {mode:20s} {r['seconds']:7.1f} s {r['peak_rss_mb']:9,.0f} MB", flush=True)
    command = "python -m bench.beam_modes --work-dir <the work folder of the run> " + \
        f"--components {' '.join(args.components)} --modes {' '.join(args.modes)} --write"
    text = render(results, rows_of(work_dir), work_dir, command)
    print(text)
    if args.write:
        benchmarks_page.write_section(PROJECT_ROOT / benchmarks_page.PAGE, "beam-modes", text)
        print(f"\nwritten: section beam-modes of {PROJECT_ROOT / benchmarks_page.PAGE}")


if __name__ == "__main__":
    main()
