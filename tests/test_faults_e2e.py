"""The pipeline under a fault: a run killed with SIGKILL in the middle of the Trainer, then
started again, finishes, reuses what completed (cache) and pushes once; a run after that
with nothing changed pushes nothing new."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import runs as run_summary
from pipeline.config import PipelineConfig
from common import LEGACY_KERAS
from common.layout import WorkLayout

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def _command(work: Path) -> list[str]:
    return [sys.executable, "-m", "runners.run_local", "--work-dir", str(work), "--size", "tiny",
            "--epochs", "2", "--sequence-epochs", "2", "--baseline-margin", "-1", "--no-report", "--no-ranking"]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), **LEGACY_KERAS}


def _latest(work: Path) -> run_summary.RunSummary:
    return run_summary.latest_run(str(WorkLayout.at(work).metadata), PipelineConfig.pipeline_name)


def test_killed_in_the_trainer_then_rerun_finishes_from_the_cache_and_pushes_once(tmp_path):
    work = tmp_path / "work"
    process = subprocess.Popen(_command(work), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    deadline = time.time() + 600
    for line in process.stdout:               # the console: one line per component start and end
        seen.append(line)
        if re.search(r"\bTrainer\s+start\b", line) or time.time() > deadline:
            break
    time.sleep(3)                             # inside the Trainer's work
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    assert any(re.search(r"\bTrainer\s+start\b", line) for line in seen), "".join(seen)
    serving = WorkLayout.at(work).serving_model
    assert not serving.exists() or not any(serving.iterdir())

    again = subprocess.run(_command(work), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    run = _latest(work)
    for name in ("CsvExampleGen", "StatisticsGen", "Transform", "BaselineTrainer"):
        assert run.components[name].state == "CACHED", name
    assert run.components["Trainer"].state == "COMPLETE"
    assert run.pushed_path() and len(list(serving.iterdir())) == 1
