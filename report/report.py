"""One self-contained HTML report of the latest pipeline run, built from its artifacts.

    python -m report.report --work-dir work

Reads MLMD (executions, cache hits, artifacts), TFDV statistics, the curated schema,
ExampleValidator's anomalies, TFDV drift between train and eval/test, the TFMA result and
validation, the Trainer's per-epoch history, the candidate model's predictions on the
test split, and the ranking metrics run_local computed after the run (ranking.json, beside
the report). Writes <work>/reports/<run id>/report.html and its PNG plots, with no script
and no request outside that folder, so it opens from disk without a network.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from pathlib import Path

import jinja2
import numpy as np
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.anomaly_gate import read_anomalies
from serving import ranking as ranking_metrics
from report import plots as report_plots
from pipeline import runs as run_summary
from pipeline.config import PipelineConfig
from common.layout import DEFAULT_WORK_DIR, WorkLayout, report_dir
from pipeline.pipeline import JUDGED_SPLIT
from common.errors import UserError, run_cli
from transform_fn import features as F
from transform_fn.features import HISTORY_FILE, SPLITS, TRAIN_SPLIT

TEMPLATES = Path(__file__).resolve().parent / "templates"
DRIFT_THRESHOLD = 0.1    # L-infinity (categorical) and Jensen-Shannon (numeric) distance


# ---------------------------------------------------------------- data section

def _feature_rows(stats: statistics_pb2.DatasetFeatureStatistics) -> list[dict]:
    rows = []
    for feature in stats.features:
        name = feature.path.step[0] if feature.path.step else feature.name
        row = {"name": name, "type": statistics_pb2.FeatureNameStatistics.Type.Name(feature.type)}
        if feature.HasField("string_stats"):
            s = feature.string_stats
            common = s.common_stats
            total = max(common.num_non_missing, 1)
            row.update(distinct=s.unique, top=[(v.value, v.frequency, 100.0 * v.frequency / total)
                                                for v in s.top_values[:6]])
        else:
            s = feature.num_stats
            common = s.common_stats
            row.update(mean=s.mean, std=s.std_dev, min=s.min, max=s.max, zeros=s.num_zeros)
            hist = next((h for h in s.histograms if h.type == statistics_pb2.Histogram.STANDARD), None)
            if hist:
                peak = max((b.sample_count for b in hist.buckets), default=0) or 1
                row["histogram"] = [(b.low_value, b.high_value, b.sample_count, 100.0 * b.sample_count / peak)
                                    for b in hist.buckets]
        row.update(count=common.num_non_missing, missing=common.num_missing)
        rows.append(row)
    return sorted(rows, key=lambda r: r["name"])


def _schema_rows(schema: schema_pb2.Schema) -> list[dict]:
    domains = {d.name: list(d.value) for d in schema.string_domain}
    rows = []
    for f in schema.feature:
        if f.HasField("int_domain"):
            domain = f"{f.int_domain.min if f.int_domain.HasField('min') else ''}..{f.int_domain.max if f.int_domain.HasField('max') else ''}"
        elif f.HasField("float_domain"):
            domain = f"{f.float_domain.min:g}..{f.float_domain.max:g}"
        elif f.domain:
            domain = ", ".join(domains.get(f.domain, []))
        else:
            domain = "none (open set: new values map to OOV buckets)"
        rows.append({"name": f.name, "type": schema_pb2.FeatureType.Name(f.type), "domain": domain,
                     "presence": f.presence.min_fraction,
                     "not_in": ", ".join(f.not_in_environment) or "-"})
    return rows


def _drift(schema: schema_pb2.Schema, train, other) -> list[dict]:
    """TFDV's drift comparators, every feature, between train and another split."""
    schema = schema_pb2.Schema.FromString(schema.SerializeToString())
    for f in schema.feature:
        if f.type == schema_pb2.BYTES:
            f.drift_comparator.infinity_norm.threshold = DRIFT_THRESHOLD
        else:
            f.drift_comparator.jensen_shannon_divergence.threshold = DRIFT_THRESHOLD
    anomalies = tfdv.validate_statistics(other, schema, previous_statistics=train)
    rows = []
    for info in anomalies.drift_skew_info:
        for m in info.drift_measurements:
            rows.append({"feature": info.path.step[0], "measure": m.Type.Name(m.type).replace("_", " ").lower(),
                         "value": m.value, "threshold": m.threshold, "flagged": m.value > m.threshold})
    return sorted(rows, key=lambda r: (-r["value"], r["feature"]))


