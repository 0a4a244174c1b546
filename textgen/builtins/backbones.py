"""Registers the built-in backbones, exactly as a third-party plugin would (lazily: the Keras
layers are imported only when a model is built)."""

from textgen.backbones.lazy import LazyBackbone
from textgen.backbones.params import ConvParams, LSTMParams
from textgen.hookspecs import hookimpl


@hookimpl
def register_backbones(register):
    register("lstm", LazyBackbone(LSTMParams, "textgen.backbones.lstm:LSTMBackbone"))
    register("conv", LazyBackbone(ConvParams, "textgen.backbones.conv:ConvBackbone"))
