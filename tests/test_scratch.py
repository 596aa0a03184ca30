"""common/scratch.py: a run's temporary files live in its own folder and leave with it."""

import os
import subprocess
import sys
import tempfile

import pytest

from common.scratch import private_tmp


def test_temporary_files_go_to_the_folder_and_are_removed(tmp_path):
    before = tempfile.gettempdir(), os.environ.get("TMPDIR")
    folder = tmp_path / "work" / "tmp"
    with private_tmp(folder):
        made = tempfile.mkdtemp()
        (folder / "leftover.txt").write_text("x")
        child = subprocess.run([sys.executable, "-c", "import tempfile; print(tempfile.gettempdir())"],
                               capture_output=True, text=True, check=True).stdout.strip()
    assert made.startswith(str(folder)) and child == str(folder)
    assert not folder.exists()
    assert (tempfile.gettempdir(), os.environ.get("TMPDIR")) == before


def test_a_failed_run_removes_its_folder_and_restores_the_settings(tmp_path):
    before = tempfile.gettempdir(), os.environ.get("TMPDIR")
    folder = tmp_path / "tmp"
    folder.mkdir()
    (folder / "from-a-killed-run").write_text("x")
    with pytest.raises(RuntimeError, match="component failed"), private_tmp(folder):
        assert not (folder / "from-a-killed-run").exists()   # what a killed run left is cleared
        tempfile.mkstemp()
        raise RuntimeError("component failed")
    assert not folder.exists()
    assert (tempfile.gettempdir(), os.environ.get("TMPDIR")) == before


def test_local_beam_components_do_not_package_tfx_for_remote_workers(tmp_path, monkeypatch):
    """With the local config's Beam arguments TFX's Beam executors skip building tfx_ephemeral
    (a 52 MB copy of TFX, 1.6 s, before every Beam component); with any argument they build it."""
    from tfx.components.statistics_gen.executor import Executor
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.utils import dependency_utils

    from pipeline.config import PipelineConfig

    built = []
    monkeypatch.setattr(dependency_utils, "build_ephemeral_package", lambda: built.append(1) or "tfx.tar.gz")
    config = PipelineConfig.local(tmp_path / "work", tmp_path / "data")
    Executor(BaseBeamExecutor.Context(beam_pipeline_args=config.beam_pipeline_args, tmp_dir=str(tmp_path) + "/"))
    assert built == []
    Executor(BaseBeamExecutor.Context(beam_pipeline_args=["--direct_running_mode=in_memory"],
                                      tmp_dir=str(tmp_path) + "/"))
    assert built == [1]
