"""make bench's pure parts: the fitted exponent, the RSS sampler and the page it writes."""

import subprocess
import sys
import time

import pytest

from bench import scale as B


def test_exponent_recovers_the_power_law():
    rows = [1e4, 3e4, 1e5]
    assert B.exponent(rows, [2.0 * r ** 1.3 for r in rows]) == pytest.approx(1.3)
    assert B.exponent(rows, [5.0, 5.0, 5.0]) == pytest.approx(0.0, abs=1e-9)
    assert B.exponent(rows[:1], [1.0]) != B.exponent(rows[:1], [1.0])   # nan with one size


def test_rss_sampler_sees_a_child_process_memory():
    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(200 * 2**20); time.sleep(1.5)"])
    with B.RssSampler(child.pid, every=0.05) as rss:
        child.wait()
    assert rss.peak() > 200
    assert rss.peak(time.time() + 10) != rss.peak(time.time() + 10)   # no sample in that window: nan


def _result(scale: float) -> dict:
    rows = int(100_000 * scale)
    components = {"start-up and data stage (run_local)": {"seconds": 3 * scale, "peak_rss_mb": 900, "state": "COMPLETE"},
                  "CsvExampleGen": {"seconds": 20 * scale, "peak_rss_mb": 1500, "state": "COMPLETE"},
                  "Trainer": {"seconds": 60 * scale ** 0.5, "peak_rss_mb": 3000, "state": "COMPLETE"},
                  "Pusher": {"seconds": 0.1, "peak_rss_mb": 1000, "state": "COMPLETE"}}
    return {"data": {"ratings": rows, "counts": {"pairs_per_split": {"train": rows}, "singles_per_split": {"train": rows // 2}},
                     "steps": [{"step": "parse MovieLens", "seconds": 0.5 * scale, "peak_rss_mb": 300}]},
            "pipeline": {"wall": 200 * scale, "peak_rss_mb": 3500 * scale, "components": components, "blessed": True,
                         "rmse": {"candidate": {"all": 0.9}, "baseline": {"all": 0.92}}}}


def test_render_has_every_size_component_and_the_fitted_exponents():
    results = {"ml-1m-0.1": _result(1.0), "ml-1m-0.3": _result(3.0), "ml-1m": _result(10.0)}
    rerun = {"wall": 90.0, "components": {"Transform": {"state": "CACHED"}, "Trainer": {"state": "COMPLETE"}}}
    plain = {"seconds": 100.0, "epochs": 2, "rows": 1000, "batch_size": 256,
             "trainer": {"fit_seconds": 110.0, "train_rows": 1000, "epochs_run": 2, "read_seconds": 5.0}}
    text = B.render(results, {"rerun": rerun, "plain": plain}, "make bench", 12.0)
    assert "| 0.1x | 100,000 | 150,000 | 3.3 min (200 s) | 3.4 GB |" in text
    assert "| CsvExampleGen | 20 | 60 | 200 | 7,500 | 1.00 | 1,500 |" in text
    assert "| Trainer | 60 | 104 | 190 | 7,906 | 0.50 | 3,000 |" in text
    assert "Pusher" in text.split("| the rest")[1] and "| Pusher |" not in text
    assert "Re-executed: Trainer. From the cache: Transform." in text
    assert "| Trainer, model.fit alone | 110 | 18 | 1.10 |" in text


def test_the_model_only_rerun_copies_every_code_folder(tmp_path, monkeypatch):
    from common.code import code_folders

    assert {"runners", "serving", "common", "trainer_fn"} <= set(B.CODE_FOLDERS)
    assert set(B.CODE_FOLDERS) == set(code_folders())
    calls = []
    monkeypatch.setattr(B, "run_pipeline", lambda work_dir, raw, extra, log, root: calls.append(root) or {})
    copy = tmp_path / "copy"
    B.model_only_rerun(tmp_path / "work", "raw", copy, log=None)
    assert calls == [copy]
    assert {p.name for p in copy.iterdir()} == set(code_folders())
    assert (copy / "runners" / "run_local.py").is_file() and (copy / "pipeline" / "schema").is_dir()
    assert "make bench: a model-only change" in (copy / "trainer_fn" / "model.py").read_text()