def data_section(run: run_summary.RunSummary) -> dict:
    section: dict = {"splits": [], "schema": [], "anomalies": {}, "drift": {}}
    statistics = run.output("StatisticsGen", "statistics")
    schema_artifact = run.output("ImportSchemaGen", "schema")
    anomalies = run.output("ExampleValidator", "anomalies")
    if not statistics:
        return section
    stats = {}
    for split in SPLITS:
        path = os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb")
        stats[split] = tfdv.load_stats_binary(path)
        dataset = stats[split].datasets[0]
        section["splits"].append({"name": split, "examples": dataset.num_examples,
                                  "features": _feature_rows(dataset)})
    if schema_artifact:
        schema = tfdv.load_schema_text(os.path.join(schema_artifact.uri, "schema.pbtxt"))
        section["schema"] = _schema_rows(schema)
        for split in SPLITS[1:]:
            section["drift"][split] = _drift(schema, stats[TRAIN_SPLIT], stats[split])
    if anomalies:
        section["anomalies"] = read_anomalies(anomalies.uri, anomalies.properties["split_names"].string_value)
    return section


# ---------------------------------------------------------------- model section

def _slices(by_slice: dict[tuple, dict[str, float]]) -> list[dict]:
    """Table rows from run_summary.metrics_by_slice's result, overall first."""
    rows = []
    for slice_key, values in by_slice.items():
        name = "overall" if slice_key == () else ", ".join(f"{k} = {v}" for k, v in slice_key)
        split = run_summary.candidate_and_baseline(values)
        candidate = split["candidate"]
        rows.append({"slice": name, "overall": slice_key == (),
                     "count": candidate.get("example_count", 0),
                     "rmse": candidate.get("root_mean_squared_error"),
                     "mae": candidate.get("mean_absolute_error"),
                     "mse": candidate.get("mean_squared_error"),
                     "baseline_rmse": split.get("baseline", {}).get("root_mean_squared_error")})
    rows.sort(key=lambda r: (not r["overall"], r["slice"]))
    return rows


def _checks(comparison: dict) -> list[dict]:
    """BlessingGate's records, one table row each."""
    rows = []
    for c in comparison.get("checks", []):
        interval = c.get("interval")
        rows.append({"kind": c["name"], "metric": c["metric"], "bound": f"{c['relation']} {c['bound']:+.4f}",
                     "value": c["value"], "passed": c["passed"],
                     "interval": f"[{interval[0]:+.4f}, {interval[1]:+.4f}]" if interval else "-"})
    if not comparison.get("last_blessed_model"):
        rows.append({"kind": "not worse than the last blessed model", "metric": "-", "bound": "not applied: "
                     "no blessed model yet", "value": None, "passed": True, "interval": "-"})
    return rows


def _test_predictions(run: run_summary.RunSummary) -> tuple[np.ndarray, np.ndarray] | None:
    """Labels and the candidate model's predictions on the test split's tf.Examples."""
    model = run.output("Trainer", "model")
    examples = run.output("CsvExampleGen", "examples")
    if not (model and examples):
        return None
    files = sorted(glob.glob(os.path.join(examples.uri, f"Split-{JUDGED_SPLIT}", "*")))
    serve = tf.saved_model.load(os.path.join(model.uri, F.SERVING_FORMAT)).signatures[F.SERVING_DEFAULT]
    labels, predictions = [], []
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(2048):
        parsed = tf.io.parse_example(batch, {F.LABEL: tf.io.FixedLenFeature([], tf.float32)})
        labels.append(parsed[F.LABEL].numpy())
        predictions.append(serve(examples=batch)[F.PREDICTION_KEY].numpy()[:, 0])
    return np.concatenate(labels), np.concatenate(predictions)


