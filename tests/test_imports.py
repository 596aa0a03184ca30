"""The house's import arrows point down: each top-level folder imports only from its own
folder and the folders below it, and the BaselineTrainer's shared-code list is derived from
its imports (no hand-kept copy to drift)."""

import ast
from pathlib import Path

import pytest

from pipeline.config import PROJECT_ROOT, baseline_shared_code

# Lowest first. A folder may import from its own rank or a lower one, never a higher one.
LAYERS = [
    {"common"},                   # layout, errors, console: no TF, no TFX
    {"transform_fn"},             # the feature contract and preprocessing_fn
    {"data", "trainer_fn"},       # the data stage; the Trainer modules
    {"components"},               # custom TFX components
    {"pipeline"},                 # create_pipeline, its config, MLMD run lookup
    {"serving"},                  # tables, retrieval, scoring, ranking metrics, service, CLI
    {"report"},                   # the HTML report
    {"runners", "bench"},         # entry points that drive everything below
]
RANK = {folder: i for i, layer in enumerate(LAYERS) for folder in layer}


def project_imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0]


def sources():
    return sorted(p for folder in RANK for p in (PROJECT_ROOT / folder).rglob("*.py"))


def test_every_source_folder_has_a_layer():
    folders = {p.parent.name for p in PROJECT_ROOT.glob("*/*.py")} - {"tests", "scripts"}
    assert folders <= set(RANK), f"folders without a layer: {sorted(folders - set(RANK))}"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_module_imports_from_a_folder_above_it(path):
    folder = path.relative_to(PROJECT_ROOT).parts[0]
    upward = sorted({name for name in project_imports(path) if RANK.get(name, -1) > RANK[folder]})
    assert not upward, f"{path.relative_to(PROJECT_ROOT)} imports from {upward}, above {folder}/"


def test_the_baseline_shared_code_is_what_its_modules_import():
    shared = baseline_shared_code()
    # Read off the module folder's imports: what the BaselineTrainer's run_fn needs beside it.
    assert {"trainer_fn/saving.py", "trainer_fn/signatures.py", "trainer_fn/hparams.py",
            "trainer_fn/progress.py", "transform_fn/features.py", "common/console.py"} <= set(shared)
    assert not any(name.startswith("trainer_fn/baseline/") for name in shared)
    # Nothing it does not import: the rating model's modules are not its code.
    assert "trainer_fn/model.py" not in shared and "trainer_fn/run.py" not in shared
