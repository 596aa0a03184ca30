"""What every layer uses: the work-folder layout, the CLI error convention, the console.

No TensorFlow, no TFX. tf.Transform's layer is a Keras 2 model and TensorFlow binds its
Keras at first import, so every process must start with legacy Keras: importing this
package (every entry point does, through common.layout or common.errors) sets it unless
the caller chose otherwise. The Makefile and the Dockerfile export it too.
"""

import os

LEGACY_KERAS = {"TF_USE_LEGACY_KERAS": "1"}   # the environment a child process needs too
for _key, _value in LEGACY_KERAS.items():
    os.environ.setdefault(_key, _value)
