"""The TFX pipeline: create_pipeline, its config, and the MLMD lookup of its runs."""

import common  # noqa: F401  (legacy Keras before TensorFlow is imported)
