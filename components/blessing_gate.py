"""BlessingGate: one ModelBlessing that holds only when every given blessing holds.

The Evaluator compares the candidate with one baseline model at a time. The pipeline runs
it twice (against the last blessed model, and against the matrix-factorisation baseline)
and this gate blesses the candidate only when both did, so the Pusher and the
latest-blessed-model resolver see one decision.
"""

import os

import tensorflow as tf
from tfx import v1 as tfx

BLESSED, NOT_BLESSED = "BLESSED", "NOT_BLESSED"


def is_blessed(artifact) -> bool:
    return artifact.get_int_custom_property("blessed") == 1


@tfx.dsl.components.component
def BlessingGate(
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    vs_last_blessed: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    vs_baseline: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    blessing: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ModelBlessing],
) -> None:
    verdicts = {"vs_last_blessed": is_blessed(vs_last_blessed), "vs_baseline": is_blessed(vs_baseline)}
    ok = all(verdicts.values())
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    for name, verdict in verdicts.items():
        blessing.set_int_custom_property(name, int(verdict))
    blessing.set_int_custom_property("blessed", int(ok))
    tf.io.gfile.makedirs(blessing.uri)
    with tf.io.gfile.GFile(os.path.join(blessing.uri, BLESSED if ok else NOT_BLESSED), "w") as f:
        f.write("")
