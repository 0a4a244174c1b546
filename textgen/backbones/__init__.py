"""Backbones: causal sequence models from embedded characters to features.

``Backbone`` (a Keras layer) is imported on first use, so that importing this package, or
registering a backbone, does not load TensorFlow.
"""

from typing import Any

__all__ = ["Backbone"]


def __getattr__(name: str) -> Any:
    if name == "Backbone":
        from textgen.backbones.base import Backbone

        return Backbone
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
