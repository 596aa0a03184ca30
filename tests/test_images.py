"""The Dockerfile's images hold the code they run (there is no Docker engine here: this is the proof).

For each image (a stage of the Dockerfile): its COPY lines cover every code folder
(common/code.py) that its modules import, following the project's imports statically, lazy
ones included; and a copy of only what it copies, on PYTHONPATH alone with the venv's
packages, imports those modules. The pipeline image's modules are the ones the compiled
Kubeflow spec names (executor classes, run_fn, preprocessing_fn) and the entry points.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from common.code import ROOT, code_folders, folders_imported_by, imported_modules

DOCKERFILE = ROOT / "Dockerfile"
PIPELINE_STAGE, SERVICE_STAGE = "pipeline", "service"
# What the pipeline's processes import besides the compiled spec's references: the Kubeflow
# executor's entry point, create_pipeline and the modules behind the spec's names.
PIPELINE_MODULES = ("tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor",
                    "pipeline.pipeline", "components.blessing_gate", "serving.ranking_evaluator",
                    "serving.ranking", "trainer_fn.run", "trainer_fn.baseline.run", "transform_fn.preprocessing")


@dataclasses.dataclass
class Stage:
    name: str
    workdir: str = "/"
    env: dict = dataclasses.field(default_factory=dict)
    copies: list = dataclasses.field(default_factory=list)    # (source, destination as an absolute path)
    entrypoint: list | None = None
    cmd: list | None = None

    def folders(self, root: Path = ROOT) -> set[str]:
        """The repository's top-level folders copied into the project folder (the WORKDIR)."""
        out = set()
        for source, dest in self.copies:
            if (root / source).is_dir() and Path(dest).parent == Path(self.workdir):
                out.add(source.strip("/"))
        return out


def _lines(text: str):
    """Instructions with their continuation lines joined, comments dropped."""
    joined = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        joined += line.rstrip()
        if joined.endswith("\\"):
            joined = joined[:-1] + " "
            continue
        if joined.strip():
            yield joined.strip()
        joined = ""


def parse(text: str) -> dict[str, Stage]:
    """The stages by name (an unnamed one by its index), each with what it inherits from a
    named stage it starts FROM."""
    stages: dict[str, Stage] = {}
    stage = None
    for line in _lines(text):
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            parts = rest.split()
            base = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stage = (dataclasses.replace(stages[base], name=name, env=dict(stages[base].env),
                                         copies=list(stages[base].copies)) if base in stages else Stage(name))
            stages[name] = stage
        elif word == "WORKDIR":
            stage.workdir = os.path.join(stage.workdir, rest.strip())
        elif word == "ENV":
            stage.env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif word == "COPY":
            args = [a for a in shlex.split(rest) if not a.startswith("--")]
            *sources, dest = args
            dest = os.path.join(stage.workdir, dest)
            for source in sources:
                target = os.path.join(dest, os.path.basename(source.rstrip("/"))) if dest.endswith("/") and \
                    not source.endswith("/") else dest
                stage.copies.append((source, os.path.normpath(target)))
        elif word in ("ENTRYPOINT", "CMD"):
            setattr(stage, word.lower(), json.loads(rest))
    return stages


STAGES = parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def compiled_references(tmp_path_factory) -> tuple[str, ...]:
    """The project's names in the compiled Kubeflow spec (executor classes, run_fn,
    preprocessing_fn), as `make kubeflow` compiles it."""
    from runners.run_kubeflow import KubeflowSettings, compile_pipeline

    settings = KubeflowSettings.load(ROOT / "runners" / "kubeflow.toml")
    path = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    compile_pipeline(settings, path)
    pattern = r"(?<![\w./-])(?:%s)(?:\.\w+)+" % "|".join(code_folders())
    references = tuple(sorted(set(re.findall(pattern, path.read_text()))))
    # What the spec must name, or the search above found nothing to check.
    assert {"trainer_fn.run.run_fn", "transform_fn.preprocessing.preprocessing_fn",
            "serving.ranking_evaluator.RankingEvaluator_Executor",
            "components.blessing_gate.BlessingGate_Executor"} <= set(references)
    return references


def _modules_of(references) -> list[str]:
    """The module of each reference (a module, or a name inside one): its longest prefix
    that is a file of the project, or the reference itself."""
    from common.code import module_file

    out = []
    for ref in references:
        parts = ref.split(".")
        found = next((".".join(parts[:i]) for i in range(len(parts), 0, -1)
                      if module_file(".".join(parts[:i])) is not None), ref)
        out.append(found)
    return out


def missing_folders(stage: Stage, modules) -> list[str]:
    """The code folders the modules import that the stage does not copy."""
    return sorted(set(folders_imported_by(modules)) - stage.folders())


def image_copy(stage: Stage, into: Path) -> Path:
    """Only what the stage copies from the repository (no __pycache__, as .dockerignore has
    it), at its paths under `into`; returns the stage's WORKDIR there."""
    for source, dest in stage.copies:
        target = into / dest.lstrip("/")
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                            dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, target)
    workdir = into / stage.workdir.lstrip("/")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


IMPORT_ALL = r"""
import importlib, json, sys
from pathlib import Path

image, project, failures = Path(sys.argv[1]).resolve(), set(sys.argv[2].split(",")), {}
for ref in sys.argv[3:]:
    parts = ref.split(".")
    for i in range(len(parts), 0, -1):             # the longest prefix that is a module
        name = ".".join(parts[:i])
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if i > 1 and e.name in {".".join(parts[:j]) for j in range(1, i + 1)}:
                continue                           # a name inside a module, or its package is absent
            failures[ref] = f"ModuleNotFoundError: {e}"
            break
        except Exception as e:
            failures[ref] = f"{type(e).__name__}: {e}"
            break
        try:
            obj = module
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError as e:
            failures[ref] = f"AttributeError: {e}"
            break
        top = sys.modules[parts[0]]
        where = [Path(p).resolve() for p in (getattr(top, "__path__", None) or [top.__file__])]
        if parts[0] in project and not all(image in w.parents for w in where):
            failures[ref] = f"{parts[0]} imported from {[str(w) for w in where]}, not from the image"
        break
print("FAILURES=" + json.dumps(failures))
"""


