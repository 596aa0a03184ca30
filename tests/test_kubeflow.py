"""The same create_pipeline compiled for Kubeflow: parseable spec, full graph, no local paths."""

import dataclasses
import json

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components.infra_validation import set_kfp_namespace
from pipeline.config import PROJECT_ROOT, PipelineConfig
from pipeline.pipeline import create_pipeline
from runners.run_kubeflow import KubeflowSettings, compile_pipeline

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
    "RankingEvaluator": {"Trainer", "BaselineTrainer"},
    "BlessingGate": {"CsvExampleGen", "Trainer", "BaselineTrainer", "latest_blessed_model_resolver-model-resolver",
                     "RankingEvaluator"},
    "InfraValidator": {"CsvExampleGen", "Trainer"},
    # the Pusher pushes the RankingEvaluator's copy of the model, which carries its ranker settings
    "Pusher": {"RankingEvaluator", "BlessingGate", "InfraValidator"},
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    settings = KubeflowSettings.load(PROJECT_ROOT / "runners" / "kubeflow.toml")
    settings = dataclasses.replace(settings, image="europe-docker.pkg.dev/p/r/recommender:test")
    path = tmp_path_factory.mktemp("kfp") / "pipeline.yaml"
    job = compile_pipeline(settings, path)
    assert job["runtimeConfig"]["gcsOutputDirectory"] == settings.config.pipeline_root
    text = path.read_text()
    spec = json_format.ParseDict(yaml.safe_load(text), pipeline_spec_pb2.PipelineSpec())
    return settings, text, spec


def test_every_component_and_edge(compiled):
    _, _, spec = compiled
    tasks = spec.root.dag.tasks
    assert set(tasks) == set(EDGES)
    for name, upstream in EDGES.items():
        assert set(tasks[name].dependent_tasks) == upstream, name


def test_the_infra_validator_loads_and_queries_tf_serving_on_kubernetes_before_the_pusher(compiled):
    settings, _, spec = compiled
    assert settings.config.infra_validation and settings.config.tensorflow_serving_tags == ["2.19.1"]
    tasks = spec.root.dag.tasks
    assert "InfraValidator" in tasks["Pusher"].dependent_tasks
    pusher_inputs = tasks["Pusher"].inputs.artifacts
    assert pusher_inputs["infra_blessing"].task_output_artifact.producer_task == "InfraValidator"
    assert pusher_inputs["model"].task_output_artifact.producer_task == "RankingEvaluator"
    parameters = {name: value.runtime_value.constant_value.string_value
                  for name, value in tasks["InfraValidator"].inputs.parameters.items()}
    serving = json.loads(parameters["serving_spec"])
    assert serving == {"tensorflow_serving": {"tags": ["2.19.1"]}, "kubernetes": {}}
    request = json.loads(parameters["request_spec"])
    assert request["tensorflow_serving"] == {"signature_names": ["serving_default"]}
    assert request["split_name"] == "test" and request["num_examples"] > 0          # LoadAndQuery
    assert json.loads(parameters["validation_spec"])["num_tries"] >= 1
    inputs = tasks["InfraValidator"].inputs.artifacts
    assert inputs["examples"].task_output_artifact.producer_task == "CsvExampleGen"
    assert inputs["model"].task_output_artifact.producer_task == "Trainer"
    executor = spec.deployment_spec.fields["executors"].struct_value.fields["InfraValidator_executor"]
    args = [v.string_value for v in executor.struct_value.fields["container"].struct_value.fields["args"]
            .list_value.values]
    assert args[args.index("--executor_class_path") + 1] == "components.infra_validation.Executor"


