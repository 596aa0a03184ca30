"""The work folder's layout, declared once: every generated file lives under one work dir.

    work/
      raw/synthetic-<size>-seed<seed>/   generated raw data (make data, make run)
      raw/real/                          fetched real data: ml-1m/, ml-100k/, imdb/ (make fetch)
      cache/                             downloaded archives, reused by make fetch
      prepared/<name>/                   the data stage's output for raw folder <name>
      schema/<hash>/schema.pbtxt         content-addressed copy of the curated schema
      pipeline_root/                     TFX artifacts
      metadata.sqlite                    ML Metadata of every local run
      .run.lock                          held by the running `make run` (one run per work folder)
      serving_model/<version>/           pushed SavedModels (TF Serving layout)
      reports/<run id>/report.html       run reports
      reports/<run id>/ranking.json      the run's ranking metrics (run_local, after the pipeline)
      logs/                              run logs
      tmp/                               the running pipeline's temporary files (TFX's and Beam's),
                                         removed when the run ends (common/scratch.py)
      kubeflow/<pipeline name>.yaml      compiled Kubeflow spec (make kubeflow)
      bench/                             data-stage benchmark files (make bench-data);
      bench/scale/                       the scale benchmark's runs (make bench)
      bench-model/<data set>/            the model-quality benchmark's runs (make bench-model)

Imports nothing heavy: the command-line entry points, the Makefile's commands and the
tests all derive their paths from here.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

DEFAULT_WORK_DIR = "work"


def synthetic_name(size: str, seed: int) -> str:
    """The folder name of a generated data set, under raw/ and prepared/."""
    return f"synthetic-{size}-seed{seed}"


def report_dir(reports_dir: str | os.PathLike, run_id: str) -> Path:
    """reports/<run id>, the id's colons replaced (not allowed in every file system)."""
    return Path(reports_dir) / run_id.replace(":", "-")


@dataclasses.dataclass(frozen=True)
class WorkLayout:
    root: Path

    @classmethod
    def at(cls, work_dir: str | os.PathLike = DEFAULT_WORK_DIR) -> "WorkLayout":
        """The layout under work_dir, as an absolute path."""
        return cls(Path(work_dir).resolve())

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def real_raw(self) -> Path:
        return self.raw / "real"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def prepared(self) -> Path:
        return self.root / "prepared"

    @property
    def schema(self) -> Path:
        return self.root / "schema"

    @property
    def pipeline_root(self) -> Path:
        return self.root / "pipeline_root"

    @property
    def run_lock(self) -> Path:
        """Held (flock) by a local run for its whole length: one run per work folder."""
        return self.root / ".run.lock"

    @property
    def metadata(self) -> Path:
        return self.root / "metadata.sqlite"

    @property
    def serving_model(self) -> Path:
        return self.root / "serving_model"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def run_reports(self, run_id: str) -> Path:
        """One run's report folder (its report, ranking.json)."""
        return report_dir(self.reports, run_id)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def kubeflow(self) -> Path:
        return self.root / "kubeflow"

    def kubeflow_spec(self, pipeline_name: str) -> Path:
        return self.kubeflow / f"{pipeline_name}.yaml"

    @property
    def bench(self) -> Path:
        return self.root / "bench"

    @property
    def bench_model(self) -> Path:
        """One work folder per data set for the model-quality benchmark (make bench-model)."""
        return self.root / "bench-model"

    def synthetic_raw(self, size: str, seed: int) -> Path:
        return self.raw / synthetic_name(size, seed)

    def prepared_for(self, raw_dir: str | os.PathLike) -> Path:
        """Where the data stage writes the prepared data of a raw folder (named after it)."""
        return self.prepared / Path(raw_dir).resolve().name

    def latest_prepared(self) -> Path:
        """The most recently written prepared data set."""
        folders = [p for p in self.prepared.glob("*/") if not p.name.startswith(".")]
        if not folders:
            raise FileNotFoundError(f"no prepared data under {self.prepared}: run `make run` first")
        return max(folders, key=lambda d: d.stat().st_mtime)
