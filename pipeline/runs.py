"""What the last pipeline run did, read back from MLMD and the Evaluator's output.

ml_metadata and TFMA are imported where they are used, so that importing this module (as
the runners do before parsing their arguments) stays cheap.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class ComponentRun:
    component: str
    state: str            # COMPLETE, CACHED, FAILED, ...
    started: float        # seconds since the epoch (MLMD's create time)
    ended: float          # seconds since the epoch (MLMD's last update)
    outputs: dict         # output key -> list of artifacts
    properties: dict = dataclasses.field(default_factory=dict)   # execution properties

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclasses.dataclass
class RunSummary:
    run_id: str
    components: dict[str, ComponentRun]

    def output(self, component: str, key: str):
        run = self.components.get(component)
        artifacts = run.outputs.get(key, []) if run else []
        return artifacts[0] if artifacts else None

    def blessed(self, component: str = "BlessingGate") -> bool:
        """The pipeline's decision (BlessingGate), or one Evaluator's half of it."""
        blessing = self.output(component, "blessing")
        return bool(blessing and blessing.custom_properties["blessed"].int_value == 1)

    def comparison(self) -> dict | None:
        """BlessingGate's records: checks (metric, bound, value, passed) and intervals."""
        from components.blessing_gate import read_comparison

        blessing = self.output("BlessingGate", "blessing")
        return read_comparison(blessing.uri) if blessing else None

    def pushed_path(self) -> str | None:
        pushed = self.output("Pusher", "pushed_model")
        if pushed and pushed.custom_properties["pushed"].int_value == 1:
            return pushed.custom_properties["pushed_destination"].string_value
        return None


def store(metadata_path: str):
    """A read-only ml_metadata.MetadataStore on a local SQLite MLMD file."""
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return mlmd.MetadataStore(config)


def latest_run(metadata_path: str, pipeline_name: str) -> RunSummary:
    s = store(metadata_path)
    pipeline = s.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        raise LookupError(f"no pipeline {pipeline_name!r} in {metadata_path}")
    run_type = s.get_context_type("pipeline_run").id
    runs = [c for c in s.get_children_contexts_by_context(pipeline.id) if c.type_id == run_type]
    if not runs:
        raise LookupError(f"pipeline {pipeline_name!r} in {metadata_path} has no runs")
    run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
    return _summary(s, run, pipeline_name)


def pushing_run(metadata_path: str, pipeline_name: str, destination: str) -> RunSummary | None:
    """The run whose Pusher pushed the model to `destination` (a serving version folder)."""
    s = store(metadata_path)
    run_type = s.get_context_type("pipeline_run").id
    for artifact in s.get_artifacts_by_type("PushedModel"):
        prop = artifact.custom_properties.get("pushed_destination")
        if prop is None or prop.string_value != str(destination):
            continue
        for event in s.get_events_by_artifact_ids([artifact.id]):
            for context in s.get_contexts_by_execution(event.execution_id):
                if context.type_id == run_type:
                    return _summary(s, context, pipeline_name)
    return None


def _summary(s, run, pipeline_name: str) -> RunSummary:
    from ml_metadata.proto import metadata_store_pb2

    states = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
    executions = s.get_executions_by_context(run.id)
    node_of = {}
    for node in s.get_contexts_by_type("node"):
        prefix = f"{pipeline_name}."
        if node.name.startswith(prefix):
            for e in s.get_executions_by_context(node.id):
                node_of[e.id] = node.name[len(prefix):]
    events = s.get_events_by_execution_ids([e.id for e in executions])
    outputs: dict[int, dict[str, list[int]]] = {}
    for ev in events:
        if ev.type == metadata_store_pb2.Event.OUTPUT:
            key = ev.path.steps[0].key if ev.path.steps else ""
            outputs.setdefault(ev.execution_id, {}).setdefault(key, []).append(ev.artifact_id)
    artifact_ids = sorted({a for per in outputs.values() for ids in per.values() for a in ids})
    artifacts = {a.id: a for a in s.get_artifacts_by_id(artifact_ids)}
    components = {}
    for e in sorted(executions, key=lambda e: e.id):
        name = node_of.get(e.id, str(e.type_id))
        components[name] = ComponentRun(
            component=name, state=states.get(e.last_known_state, str(e.last_known_state)),
            started=e.create_time_since_epoch / 1000.0, ended=e.last_update_time_since_epoch / 1000.0,
            outputs={k: [artifacts[i] for i in ids] for k, ids in outputs.get(e.id, {}).items()},
            properties={k: getattr(v, v.WhichOneof("value")) for k, v in e.custom_properties.items()
                        if v.WhichOneof("value")})
    return RunSummary(run_id=run.name, components=components)


def metrics_by_slice(evaluation_uri: str) -> dict[tuple, dict[str, float]]:
    """TFMA's metrics per slice key (() is overall). With a baseline model TFMA also stores
    each metric's difference '<name>_diff' = candidate - baseline."""
    import tensorflow_model_analysis as tfma

    out = {}
    for slice_key, metrics in tfma.load_eval_result(evaluation_uri).slicing_metrics:
        values = out.setdefault(tuple(slice_key), {})
        for by_class in metrics.values():
            for by_sub_key in by_class.values():
                values.update({k: float(v["doubleValue"]) for k, v in by_sub_key.items() if "doubleValue" in v})
    return out


def candidate_and_baseline(values: dict[str, float]) -> dict[str, dict[str, float]]:
    """One slice's TFMA values as {'candidate': {...}, 'baseline': {...}} (no 'baseline' key
    when the evaluation had no baseline model)."""
    candidate = {k: v for k, v in values.items() if not k.endswith("_diff")}
    out = {"candidate": candidate}
    diffs = {k[: -len("_diff")]: v for k, v in values.items() if k.endswith("_diff")}
    if diffs:
        out["baseline"] = {k: candidate[k] - d for k, d in diffs.items() if k in candidate}
    return out


def overall_metrics(evaluation_uri: str, slice_key: tuple = ()) -> dict[str, dict[str, float]]:
    """candidate_and_baseline for one slice (overall by default), loading the result."""
    return candidate_and_baseline(metrics_by_slice(evaluation_uri).get(slice_key, {}))
