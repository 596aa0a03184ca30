"""InfraValidator as the Kubeflow Pipelines v2 compiler accepts it.

tfx 1.21's KubeflowV2DagRunner refuses tfx.components.InfraValidator by its class (its step
builder raises NotImplementedError), although the component is an ordinary executor. This
is the same component spec (model and examples in, an InfraBlessing out, ServingSpec,
ValidationSpec and RequestSpec) and the same executor under a class of its own, which the
compiler builds like any other container step.

The executor's Kubernetes runner starts TF Serving in a pod beside its own and needs
KFP_POD_NAME and KFP_NAMESPACE in the environment; the KFP v2 backend sets only the first,
so the executor takes the namespace from the pod's service-account token folder when it
is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

from tfx import types
from tfx.components.infra_validator import executor as infra_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts, standard_component_specs

NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def set_kfp_namespace(environ=os.environ, namespace_file: str = NAMESPACE_FILE) -> None:
    """KFP_NAMESPACE from the service account's namespace file, unless it is set already."""
    if not environ.get("KFP_NAMESPACE") and Path(namespace_file).is_file():
        environ["KFP_NAMESPACE"] = Path(namespace_file).read_text().strip()


class Executor(infra_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):
        set_kfp_namespace()
        return super().Do(input_dict, output_dict, exec_properties)


class InfraValidator(base_component.BaseComponent):
    """tfx.components.InfraValidator's spec and executor; the same arguments."""

    SPEC_CLASS = standard_component_specs.InfraValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model, serving_spec, examples=None, request_spec=None, validation_spec=None):
        super().__init__(spec=standard_component_specs.InfraValidatorSpec(
            model=model, examples=examples, blessing=types.Channel(type=standard_artifacts.InfraBlessing),
            serving_spec=serving_spec, validation_spec=validation_spec, request_spec=request_spec))
