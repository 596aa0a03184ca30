"""create_pipeline: the component graph, read top to bottom as docs/DESIGN.md draws it.

CsvExampleGen -> StatisticsGen -> ImportSchemaGen (curated schema) -> ExampleValidator
-> AnomalyGate -> Transform -> BaselineTrainer (SVD++) -> Trainer (the rating model over the
baseline, and the sequence model) -> Evaluator (TFMA: test split, both models, per slice)
and BlessingGate (paired bootstrap vs the baseline and the last blessed model; with the
runner's RankingEvaluator, the pair ranker not below popularity and EASE) -> Pusher.
With the RankingEvaluator the Pusher pushes its `ranked_model`, the Trainer's model with the
pair ranker's settings chosen on eval as assets.extra/ranking.json and its EASE matrix as
assets.extra/ease.npz, so that a pushed version serves the same wherever it is copied
(docs/SERVING.md); without it, the Trainer's model, whose ranking.json says "rating only"
(the service then ranks by the predicted rating alone, and says so).
On Kubeflow (config.infra_validation) an InfraValidator also loads the trained model in TF
Serving on Kubernetes and queries it with test-split examples before the Pusher.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components.anomaly_gate import AnomalyGate
from components.blessing_gate import BlessingGate
from components.infra_validation import InfraValidator
from pipeline.config import PipelineConfig, baseline_shared_code_version
from trainer_fn.known_ratings import CONFIG_KEY as KNOWN_RATINGS
from transform_fn import features as F
from transform_fn.features import PREDICTION_KEY, SPLITS

JUDGED_SPLIT = F.TEST_SPLIT    # the split the Evaluator and the gate judge (eval is for choosing)
# Metrics are reported overall and per slice; the blessing thresholds judge the overall slice.
# Each slicing spec costs TFMA about as much as the unsliced pass (measured on 18.5k test rows:
# 12 s unsliced, 40 s with six specs), so only the slices a decision reads are computed: pair
# vs single user, the target's primary genre, padded (new user) vs full history.
SLICE_FEATURES = (F.EXAMPLE_KIND, F.MOVIE_PRIMARY_GENRE, F.HISTORY_PADDED)
# The same user code as the module files, by import path, for an image that installs the project.
PREPROCESSING_FN = "transform_fn.preprocessing.preprocessing_fn"
RUN_FN = "trainer_fn.run.run_fn"
BASELINE_RUN_FN = "trainer_fn.baseline.run.run_fn"
INFRA_VALIDATION_EXAMPLES = 10      # test-split tf.Examples sent to the model server


def _module(module_file: str | None, function_key: str, function: str) -> dict:
    return {"module_file": module_file} if module_file else {function_key: function}


def eval_config() -> tfma.EvalConfig:
    """RMSE, MAE, MSE and count on the test split, overall and per slice, for the candidate
    and (as TFMA's baseline) the strong classical model. The blessing is BlessingGate's."""
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(name=name, signature_name=F.SERVING_DEFAULT, label_key=F.LABEL,
                                    prediction_key=PREDICTION_KEY, is_baseline=is_baseline)
                     for name, is_baseline in (("candidate", False), ("baseline", True))],
        slicing_specs=[tfma.SlicingSpec()] + [tfma.SlicingSpec(feature_keys=[f]) for f in SLICE_FEATURES],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name=name) for name in
            ("ExampleCount", "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError")])],
    )


def infra_validator(config: PipelineConfig, examples, model) -> InfraValidator:
    """LoadAndQuery in TF Serving (config.tensorflow_serving_tags) on the cluster's Kubernetes:
    the model must load and answer serving_default requests built from the test split.
    tfx's component under a class KFP v2 compiles (components/infra_validation.py)."""
    return InfraValidator(
        model=model, examples=examples,
        serving_spec=tfx.proto.ServingSpec(
            tensorflow_serving=tfx.proto.TensorFlowServing(tags=list(config.tensorflow_serving_tags)),
            kubernetes=tfx.proto.KubernetesConfig()),
        validation_spec=tfx.proto.ValidationSpec(max_loading_time_seconds=300, num_tries=3),
        request_spec=tfx.proto.RequestSpec(
            tensorflow_serving=tfx.proto.TensorFlowServingRequestSpec(signature_names=[F.SERVING_DEFAULT]),
            split_name=JUDGED_SPLIT, num_examples=INFRA_VALIDATION_EXAMPLES))


def create_pipeline(config: PipelineConfig, ranking_evaluator=None) -> tfx.dsl.Pipeline:
    """ranking_evaluator: a factory (model, baseline_model, data_root, most_rated=) -> component whose
    `evaluation` output the BlessingGate requires and whose `ranked_model` output (the
    Trainer's model plus the ranker's settings) the Pusher pushes (serving/ranking_evaluator.py;
    the runners pass it, so that this module imports nothing from the serving layer above it)."""
    example_gen = tfx.components.CsvExampleGen(
        input_base=config.data_root,
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name=split, pattern=f"{split}/*.csv") for split in SPLITS]))

    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_file)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"])
    anomaly_gate = AnomalyGate(anomalies=example_validator.outputs["anomalies"])

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        # Only the Trainers read transformed rows (train and eval); the Evaluator and the gate
        # read the raw test split through the model's own Transform graph. StatisticsGen has
        # already described the raw data: Transform's own TFDV passes would double its time.
        splits_config=tfx.proto.SplitsConfig(analyze=[F.TRAIN_SPLIT], transform=[F.TRAIN_SPLIT, F.EVAL_SPLIT]),
        disable_statistics=True,
        **_module(config.transform_module, "preprocessing_fn", PREPROCESSING_FN))
    transform.add_upstream_node(anomaly_gate)

    trainer_inputs = dict(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=[F.TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[F.EVAL_SPLIT]))
    # Both Trainers also read every train and eval rating (not only those in a row) from the
    # prepared folder's ratings file: trainer_fn/known_ratings.py.
    known = {KNOWN_RATINGS: os.path.join(config.data_root, F.RATINGS_FILE)}
    baseline_trainer = tfx.components.Trainer(
        **_module(config.baseline_module, "run_fn", BASELINE_RUN_FN), **trainer_inputs,
        custom_config={"baseline": dataclasses.asdict(config.baseline_params),
                       "shared_code": baseline_shared_code_version(), **known}).with_id("BaselineTrainer")
    # The rating model is built over the baseline: it reads its tables.
    trainer = tfx.components.Trainer(
        **_module(config.trainer_module, "run_fn", RUN_FN), **trainer_inputs,
        base_model=baseline_trainer.outputs["model"],
        custom_config={"hparams": dataclasses.asdict(config.hparams), "data_identity": config.data_identity,
                       **known})

    last_blessed = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        # Only the gate's blessings count.
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing,
                                       producer_component_id="BlessingGate", output_key="blessing"),
    ).with_id("latest_blessed_model_resolver")

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_trainer.outputs["model"],
        eval_config=eval_config(),
        example_splits=[JUDGED_SPLIT])
    ranking = (ranking_evaluator(trainer.outputs["model"], baseline_trainer.outputs["model"], config.data_root,
                                 most_rated=config.ease_most_rated)
               if ranking_evaluator is not None else None)
    blessing_gate = BlessingGate(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=baseline_trainer.outputs["model"], last_blessed_model=last_blessed.outputs["model"],
        split=JUDGED_SPLIT, baseline_margin=config.baseline_margin, change_tolerance=config.rmse_change_tolerance,
        force_push=config.force_push,
        rmse_upper_bound=config.rmse_upper_bound, resamples=config.bootstrap_resamples,
        data_identity=config.data_identity,
        ranking=ranking.outputs["evaluation"] if ranking is not None else None)

    infra = (infra_validator(config, example_gen.outputs["examples"], trainer.outputs["model"])
             if config.infra_validation else None)
    # The gate and the InfraValidator judge the Trainer's model; what is pushed is that model
    # with the ranker's settings and EASE matrix it was evaluated with (byte-identical but for
    # those two files).
    pusher = tfx.components.Pusher(
        model=ranking.outputs["ranked_model"] if ranking is not None else trainer.outputs["model"],
        model_blessing=blessing_gate.outputs["blessing"],
        infra_blessing=infra.outputs["blessing"] if infra else None,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_model_dir)))

    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=[example_gen, statistics_gen, schema_gen, example_validator, anomaly_gate,
                    transform, baseline_trainer, trainer, last_blessed, evaluator, *([ranking] if ranking else []),
                    blessing_gate,
                    *([infra] if infra else []), pusher],
        enable_cache=config.enable_cache,
        metadata_connection_config=(
            tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
            if config.metadata_path else None),
        beam_pipeline_args=config.beam_pipeline_args,
    )
