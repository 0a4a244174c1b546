"""Registering a backbone without importing Keras: its ``Params`` now, its layer on first use.

``register("lstm", LazyBackbone(LSTMParams, "textgen.backbones.lstm:LSTMBackbone"))`` lets
``textgen validate`` check a spec's ``backbone`` section with the pydantic model alone; the
layer class (and TensorFlow) is imported when a model is built. Registering the layer class
itself works too, for a plugin that does not mind the import.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class LazyBackbone:
    """A backbone's spec fields, and where its layer class lives (``"module:Class"``)."""

    Params: type[BaseModel]
    layer: str

    def load(self) -> Any:
        """Import and return the layer class."""
        module, _, name = self.layer.partition(":")
        return getattr(importlib.import_module(module), name)
