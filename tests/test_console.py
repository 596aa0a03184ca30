"""The runner's console: component lines and progress on the console, the noise in the log file."""

import contextlib
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from absl import logging as absl_logging

from common import console as console_module
from runners import run_local
from common.console import Console

# "   12.0s  Transform      executed  30.1 s", as Console.line writes it
LINE = re.compile(r"^\s*\d+\.\ds  (\S+)\s+(start|executed|cached|done|skipped|running|FAILED)\b")


def events(text: str) -> list[tuple[str, str]]:
    return [m.groups() for m in map(LINE.match, text.splitlines()) if m]


def component(name: str, how: str) -> None:
    """What TFX's LocalDagRunner and launcher log about one component."""
    absl_logging.info("Component %s is running.", name)
    absl_logging.info("Going to run a new execution %d" if how == "executed" else "A cached execution %d is used.", 7)
    absl_logging.info("Component %s is finished.", name)


def fd_identity(fd: int):
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def test_noise_goes_to_the_log_lines_to_the_console_and_the_fds_come_back(tmp_path, capfd):
    streams, fds = (sys.stdout, sys.stderr), (fd_identity(1), fd_identity(2))
    log = tmp_path / "logs" / "run.log"
    with Console(log) as console:
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers\n")   # C++, straight to fd 2
        print("Epoch 1/10 - loss 1.2")                                            # Keras verbose=2
        subprocess.run([sys.executable, "-c", "import sys; print('running bdist_wheel'); "
                        "print('SetuptoolsDeprecationWarning', file=sys.stderr)"], check=True)
        component("CsvExampleGen", "executed")
        component("StatisticsGen", "cached")
        with console.printing():
            print("=== summary ===")
    assert (sys.stdout, sys.stderr) == streams and (fd_identity(1), fd_identity(2)) == fds
    out, err = capfd.readouterr()
    logged = log.read_text()
    for noise in ("cudart_stub", "Epoch 1/10", "running bdist_wheel", "SetuptoolsDeprecationWarning"):
        assert noise in logged and noise not in out + err
    assert out.splitlines()[0].startswith(f"log      {log}")
    assert events(out) == [("CsvExampleGen", "start"), ("CsvExampleGen", "executed"),
                           ("StatisticsGen", "start"), ("StatisticsGen", "cached")]
    assert out.splitlines()[-1] == "=== summary ===" and err == ""
    assert console_module.active() is None


def test_a_failure_prints_its_message_and_the_log_path_not_the_traceback(tmp_path, capfd):
    log = tmp_path / "run.log"
    with pytest.raises(RuntimeError):
        with Console(log):
            absl_logging.info("Component %s is running.", "AnomalyGate")
            raise RuntimeError("anomalies found in eval:\n  a_sex: unexpected string values")
    out, err = capfd.readouterr()
    assert events(out)[-1] == ("AnomalyGate", "FAILED")
    assert err.splitlines() == ["error    RuntimeError: anomalies found in eval:",
                                "error      a_sex: unexpected string values",
                                f"log      {log}"]
    assert "Traceback (most recent call last)" in log.read_text()


def test_without_a_terminal_a_long_component_prints_plain_running_lines(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(console_module, "HEARTBEATS_S", (0.2,))
    with Console(tmp_path / "run.log", tick_s=0.05) as console:
        absl_logging.info("Component %s is running.", "Trainer")
        bar = console.progress(10)
        bar.update(4, "4/10 epochs, loss 1.0500")
        time.sleep(0.6)
        bar.close()
        absl_logging.info("Component %s is finished.", "Trainer")
    out = capfd.readouterr().out
    assert "\r" not in out
    running = [line for line in out.splitlines() if " running " in line]
    assert len(running) == 1 and running[0].endswith("4/10 epochs, loss 1.0500")


def test_on_a_terminal_a_live_line_shows_the_epoch_bar(tmp_path):
    master, slave = pty.openpty()
    saved = os.dup(1)
    os.dup2(slave, 1)
    try:
        with Console(tmp_path / "run.log", tick_s=0.05) as console:
            absl_logging.info("Component %s is running.", "Trainer")
            console.progress(10).update(5, "5/10 epochs")
            time.sleep(0.3)
            absl_logging.info("Component %s is finished.", "Trainer")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(slave)
    shown = b""
    with contextlib.suppress(OSError):   # EIO once everything written is read
        while chunk := os.read(master, 1 << 16):
            shown += chunk
    os.close(master)
    shown = shown.decode()
    assert re.search(r"\r\s*\d+\.\ds  Trainer\s+running\s+0 s  \|\S+\s*\| 5/10 epochs\x1b\[K", shown)
    assert events(shown.replace("\r\x1b[K", "\n"))[-1] == ("Trainer", "done")


def test_epoch_progress_counts_the_epochs_of_a_fit(tmp_path, monkeypatch):
    import numpy as np
    import tf_keras as keras

    from trainer_fn.progress import EpochProgress

    x = np.ones((8, 2), "float32")
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, x[:, :1], epochs=1, callbacks=[EpochProgress()], verbose=0)   # no console: does nothing
    bars = []
    with Console(tmp_path / "run.log") as console:
        progress = console.progress
        monkeypatch.setattr(console, "progress", lambda *args: bars.append(progress(*args)) or bars[-1])
        model.fit(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=3, batch_size=4,
                  callbacks=[EpochProgress()], verbose=0)
    assert len(bars) == 1 and bars[0].n == 3 and console.bar is None
    assert re.fullmatch(r"3/3 epochs, loss \d+\.\d{4}, val_loss \d+\.\d{4}", bars[0].text)


@pytest.mark.e2e
def test_the_runner_prints_a_line_as_each_component_starts_and_ends(first_run, first_run_console):
    before_summary, summary = first_run_console.split("=== movie-pair-recommender: run summary ===")
    assert len(before_summary.splitlines()) < 40
    seen = events(before_summary)
    for name in first_run.components:   # the resolver is a system node: neither executed nor cached
        assert [e for n, e in seen if n == name and e != "running"] in (["start", "executed"], ["start", "done"])
    log = Path(re.search(r"^log +(\S+)", first_run_console, re.M).group(1))
    logged = log.read_text()
    assert "running bdist_wheel" in logged and "Epoch 3/3" in logged     # the module wheels, Keras's fit
    assert "running bdist_wheel" not in first_run_console
    assert "elapsed" in summary


@pytest.mark.e2e
def test_a_failed_component_exits_non_zero_with_its_error_and_the_log(tmp_path, capfd):
    with pytest.raises(SystemExit) as exit_:
        run_local.main(["--work-dir", str(tmp_path), "--size", "tiny", "--no-report",
                        "--beam-arg=--runner=NoSuchRunner"])
    assert exit_.value.code == 1
    out, err = capfd.readouterr()
    assert ("CsvExampleGen", "FAILED") in events(out)
    assert "NoSuchRunner" in err and len(err.splitlines()) <= console_module.ERROR_LINES + 2
    log = Path(err.splitlines()[-1].split()[-1])
    assert log.parent == tmp_path / "logs" and "Traceback" in log.read_text()
