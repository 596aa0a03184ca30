"""pyproject.toml: `pip install .` takes the runtime only (test and bench packages are extras),
with the pins of requirements.txt and requirements-test.txt, and packages every code folder."""

from __future__ import annotations

import re
import subprocess
import tomllib

from common.code import ROOT, code_folders

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# requirements.txt holds these for make's one .venv, but only the tests and benchmarks use them.
TEST_ONLY = {"pytest", "playwright"}
BENCH_ONLY = {"psutil"}


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def pins(path) -> dict[str, str]:
    lines = [line.split("#")[0].strip() for line in (ROOT / path).read_text().splitlines()]
    return {_name(line): line for line in lines if line and not line.startswith("-")}


def listed(requirements) -> dict[str, str]:
    return {_name(r): r for r in requirements}


def test_the_runtime_is_requirements_txt_less_the_test_and_bench_packages():
    runtime, requirements = listed(PROJECT["project"]["dependencies"]), pins("requirements.txt")
    assert set(runtime) == set(requirements) - TEST_ONLY - BENCH_ONLY
    assert {_name(v): v.replace("_", "-").lower() for v in runtime.values()} == \
        {k: requirements[k].replace("_", "-").lower() for k in runtime}
    assert "dependencies" not in PROJECT["project"].get("dynamic", [])


def test_the_test_and_bench_extras_hold_the_rest_with_the_same_pins():
    extras = PROJECT["project"]["optional-dependencies"]
    test, bench = listed(extras["test"]), listed(extras["bench"])
    everything = {**pins("requirements.txt"), **pins("requirements-test.txt")}
    assert set(test) == TEST_ONLY | set(pins("requirements-test.txt"))
    assert BENCH_ONLY <= set(bench) and "scikit-surprise" in bench     # make bench-model's outside yardstick
    for name, requirement in {**test, **bench}.items():
        assert requirement == everything[name]


def test_the_packages_are_the_code_folders():
    include = PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(i.rstrip("*") for i in include) == list(code_folders())


def test_no_generated_metadata_is_committed():
    assert "*.egg-info/" in (ROOT / ".gitignore").read_text().split()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0:         # a source tree without git has nothing to check here
        assert not [p for p in tracked.stdout.splitlines() if ".egg-info/" in p]


def test_the_licence_and_the_data_terms_are_there():
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "the movie-pair-recommender authors" in licence
    terms = (ROOT / "DATA-TERMS.md").read_text()
    assert "GroupLens" in terms and "Harper" in terms and "IMDb" in terms