def model_section(run: run_summary.RunSummary, out_dir: Path, manifest: dict | None) -> dict:
    section: dict = {"blessed": run.blessed(), "pushed": run.pushed_path(), "plots": {}}
    evaluation = run.output("Evaluator", "evaluation")
    if evaluation:
        by_slice = run_summary.metrics_by_slice(evaluation.uri)
        section["slices"] = _slices(by_slice)
        overall = section["slices"][0] if section["slices"] else {}
        comparison = run.comparison()
        if comparison:
            section["thresholds"] = _checks(comparison)
            section["intervals"] = comparison.get("intervals", {})
        if manifest:
            section["mean_baseline"] = manifest["baseline"]
        if overall.get("rmse") is not None:
            section["plots"]["slices"] = report_plots.slice_rmse(section["slices"], out_dir)
    predictions = _test_predictions(run)
    if predictions is not None:
        labels, predicted = predictions
        section["plots"]["predicted_vs_actual"] = report_plots.predicted_vs_actual(labels, predicted, out_dir)
        section["plots"]["residuals"] = report_plots.residuals(labels, predicted, out_dir)
    model_run = run.output("Trainer", "model_run")
    history_path = os.path.join(model_run.uri, HISTORY_FILE) if model_run else ""
    if history_path and os.path.exists(history_path):
        history = json.loads(Path(history_path).read_text())
        section["hparams"] = history["hparams"]
        for key in ("deep_part", "recency_terms", "sequence_model"):
            if key in history:
                section[key] = history[key]
        curves = report_plots.training_curves(history["history"], out_dir)
        if curves is not None:
            section["plots"]["training"] = curves
    ranking = out_dir / ranking_metrics.RESULT_FILE
    if ranking.exists():
        section["ranking"] = json.loads(ranking.read_text())
        section["ranking_sample"] = ranking_metrics.sample_text(section["ranking"])
        section["ranking_check"] = ranking_metrics.check_text(section["ranking"])
        section["ranking_rows"] = ranking_metrics.table_rows(section["ranking"])
        section["ranking_columns"] = ranking_metrics.COLUMNS
    return section


# ---------------------------------------------------------------- the report

def build_report(metadata_path: str, pipeline_name: str, reports_dir: str | Path) -> Path:
    run = run_summary.latest_run(metadata_path, pipeline_name)
    out_dir = report_dir(reports_dir, run.run_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    example_gen = run.components.get("CsvExampleGen")
    data_root = example_gen.properties.get("input_base") if example_gen else None
    manifest_path = Path(data_root, F.MANIFEST_FILE) if data_root else None
    manifest = json.loads(manifest_path.read_text()) if manifest_path and manifest_path.exists() else None

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    html = env.get_template("report.html.j2").render(
        pipeline_name=pipeline_name, run=run, components=list(run.components.values()),
        data_root=data_root, manifest=manifest, drift_threshold=DRIFT_THRESHOLD,
        data=data_section(run), model=model_section(run, out_dir, manifest))
    path = out_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m report.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work-dir", default=DEFAULT_WORK_DIR, help="the work folder of the runs (default %(default)s)")
    p.add_argument("--pipeline-name", default=PipelineConfig.pipeline_name,
                   help="the pipeline whose latest run is reported (default %(default)s)")
    p.add_argument("--verbose", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)
    run_cli(p.prog, lambda: _main(args), verbose=args.verbose)


def _main(args) -> None:
    work = WorkLayout.at(args.work_dir)
    if not work.metadata.is_file():
        raise UserError(f"{work.metadata}: no runs recorded in this work folder; run `make run` first")
    print(build_report(str(work.metadata), args.pipeline_name, work.reports))


if __name__ == "__main__":
    main()
