"""The built-in backbones' spec fields: pydantic only, so a spec is validated without Keras.

Each default is written here once; the layers take these fields as keyword arguments.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt


class LSTMParams(BaseModel):
    """Spec fields of the ``lstm`` backbone."""

    model_config = ConfigDict(extra="forbid")
    units: int = Field(128, ge=1, description="hidden units per layer (the seed uses 128)")
    layers: int = Field(1, ge=1, le=8, description="stacked LSTM layers")
    dropout: float = Field(0.0, ge=0.0, lt=1.0,
                           description="dropout on each layer's output during training, one "
                                       "mask per sequence")
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0,
                                     description="dropout on the state fed back at each step "
                                                 "during training, one mask per sequence")
    multiplicative: bool = Field(False, description="multiplicative LSTM (Krause et al. 2016): "
                                 "the gates read (W x) * (U h) instead of h, so each input "
                                 "character picks its own recurrent transition")


class ConvParams(BaseModel):
    """Spec fields of the ``conv`` backbone."""

    model_config = ConfigDict(extra="forbid")
    filters: int = Field(128, ge=1, description="channels of every block (and the output width)")
    kernel_size: int = Field(2, ge=2, le=16, description="taps per dilated convolution")
    dilations: list[PositiveInt] = Field(default_factory=lambda: [1, 2, 4, 8, 16, 32],
                                         min_length=1, description="dilation of each block")
    repeats: int = Field(1, ge=1, le=16, description="how many times to cycle the dilations")
    activation: Literal["relu", "gated"] = Field(
        "relu", description="relu, or gated: tanh(conv_a) * sigmoid(conv_b) as in WaveNet")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout in each block (training)")
    norm: Literal["none", "layer"] = Field("none", description="LayerNorm after the activation")


def receptive_field(kernel_size: int, dilations: list[int], repeats: int = 1) -> int:
    """Characters a conv backbone's output can see: ``1 + repeats * sum((kernel_size - 1) * d)``."""
    return 1 + repeats * sum((kernel_size - 1) * d for d in dilations)
