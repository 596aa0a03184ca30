"""AnomalyGate: stops the run when ExampleValidator found anomalies in any split.

ExampleValidator only writes its anomalies; nothing downstream reads them. Transform is
made to depend on this gate, so a data problem stops the run before training, with the
anomalies named in the error.
"""


import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact_utils


def read_anomalies(uri: str, split_names: str) -> dict:
    """split -> one line per anomaly ('feature: description'), empty lists when clean.

    uri and split_names (TFX's JSON list) are those of an ExampleAnomalies artifact.
    """
    found = {}
    for split in artifact_utils.decode_split_names(split_names):
        path = os.path.join(uri, f"Split-{split}", "SchemaDiff.pb")
        proto = anomalies_pb2.Anomalies.FromString(tf.io.gfile.GFile(path, "rb").read())
        lines = [f"{feature}: {info.short_description} ({info.description})"
                 for feature, info in sorted(proto.anomaly_info.items())]
        if proto.HasField("dataset_anomaly_info"):
            info = proto.dataset_anomaly_info
            lines.append(f"<dataset>: {info.short_description} ({info.description})")
        found[split] = lines
    return found


class DataAnomaliesError(RuntimeError):
    pass


@tfx.dsl.components.component
def AnomalyGate(
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
) -> None:
    found = read_anomalies(anomalies.uri, anomalies.split_names)
    bad = {split: lines for split, lines in found.items() if lines}
    if bad:
        report = "; ".join(f"split {split}: " + "; ".join(lines) for split, lines in bad.items())
        raise DataAnomaliesError(f"ExampleValidator found anomalies, stopping before Transform: {report}")
