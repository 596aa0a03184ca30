"""The runners: local Beam (run_local) and Kubeflow (run_kubeflow, kubeflow.toml). They only choose an orchestrator."""

import common  # noqa: F401  (legacy Keras before TensorFlow is imported)
