import contextlib
import os
import sys

import pytest

import common  # noqa: F401  (legacy Keras before any test imports TensorFlow)
from data import prepare, synthetic


# The tests that read the shared first_run (and its work folder, which some of them add runs to,
# in file order): `make test` (pytest -n 2) runs them all on one worker, so that the pipeline
# run they share is made once. A file here holds only such tests, or names them one by one.
FIRST_RUN_TESTS = ("tests/test_pipeline_e2e.py::", "tests/test_serve_e2e.py::", "tests/test_report.py::",
                   "tests/test_console.py::test_the_runner_prints_a_line_as_each_component_starts_and_ends")


def shares_first_run(nodeid: str) -> bool:
    return nodeid.startswith(FIRST_RUN_TESTS)


def pytest_collection_modifyitems(config, items):
    """FIRST_RUN_TESTS is the whole list: a test that reads first_run and is not in it would
    make the run again on the other worker (and see another work folder), so it stops the
    session here. The end-to-end tests (minutes each) are put first, in file order, so that the
    workers start them at once and share out the quick tests after them: in file order the
    README's commands (7 minutes) came last and ran alone at the end."""
    strays = [item.nodeid for item in items
              if "first_run" in getattr(item, "fixturenames", ()) and not shares_first_run(item.nodeid)]
    if strays:
        raise pytest.UsageError(f"tests/conftest.py FIRST_RUN_TESTS lacks these tests that read first_run: {strays}")
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)      # stable: file order within each


def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduler, with the FIRST_RUN_TESTS as one unit of work and every other
    test a unit of its own. (--dist loadgroup's xdist_group marker does not group under pytest 9
    with pytest-xdist 3.8: xdist renames the item's `_nodeid`, which pytest 9 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FirstRunTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "first_run" if shares_first_run(nodeid) else nodeid

    return FirstRunTogether(config, log)


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

    # The tiny data is too small to judge models by; the margin -1 lets the rating model
    # through the strong-baseline gate here (test_pipeline_e2e checks that gate failing), and
    # the keep margin -1 keeps its deep part, so that the served graph the serving tests read
    # is the whole model (tests/test_model.py checks the start served where it is not kept).
    args = run_local.parse_args(["--work-dir", str(work), *FIRST_RUN_FLAGS])
    with fd1_to(work / "first-run-console.txt"):
        return run_local.run(args)


@pytest.fixture(scope="session")
def first_run_console(first_run, work) -> str:
    return (work / "first-run-console.txt").read_text()
