"""``keras.ops`` (and ``tensorflow``), imported on first use: stage modules import these, not
Keras, so that registering a stage (``textgen --help``, ``textgen plugins``, ``textgen
validate``) never loads TensorFlow. Inside the decoding loop an attribute is looked up once,
while tracing.
"""

from __future__ import annotations

import importlib
from typing import Any


class _Lazy:
    """Forwards every attribute to a module, importing it the first time."""

    def __init__(self, module: str) -> None:
        self._name = module

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self._name), name)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self._name))


ops: Any = _Lazy("keras.ops")
tf: Any = _Lazy("tensorflow")
