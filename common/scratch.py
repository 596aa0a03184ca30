"""A pipeline run's temporary files in a folder of its own, removed when the run ends.

TFX and Beam leave files in the system's temporary folder on every run and never remove them:
each component's user-code wheel build, Beam's staging lists and, whenever Beam arguments are
given, a 52 MB copy of TFX packaged for remote workers (tfx_ephemeral, one per Beam
component). A machine that runs the pipeline often (the tests, CI) fills its disk with them.
While `private_tmp(folder)` is open, Python's tempfile and child processes (TMPDIR) write
under `folder`, which is deleted afterwards, whether the run succeeded or failed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def private_tmp(folder: str | os.PathLike):
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)      # what a killed run left
    folder.mkdir(parents=True)
    saved_tempdir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    try:
        yield folder
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(folder, ignore_errors=True)
