"""Compiles the same create_pipeline for Kubeflow Pipelines (KFP v2 YAML spec).

    python -m pipeline.run_kubeflow --settings pipeline/kubeflow.toml --output work/kubeflow/pipeline.yaml

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
from trainer_fn.hparams import HParams

REMOTE_KEYS = ("pipeline_root", "data_root", "serving_model_dir")


@dataclasses.dataclass
class KubeflowSettings:
    image: str
    pipeline_root: str
    data_root: str
    serving_model_dir: str
    project_dir_in_image: str = "/pipeline"
    pipeline_name: str = PipelineConfig.pipeline_name
    rmse_upper_bound: float | None = None
    rmse_change_tolerance: float = 0.0
    baseline_margin: float = 0.0
    beam_pipeline_args: list[str] = dataclasses.field(default_factory=list)
    hparams: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "KubeflowSettings":
        values = tomllib.loads(Path(path).read_text())
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        settings = cls(**values)
        for key in REMOTE_KEYS:
            if not urlparse(getattr(settings, key)).scheme:
                raise ValueError(f"{path}: {key} must be a remote URI such as gs://bucket/..., "
                                 f"got {getattr(settings, key)!r}")
        return settings

    def pipeline_config(self) -> PipelineConfig:
        root = self.project_dir_in_image.rstrip("/")
        return PipelineConfig(
            pipeline_name=self.pipeline_name, data_root=self.data_root, pipeline_root=self.pipeline_root,
            metadata_path="", serving_model_dir=self.serving_model_dir,
            schema_file=f"{root}/pipeline/schema/schema.pbtxt",
            transform_module=None, trainer_module=None,
            hparams=HParams.from_dict(self.hparams), rmse_upper_bound=self.rmse_upper_bound,
            rmse_change_tolerance=self.rmse_change_tolerance, baseline_margin=self.baseline_margin,
            baseline_module=None, beam_pipeline_args=list(self.beam_pipeline_args))


def compile_pipeline(settings: KubeflowSettings, output: str | Path) -> dict:
    """Writes the KFP pipeline spec to `output` and returns the whole PipelineJob as a dict.

    The YAML holds the spec only; KFP takes the pipeline root when the run is submitted
    (the job's runtimeConfig.gcsOutputDirectory, which this returns).
    """
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=settings.image),
        output_dir=str(output.parent), output_filename=output.name)
    return runner.run(create_pipeline(settings.pipeline_config()))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m pipeline.run_kubeflow", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--settings", default="pipeline/kubeflow.toml")
    p.add_argument("--output", default="work/kubeflow/movie-pair-recommender.yaml")
    args = p.parse_args(argv)
    settings = KubeflowSettings.load(args.settings)
    job = compile_pipeline(settings, args.output)
    tasks = sorted(job["pipelineSpec"]["root"]["dag"]["tasks"])
    print(f"wrote {args.output}: {len(tasks)} tasks ({', '.join(tasks)}); image {settings.image}; "
          f"submit it with pipeline_root={settings.pipeline_root}")


if __name__ == "__main__":
    main()
