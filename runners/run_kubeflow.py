"""Compiles the same create_pipeline for Kubeflow Pipelines (KFP v2 YAML spec).

    python -m runners.run_kubeflow --settings runners/kubeflow.toml --work-dir work

Nothing runs here: upload the YAML to a KFP cluster. The image must hold this project at
`project_dir_in_image` (see the Dockerfile).
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
from pathlib import Path
from urllib.parse import urlparse

from pipeline.config import PipelineConfig
from common.layout import DEFAULT_WORK_DIR, WorkLayout
from common.errors import UserError, run_cli

REMOTE_KEYS = ("pipeline_root", "data_root", "serving_model_dir")
# PipelineConfig fields the Kubeflow runner sets itself: no MLMD file (the cluster has its
# own), the schema and the user code from the image rather than from this machine, and the
# InfraValidator before the Pusher (the cluster has Kubernetes to start TF Serving on).
DERIVED_KEYS = ("metadata_path", "schema_file", "transform_module", "trainer_module", "baseline_module",
                "infra_validation")



class SettingsError(ValueError, UserError):
    """A problem in the Kubeflow settings file."""

@dataclasses.dataclass(frozen=True)
class KubeflowSettings:
    """The TOML file: PipelineConfig's fields by name, plus the two Kubeflow-only keys."""
    image: str
    config: PipelineConfig
    project_dir_in_image: str = "/pipeline"

    @classmethod
    def load(cls, path: str | Path) -> "KubeflowSettings":
        try:
            values = tomllib.loads(Path(path).read_text())
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{path}: not valid TOML ({e})") from e
        own = {f.name: values.pop(f.name) for f in dataclasses.fields(cls) if f.name in values and f.name != "config"}
        if "image" not in own:
            raise SettingsError(f"{path}: image is required (the container image holding this project)")
        derived = sorted(set(values) & set(DERIVED_KEYS))
        if derived:
            raise SettingsError(f"{path}: {derived} are set by the Kubeflow runner, not by the settings")
        for key in REMOTE_KEYS:
            if key not in values:
                raise SettingsError(f"{path}: {key} is required (a remote URI such as gs://bucket/...)")
            if not urlparse(values[key]).scheme:
                raise SettingsError(f"{path}: {key} must be a remote URI such as gs://bucket/..., got {values[key]!r}")
        root = own.get("project_dir_in_image", cls.project_dir_in_image).rstrip("/")
        try:
            config = PipelineConfig.from_dict(
                {**values, "metadata_path": "", "schema_file": f"{root}/pipeline/schema/schema.pbtxt",
                 "transform_module": None, "trainer_module": None, "baseline_module": None,
                 "infra_validation": True}, where=str(path))
        except (TypeError, ValueError) as e:
            raise SettingsError(str(e)) from e
        return cls(config=config, **own)


def compile_pipeline(settings: KubeflowSettings, output: str | Path) -> dict:
    """Writes the KFP pipeline spec to `output` and returns the whole PipelineJob as a dict.

    The YAML holds the spec only; KFP takes the pipeline root when the run is submitted
    (the job's runtimeConfig.gcsOutputDirectory, which this returns).
    """
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline
    from serving.ranking_evaluator import ranking_evaluator

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=settings.image),
        output_dir=str(output.parent), output_filename=output.name)
    return runner.run(create_pipeline(settings.config, ranking_evaluator))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m runners.run_kubeflow", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", default="runners/kubeflow.toml",
                   help="the cluster's settings: image, bucket paths, Beam arguments (default %(default)s)")
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                   help="the local work folder the spec is written under (default %(default)s)")
    p.add_argument("--output", help="the YAML spec to write (default: <work-dir>/kubeflow/<pipeline name>.yaml)")
    p.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)
    run_cli(p.prog, lambda: _main(args), verbose=args.verbose)


def _main(args) -> None:
    settings = KubeflowSettings.load(args.settings)
    output = args.output or WorkLayout.at(args.work_dir).kubeflow_spec(settings.config.pipeline_name)
    job = compile_pipeline(settings, output)
    tasks = sorted(job["pipelineSpec"]["root"]["dag"]["tasks"])
    print(f"wrote {output}: {len(tasks)} tasks ({', '.join(tasks)}); image {settings.image}; "
          f"submit it with pipeline_root={settings.config.pipeline_root}")


if __name__ == "__main__":
    main()
