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
