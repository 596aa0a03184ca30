"""PipelineConfig: everything create_pipeline needs, in one dataclass (TensorFlow-free)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

from common.layout import DEFAULT_WORK_DIR, WorkLayout
from trainer_fn.hparams import BaselineParams, HParams
from transform_fn import features as F

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_WORK = WorkLayout(Path(DEFAULT_WORK_DIR))      # the defaults: the layout under a relative ./work


@dataclasses.dataclass
class PipelineConfig:
    pipeline_name: str = F.PIPELINE_NAME
    data_root: str = str(_WORK.prepared / "default")   # prepared CSVs: train/ eval/ test/
    pipeline_root: str = str(_WORK.pipeline_root)
    metadata_path: str = str(_WORK.metadata)           # SQLite MLMD for local runs; '' for Kubeflow
    serving_model_dir: str = str(_WORK.serving_model)  # Pusher base: <dir>/<version>/
    schema_file: str = str(PROJECT_ROOT / "pipeline" / "schema" / "schema.pbtxt")
    # Module files (local runs: TFX hashes their folders, so a code change misses the cache).
    # None: call the installed package's functions instead (Kubeflow, where the image holds
    # the project and a module file would be packaged into the pipeline root at compile time).
    transform_module: str | None = str(PROJECT_ROOT / "transform_fn" / "preprocessing.py")
    trainer_module: str | None = str(PROJECT_ROOT / "trainer_fn" / "run.py")
    # The baseline in a folder of its own: TFX hashes a module file's folder, so a change to the
    # rating model (trainer_fn/*.py) re-runs the Trainer onward and not the BaselineTrainer.
    baseline_module: str | None = str(PROJECT_ROOT / "trainer_fn" / "baseline" / "run.py")
    hparams: HParams = dataclasses.field(default_factory=HParams)
    baseline_params: BaselineParams = dataclasses.field(default_factory=BaselineParams)
    # Blessing (components/blessing_gate.py), on the test split with bootstrap intervals that
    # resample users and movies: the RMSE difference to the strong baseline must lie wholly
    # below -baseline_margin; the one to the last blessed model of the same data wholly at or
    # below +rmse_change_tolerance (non-inferiority); the RMSE must be below rmse_upper_bound
    # (None: no bound).
    rmse_upper_bound: float | None = None
    rmse_change_tolerance: float = 0.005
    # What the data is, for "the same data" (the data stage's manifest key locally; '' means
    # data_root): a last blessed model that learnt from other data is not compared with.
    data_identity: str = ""
    baseline_margin: float = 0.0
    # For demos (run_local --force-push): the gate blesses whatever its checks say (it still
    # computes and records them, and that the blessing was forced); a model already pushed is
    # not pushed again.
    force_push: bool = False
    bootstrap_resamples: int = 1000
    enable_cache: bool = True
    # On Kubeflow only (run_kubeflow.py sets it; locally there is no Kubernetes): an
    # InfraValidator loads the trained model in TF Serving, one of these image tags, on the
    # cluster and sends it test-split requests; the Pusher pushes only what it blessed.
    infra_validation: bool = False
    tensorflow_serving_tags: list[str] = dataclasses.field(default_factory=lambda: ["2.19.1"])
    # Empty: Beam's default, the DirectRunner in this process (direct_running_mode in_memory).
    # With any argument TFX packages a copy of itself for remote workers before every Beam
    # component (tfx_ephemeral: 1.6 s and 52 MB each), which a local run does not use.
    beam_pipeline_args: list[str] = dataclasses.field(default_factory=list)
    # The pair ranker's EASE is fitted on at most this many of the most rated movies (why, and
    # what it costs: serving/ranking.py EASE_MOST_RATED); 0: every movie rated in train.
    ease_most_rated: int = 10_000

    def __post_init__(self):
        self.data_identity = self.data_identity or self.data_root
        if type(self.ease_most_rated) is not int or self.ease_most_rated < 0:
            raise ValueError(f"ease_most_rated must be a whole number >= 0 (0: every rated movie), "
                             f"got {self.ease_most_rated!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.pipeline_name):
            raise ValueError(f"pipeline_name must match [a-z0-9][a-z0-9-]*: {self.pipeline_name!r}")
        # Plain tables (a TOML file) become the dataclasses; unknown keys are refused there.
        if isinstance(self.hparams, dict):
            self.hparams = HParams.from_dict(self.hparams)
        if isinstance(self.baseline_params, dict):
            self.baseline_params = BaselineParams.from_dict(self.baseline_params)

    @classmethod
    def local(cls, work_dir: str | os.PathLike, data_root: str | os.PathLike, **overrides) -> "PipelineConfig":
        work = WorkLayout.at(work_dir)
        return cls(data_root=str(Path(data_root).resolve()), pipeline_root=str(work.pipeline_root),
                   metadata_path=str(work.metadata), serving_model_dir=str(work.serving_model),
                   schema_file=content_addressed_copy(Path(cls.schema_file), work.schema), **overrides)

    @classmethod
    def from_dict(cls, values: dict, where: str = "PipelineConfig") -> "PipelineConfig":
        """A config from plain values (a TOML file): field names as keys, unknown keys refused;
        the `hparams` and `baseline_params` tables are checked by HParams and BaselineParams."""
        values = dict(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{where}: unknown settings {unknown}; known: {sorted(known)}")
        return cls(**values)


BASELINE_MODULE_DIR = "trainer_fn/baseline"


def baseline_shared_code(root: Path = PROJECT_ROOT) -> tuple[str, ...]:
    """The project files outside trainer_fn/baseline/ that the BaselineTrainer runs, derived
    from the imports (every `import`/`from ... import` of the module folder, followed through
    the project's own modules, lazy ones inside functions included). Their hash goes into the
    BaselineTrainer's custom_config, so that a change to them re-runs it although its module
    folder (all TFX hashes for a module_file) is unchanged."""
    import ast

    def module_file(name: str) -> Path | None:
        base = root.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    todo = sorted((root / BASELINE_MODULE_DIR).glob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                     if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                parts = name.split(".")
                for i in range(1, len(parts) + 1):     # a package's __init__ runs too
                    found = module_file(".".join(parts[:i]))
                    if found is not None and found not in seen:
                        todo.append(found)
    inside = (root / BASELINE_MODULE_DIR).resolve()
    return tuple(sorted(str(p.relative_to(root)) for p in seen if inside not in p.resolve().parents))


def baseline_shared_code_version() -> str:
    digest = hashlib.sha256()
    for name in baseline_shared_code():
        digest.update(name.encode() + b"\0" + (PROJECT_ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def content_addressed_copy(path: Path, folder: Path) -> str:
    """A copy of path under folder/<content hash>/. ImportSchemaGen's cache key is the file's
    path, not its content: a new path per content makes an edited schema miss the cache."""
    data = path.read_bytes()
    target = folder / hashlib.sha256(data).hexdigest()[:16] / path.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return str(target)