def import_in_image(stage: Stage, references, tmp_path: Path) -> dict:
    """Imports each reference in a fresh interpreter whose only project code is the stage's
    copy (PYTHONPATH as the image sets it, mapped into tmp_path); {reference: error}."""
    workdir = image_copy(stage, tmp_path)
    pythonpath = os.pathsep.join(str(tmp_path / p.lstrip("/")) for p in stage.env.get("PYTHONPATH", "").split(":") if p)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(tmp_path)),
           **{k: v for k, v in stage.env.items() if k != "PYTHONPATH"},
           "PYTHONPATH": pythonpath, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL, str(tmp_path), ",".join(code_folders()), *references],
                          cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("FAILURES=")]
    assert lines, f"the import check did not finish (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("FAILURES="))


# ---------------------------------------------------------------------------------------------
# The pipeline image (Kubeflow)


def pipeline_stage() -> Stage:
    return STAGES[PIPELINE_STAGE] if PIPELINE_STAGE in STAGES else list(STAGES.values())[-1]


def test_the_pipeline_image_is_where_the_kubeflow_settings_say():
    from runners.run_kubeflow import KubeflowSettings

    stage = pipeline_stage()
    settings = KubeflowSettings.load(ROOT / "runners" / "kubeflow.toml")
    assert stage.workdir == settings.project_dir_in_image
    assert stage.env.get("PYTHONPATH") == settings.project_dir_in_image
    assert stage.env.get("TF_USE_LEGACY_KERAS") == "1"
    # The curated schema the compiled spec names is in the copy.
    schema = Path(settings.config.schema_file).relative_to(settings.project_dir_in_image)
    assert str(schema.parts[0]) in stage.folders() and (ROOT / schema).is_file()


def test_the_pipeline_image_copies_every_code_folder_the_pipeline_imports(compiled_references):
    stage = pipeline_stage()
    modules = [*PIPELINE_MODULES, *_modules_of(compiled_references)]
    assert not missing_folders(stage, modules), \
        f"the Dockerfile's {stage.name} stage does not COPY {missing_folders(stage, modules)}, which its modules import"
    assert stage.folders() <= set(code_folders()), "it copies a folder that is not code (tests/, work/?)"


def test_the_folder_check_fails_without_serving():
    """The check above can fail: the same Dockerfile without serving/ misses it."""
    text = "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("COPY serving/"))
    stage = parse(text)[pipeline_stage().name]
    assert "serving" in missing_folders(stage, ["serving.ranking_evaluator"])


def test_the_pipeline_image_imports_what_the_compiled_spec_names(compiled_references, tmp_path):
    # The references themselves, and every project module they import (lazy imports included).
    closure = sorted(imported_modules([*PIPELINE_MODULES, *_modules_of(compiled_references)]))
    failures = import_in_image(pipeline_stage(), [*PIPELINE_MODULES, *compiled_references, *closure], tmp_path)
    assert not failures, f"not importable from the {pipeline_stage().name} image's copy: {failures}"


# ---------------------------------------------------------------------------------------------
# The service image


SERVICE_MODULE = "serving.serve"


def test_the_service_image_runs_the_service_with_flags_it_accepts():
    stage = STAGES[SERVICE_STAGE]
    assert stage.env.get("TF_USE_LEGACY_KERAS") == "1" and stage.env.get("PYTHONPATH") == stage.workdir
    command = [*(stage.entrypoint or []), *(stage.cmd or [])]
    assert command[:3] == ["python", "-m", SERVICE_MODULE]
    assert not missing_folders(stage, [SERVICE_MODULE]), \
        f"the service stage does not COPY {missing_folders(stage, [SERVICE_MODULE])}, which {SERVICE_MODULE} imports"
    assert stage.folders() <= set(code_folders())


RUN_SERVICE = r"""
import json, os, runpy, sys
import uvicorn

def run(app, **kw):          # instead of serving: what it would serve, and with which settings
    print("UVICORN=" + json.dumps({"app": app, "host": kw["host"], "port": kw["port"],
                                   "settings": json.loads(os.environ["MOVIE_PAIR_SERVING_SETTINGS"])}))

uvicorn.run = run
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def test_the_service_image_imports_the_service_and_starts_it_as_its_entrypoint_says(tmp_path):
    stage = STAGES[SERVICE_STAGE]
    closure = sorted(imported_modules([SERVICE_MODULE]))
    failures = import_in_image(stage, [SERVICE_MODULE, *closure], tmp_path / "imports")
    assert not failures, f"not importable from the service image's copy: {failures}"
    # Its ENTRYPOINT, `python -m serving.serve <flags>`, in the copy, uvicorn.run recorded.
    command = [*(stage.entrypoint or []), *(stage.cmd or [])]
    workdir = image_copy(stage, tmp_path / "run")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **stage.env,
           "PYTHONPATH": str(tmp_path / "run" / stage.env["PYTHONPATH"].lstrip("/")), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", RUN_SERVICE, *command[2:]], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("UVICORN=")]
    assert proc.returncode == 0 and lines, f"exit {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    started = json.loads(lines[-1].removeprefix("UVICORN="))
    assert started["app"] == "serving.serve:app_from_environment"
    assert (started["host"], started["port"]) == ("0.0.0.0", 8000)
    assert started["settings"]["work_dir"] == "/work"
