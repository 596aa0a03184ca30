"""The HTML report of a pipeline run and its plots."""

import common  # noqa: F401  (legacy Keras before TensorFlow is imported)
