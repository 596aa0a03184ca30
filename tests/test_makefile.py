"""The Makefile's command line: `make` alone lists every target with a line about it, and a
.venv is only ever created with the supported interpreter (scripts/check_platform.sh --python)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from common.code import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
MAKEFILE = (ROOT / "Makefile").read_text()
TARGETS = re.findall(r"^([a-z][a-z-]*):(?!=)", MAKEFILE, flags=re.M)


def make(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_make_alone_lists_every_target_with_a_description():
    listed = make().stdout
    assert listed == make("help").stdout
    lines = dict(re.findall(r"^  make (\S+) +(.+)$", listed, flags=re.M))
    assert {"run", "test", "setup", "serve", "help"} <= set(TARGETS)
    assert set(lines) == set(TARGETS)
    assert all(text.strip() for text in lines.values())


def test_run_and_test_are_what_they_were():
    run = make("-n", "run", "WORK=w", "SIZE=tiny", "SEED=3").stdout
    assert ".venv/bin/python -m runners.run_local --work-dir w --size tiny --seed 3" in run
    test = make("-n", "test", "TEST_WORKERS=2").stdout
    assert ".venv/bin/python -m pytest -q -n 2 --dist loadgroup tests" in test


def test_the_venv_is_created_only_after_the_interpreter_check():
    # -W: as if requirements.txt had changed, so that the .venv recipe is printed (-n: not run).
    recipe = make("-n", "-W", "requirements.txt", "setup", "PYTHON=some-python").stdout.splitlines()
    check = recipe.index('scripts/check_platform.sh --python "some-python"')
    assert check < recipe.index("rm -rf .venv") < recipe.index("some-python -m venv .venv")


def check_python(command) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "scripts" / "check_platform.sh"), "--python", str(command)],
                          capture_output=True, text=True, timeout=60)


def test_the_interpreter_check_names_the_version_found_and_the_fix(tmp_path):
    other = tmp_path / "python3.12"
    other.write_text("#!/bin/sh\necho 3.12\n")
    other.chmod(0o755)
    refused = check_python(other)
    assert refused.returncode == 1
    assert "is Python 3.12" in refused.stderr and "make run PYTHON=python3.11" in refused.stderr
    absent = check_python(tmp_path / "no-such-python")
    assert absent.returncode == 1 and "no such command" in absent.stderr


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the supported interpreter is 3.11")
def test_the_interpreter_check_passes_python_3_11():
    assert check_python(sys.executable).returncode == 0
