"""The TFX pipeline: create_pipeline, its config, and the runners.

tf.Transform's layer is a Keras 2 model, and TensorFlow binds its Keras at first import:
every entry point under this package (`python -m pipeline.recommend`, ...) therefore
starts with legacy Keras unless the caller chose otherwise. The Makefile exports it too.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
