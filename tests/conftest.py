import contextlib
import os
import sys

import pytest

import common  # noqa: F401  (legacy Keras before any test imports TensorFlow)
from data import prepare, synthetic


def pytest_collection_modifyitems(config, items):
    """Groups for `pytest -n 2 --dist loadgroup` (make test): every test that reads the
    shared first_run (and its work folder, which some of them add runs to, in file order)
    runs on one worker; each test that runs pipelines of its own is a group of its own, so
    that the other worker takes it meanwhile."""
    for item in items:
        if "first_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("first_run"))
        elif item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group(item.nodeid))


def require_current_venv(root) -> None:
    """Fail (never skip) when root/.venv is older than the requirements: a test that runs a
    make command would otherwise test a stale environment, or silently nothing."""
    from pathlib import Path

    stamp = Path(root) / ".venv" / ".installed"
    newest = max((Path(root) / f).stat().st_mtime for f in ("requirements.txt", "constraints.txt"))
    if not stamp.exists() or stamp.stat().st_mtime < newest:
        pytest.fail(f"{stamp} is missing or older than requirements.txt/constraints.txt: run `make setup` "
                    f"(make test does) before this test", pytrace=False)


@pytest.fixture(scope="session")
def tiny_raw(tmp_path_factory):
    return synthetic.generate(tmp_path_factory.mktemp("raw") / "synthetic-tiny", "tiny", seed=7)


@pytest.fixture(scope="session")
def tiny_prepared(tiny_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "tiny"
    manifest = prepare.prepare(tiny_raw, out)
    return out, manifest


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


@contextlib.contextmanager
def fd1_to(path):
    """File descriptor 1 into path meanwhile, as `make run > file` would have it."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 1)
    try:
        yield path
    finally:
        os.dup2(saved, 1)
        os.close(saved)


# The first run's flags, which the runs after it repeat so that TFX's cache serves them.
FIRST_RUN_FLAGS = ("--size", "tiny", "--epochs", "3", "--sequence-epochs", "3", "--baseline-margin", "-1",
                   "--keep-margin", "-1")


@pytest.fixture(scope="session")
def first_run(work):
    """The real pipeline on the tiny embedded data, as `make run SIZE=tiny` runs it. What it
    prints on the console is in first_run_console."""
    from runners import run_local

    # The tiny data is too small to judge models by; the margin -1 lets the attention model
    # through the strong-baseline gate here (test_pipeline_e2e checks that gate failing), and
    # the keep margin -1 keeps its deep part, so that the served graph the serving tests read
    # is the whole model (tests/test_model.py checks the start served where it is not kept).
    args = run_local.parse_args(["--work-dir", str(work), *FIRST_RUN_FLAGS])
    with fd1_to(work / "first-run-console.txt"):
        return run_local.run(args)


@pytest.fixture(scope="session")
def first_run_console(first_run, work) -> str:
    return (work / "first-run-console.txt").read_text()
