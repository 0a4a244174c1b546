"""Registers the built-in backbones, exactly as a third-party plugin would."""

from textgen.backbones.conv import ConvBackbone
from textgen.backbones.lstm import LSTMBackbone
from textgen.hookspecs import hookimpl


@hookimpl
def register_backbones(register):
    register(LSTMBackbone.name_in_registry, LSTMBackbone)
    register(ConvBackbone.name_in_registry, ConvBackbone)
