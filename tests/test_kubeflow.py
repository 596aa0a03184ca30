"""The same create_pipeline compiled for Kubeflow: parseable spec, full graph, no local paths."""

import dataclasses

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline.config import PROJECT_ROOT
from pipeline.run_kubeflow import KubeflowSettings, compile_pipeline

EDGES = {
    "CsvExampleGen": set(),
    "ImportSchemaGen": set(),
    "StatisticsGen": {"CsvExampleGen"},
    "ExampleValidator": {"StatisticsGen", "ImportSchemaGen"},
    "AnomalyGate": {"ExampleValidator"},
    "Transform": {"CsvExampleGen", "ImportSchemaGen", "AnomalyGate"},
    "Trainer": {"Transform", "ImportSchemaGen", "BaselineTrainer"},
    "latest_blessed_model_resolver-model-resolver": set(),
    "latest_blessed_model_resolver-model-blessing-resolver": set(),
    "BaselineTrainer": {"Transform", "ImportSchemaGen"},
    "Evaluator": {"CsvExampleGen", "Trainer", "BaselineTrainer"},
    "BlessingGate": {"CsvExampleGen", "Trainer", "BaselineTrainer", "latest_blessed_model_resolver-model-resolver"},
    "Pusher": {"Trainer", "BlessingGate"},
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    settings = KubeflowSettings.load(PROJECT_ROOT / "pipeline" / "kubeflow.toml")
    settings = dataclasses.replace(settings, image="europe-docker.pkg.dev/p/r/recommender:test")
    path = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    job = compile_pipeline(settings, path)
    assert job["runtimeConfig"]["gcsOutputDirectory"] == settings.pipeline_root
    text = path.read_text()
    spec = json_format.ParseDict(yaml.safe_load(text), pipeline_spec_pb2.PipelineSpec())
    return settings, text, spec


def test_every_component_and_edge(compiled):
    _, _, spec = compiled
    tasks = spec.root.dag.tasks
    assert set(tasks) == set(EDGES)
    for name, upstream in EDGES.items():
        assert set(tasks[name].dependent_tasks) == upstream, name


def test_image_and_remote_locations(compiled):
    settings, text, spec = compiled
    executors = spec.deployment_spec.fields["executors"].struct_value.fields
    images = {e.struct_value.fields["container"].struct_value.fields["image"].string_value
              for e in executors.values() if "container" in e.struct_value.fields}
    assert images == {settings.image}
    assert settings.serving_model_dir in text and settings.data_root in text
    # Nothing of the machine that compiled it leaks into the spec.
    assert str(PROJECT_ROOT) not in text
    assert "/tmp/" not in text and "/root/" not in text and "metadata.sqlite" not in text


def test_local_paths_are_refused(tmp_path):
    settings = tmp_path / "k.toml"
    settings.write_text('image = "i"\npipeline_root = "/data/root"\ndata_root = "gs://b/d"\n'
                        'serving_model_dir = "gs://b/s"\n')
    with pytest.raises(ValueError, match="pipeline_root must be a remote URI"):
        KubeflowSettings.load(settings)
