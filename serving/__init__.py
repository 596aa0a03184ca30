"""The recommendation service: tables, candidate retrieval, scoring, ranking metrics, the HTTP service and the CLI."""

import common  # noqa: F401  (legacy Keras before TensorFlow is imported)
