"""``keras.ops``, imported on first use: stage modules import this, not Keras, so that
registering a stage (``textgen --help``, ``textgen plugins``, ``textgen validate``) never loads
TensorFlow. Inside the decoding loop an attribute is looked up once, while tracing.
"""

from __future__ import annotations

from typing import Any


class _LazyOps:
    """Forwards every attribute to ``keras.ops``, importing Keras the first time."""

    def __getattr__(self, name: str) -> Any:
        from keras import ops as keras_ops

        return getattr(keras_ops, name)

    def __dir__(self) -> list[str]:
        from keras import ops as keras_ops

        return dir(keras_ops)


ops: Any = _LazyOps()
