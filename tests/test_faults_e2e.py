"""The pipeline under a fault: a run killed with SIGKILL in the middle of the Trainer, then
started again, finishes, reuses what completed (cache) and pushes once. The data is ML-10M's
shape at a tiny size (data/synthetic.py tiny-ml-10m: half stars, no users.dat), so the same
runs show a release without demographics and with half stars going through the whole
pipeline: a 3.5 in the raw file is a 3.5 in ratings_by_split.csv, and the models clip their
ratings to 0.5..5."""

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
    return [sys.executable, "-m", "runners.run_local", "--work-dir", str(work), "--size", "tiny-ml-10m",
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
    # Half stars and no demographics, end to end.
    import json

    import pandas as pd

    from data.formats import UNKNOWN_SEX
    from trainer_fn.baseline.svdpp import load_tables
    from transform_fn import features as F

    layout = WorkLayout.at(work)
    (raw,) = layout.raw.glob("synthetic-tiny-ml-10m*/ml-10M100K/ratings.dat")
    assert "::3.5::" in raw.read_text()
    (prepared,) = layout.prepared.glob("synthetic-tiny-ml-10m*")
    ratings = pd.read_csv(prepared / F.RATINGS_FILE)
    assert (ratings["rating"] == 3.5).any() and (ratings["rating"] % 1 == 0.5).mean() > 0.1
    assert set(pd.read_csv(prepared / "users.csv")["sex"].astype(str)) == {UNKNOWN_SEX}
    baseline = Path(run.output("BaselineTrainer", "model").uri) / F.SERVING_FORMAT
    assert load_tables(str(baseline)).rating_min == F.HALF_STAR_MIN
    history = json.loads((Path(run.output("Trainer", "model_run").uri) / F.HISTORY_FILE).read_text())
    assert history["rating_scale"] == [F.HALF_STAR_MIN, F.RATING_MAX]
