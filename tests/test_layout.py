"""The work-folder layout, declared once, and the command lines' light imports."""

import subprocess
import sys
from pathlib import Path

from pipeline.config import PipelineConfig
from common.layout import WorkLayout, synthetic_name


def test_every_folder_is_under_the_work_dir(tmp_path):
    work = WorkLayout.at(tmp_path / "w")
    folders = [work.raw, work.real_raw, work.cache, work.prepared, work.schema, work.pipeline_root, work.metadata,
               work.serving_model, work.reports, work.logs, work.kubeflow, work.bench,
               work.synthetic_raw("tiny", 7), work.kubeflow_spec("p")]
    assert all(f.is_relative_to(work.root) for f in folders) and len(set(folders)) == len(folders)
    assert work.synthetic_raw("tiny", 7).name == synthetic_name("tiny", 7) == "synthetic-tiny-seed7"
    assert work.prepared_for(work.real_raw / "ml-100k") == work.prepared / "ml-100k"


def test_local_config_uses_the_layout(tmp_path):
    work = WorkLayout.at(tmp_path)
    config = PipelineConfig.local(tmp_path, tmp_path / "data")
    assert (config.pipeline_root, config.metadata_path, config.serving_model_dir) == (
        str(work.pipeline_root), str(work.metadata), str(work.serving_model))
    assert config.schema_file.startswith(str(work.schema))


def test_command_lines_import_nothing_heavy():
    """`--help` stays fast: no TensorFlow, TFX, TFMA or ml_metadata before the work starts."""
    code = ("import sys, runners.run_local, runners.run_kubeflow, serving.recommend, data.cli; "
            "print(sorted(m for m in ('tensorflow', 'tfx', 'tensorflow_model_analysis', 'ml_metadata', 'apache_beam')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout
    assert out.strip() == "[]"
