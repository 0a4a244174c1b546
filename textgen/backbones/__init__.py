"""Backbones: causal sequence models from embedded characters to features."""

from textgen.backbones.base import Backbone

__all__ = ["Backbone"]