def test_the_infra_validator_takes_the_namespace_from_the_service_account(tmp_path):
    namespace = tmp_path / "namespace"
    namespace.write_text("kubeflow-user\n")
    environ = {"KFP_POD_NAME": "pod-1"}
    set_kfp_namespace(environ, str(namespace))
    assert environ == {"KFP_POD_NAME": "pod-1", "KFP_NAMESPACE": "kubeflow-user"}
    environ = {"KFP_NAMESPACE": "set-by-kfp"}
    set_kfp_namespace(environ, str(namespace))
    assert environ == {"KFP_NAMESPACE": "set-by-kfp"}
    environ = {}
    set_kfp_namespace(environ, str(tmp_path / "absent"))      # outside a cluster: left alone
    assert environ == {}


def test_the_local_pipeline_has_no_infra_validator(tmp_path):
    pipeline = create_pipeline(PipelineConfig.local(tmp_path, tmp_path / "data"))
    ids = [c.id for c in pipeline.components]
    assert "Pusher" in ids and not any("InfraValidator" in i for i in ids)
    pusher = next(c for c in pipeline.components if c.id == "Pusher")
    assert "infra_blessing" not in pusher.inputs


def test_image_and_remote_locations(compiled):
    settings, text, spec = compiled
    executors = spec.deployment_spec.fields["executors"].struct_value.fields
    images = {e.struct_value.fields["container"].struct_value.fields["image"].string_value
              for e in executors.values() if "container" in e.struct_value.fields}
    assert images == {settings.image}
    assert settings.config.serving_model_dir in text and settings.config.data_root in text
    # Nothing of the machine that compiled it leaks into the spec.
    assert str(PROJECT_ROOT) not in text
    assert "/tmp/" not in text and "/root/" not in text and "metadata.sqlite" not in text


REMOTE = 'image = "i"\npipeline_root = "gs://b/r"\ndata_root = "gs://b/d"\nserving_model_dir = "gs://b/s"\n'


def test_local_paths_are_refused(tmp_path):
    settings = tmp_path / "k.toml"
    settings.write_text(REMOTE.replace("gs://b/r", "/data/root"))
    with pytest.raises(ValueError, match="pipeline_root must be a remote URI"):
        KubeflowSettings.load(settings)


def test_settings_are_pipeline_config_fields(tmp_path):
    settings = tmp_path / "k.toml"
    settings.write_text(REMOTE + 'rmse_change_tolerance = 0.01\nbeam_pipeline_args = ["--runner=DataflowRunner"]\n'
                        '[hparams]\nepochs = 3\nhidden_units = [64, 32]\n[baseline_params]\nfactors = 8\n')
    loaded = KubeflowSettings.load(settings)
    config = loaded.config
    assert (loaded.image, loaded.project_dir_in_image) == ("i", "/pipeline")
    assert (config.pipeline_root, config.data_root, config.serving_model_dir) == ("gs://b/r", "gs://b/d", "gs://b/s")
    assert config.rmse_change_tolerance == 0.01 and config.beam_pipeline_args == ["--runner=DataflowRunner"]
    assert config.hparams.epochs == 3 and config.hparams.hidden_units == (64, 32)
    assert config.baseline_params.factors == 8 and config.baseline_params.kind == "svdpp"
    assert config.metadata_path == "" and config.trainer_module is None
    assert config.schema_file == "/pipeline/pipeline/schema/schema.pbtxt"


@pytest.mark.parametrize("extra, message", [
    ("rmse_bound = 1.0\n", r"unknown settings \['rmse_bound'\]"),
    ("metadata_path = 'x'\n", "set by the Kubeflow runner"),
    ("infra_validation = false\n", "set by the Kubeflow runner"),
    ("[hparams]\nepoch = 3\n", r"hparams: unknown keys \['epoch'\]"),
    ("[baseline_params]\nfactor = 3\n", r"baseline: unknown keys \['factor'\]"),
])
def test_unknown_settings_are_refused(tmp_path, extra, message):
    settings = tmp_path / "k.toml"
    settings.write_text(REMOTE + extra)
    with pytest.raises(ValueError, match=message):
        KubeflowSettings.load(settings)
