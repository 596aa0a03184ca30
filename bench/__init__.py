"""Every benchmark (model quality, ranking, scale, serving, the data stage) and the BENCHMARKS.md writer."""

import common  # noqa: F401  (legacy Keras before TensorFlow is imported)
