"""Prepared CSV rows -> serialized tf.Examples typed by the curated schema.

This is what a client of the serving signature sends: the raw features of a pair row,
without the label.
"""

from __future__ import annotations

import pandas as pd
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2

from pipeline.config import PipelineConfig


def load_schema(path: str = PipelineConfig.schema_file) -> schema_pb2.Schema:
    from google.protobuf import text_format

    return text_format.Parse(tf.io.gfile.GFile(path).read(), schema_pb2.Schema())


def serialize(frame: pd.DataFrame, schema: schema_pb2.Schema | None = None, drop=("label",)) -> list[bytes]:
    schema = schema or load_schema()
    types = {f.name: f.type for f in schema.feature if f.name not in drop}
    out = []
    for row in frame.to_dict("records"):
        example = tf.train.Example()
        for name, kind in types.items():
            feature = example.features.feature[name]
            value = row[name]
            if kind == schema_pb2.INT:
                feature.int64_list.value.append(int(value))
            elif kind == schema_pb2.FLOAT:
                feature.float_list.value.append(float(value))
            else:
                feature.bytes_list.value.append(str(value).encode("utf-8"))
        out.append(example.SerializeToString())
    return out
