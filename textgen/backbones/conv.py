"""The causal dilated Conv1D backbone (WaveNet / TCN style) with cached one-step generation.

``call`` runs ``keras.layers.Conv1D(padding="causal")`` over the whole sequence. ``step`` is the
"fast WaveNet" method (Paine et al. 2016): each block keeps a queue of its last
``(kernel_size - 1) * dilation`` conv inputs, so a new character costs one step per block with
the same kernel weights instead of recomputing the whole receptive field.
"""

from __future__ import annotations

from typing import Any, Literal

import keras
from keras import ops
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from textgen.backbones.base import Backbone, Cache


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
    """Characters an output can see: ``1 + repeats * sum((kernel_size - 1) * d)``."""
    return 1 + repeats * sum((kernel_size - 1) * d for d in dilations)


@keras.saving.register_keras_serializable(package="textgen")
class ConvBackbone(Backbone):
    """Input projection, then residual blocks: causal dilated conv, act, [norm], 1x1, add."""

    name_in_registry = "conv"
    Params = ConvParams

    def __init__(self, filters: int = 128, kernel_size: int = 2,
                 dilations: list[int] | tuple[int, ...] = (1, 2, 4, 8, 16, 32), repeats: int = 1,
                 activation: str = "relu", dropout: float = 0.0, norm: str = "none",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        p = ConvParams(filters=filters, kernel_size=kernel_size, dilations=list(dilations),
                       repeats=repeats, activation=activation, dropout=dropout, norm=norm)
        self.spec = p
        self.block_dilations = p.dilations * p.repeats
        gated = p.activation == "gated"
        self.proj = keras.layers.Dense(p.filters, name="proj")
        # Gated blocks use one conv with 2 * filters outputs, split into tanh and sigmoid halves.
        self.convs = [keras.layers.Conv1D(p.filters * (2 if gated else 1), p.kernel_size,
                                          dilation_rate=d, padding="causal", name=f"conv_{i}")
                      for i, d in enumerate(self.block_dilations)]
        self.norms = ([keras.layers.LayerNormalization(name=f"norm_{i}")
                       for i in range(len(self.convs))] if p.norm == "layer" else [])
        self.mixes = [keras.layers.Dense(p.filters, name=f"mix_{i}")
                      for i in range(len(self.convs))]
        self.drop = keras.layers.Dropout(p.dropout) if p.dropout > 0 else None

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self.spec.model_dump()}

    @property
    def units(self) -> int:
        return self.spec.filters

    @property
    def receptive_field(self) -> int:
        p = self.spec
        return receptive_field(p.kernel_size, p.dilations, p.repeats)

    def describe(self) -> str:
        p = self.spec
        return (f"receptive field {self.receptive_field} ({len(self.convs)} {p.activation} blocks, "
                f"kernel {p.kernel_size}, dilations {p.dilations} x{p.repeats})")

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        self.proj.build(shape)
        shape = (*shape[:-1], self.spec.filters)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            if self.norms:
                self.norms[i].build(shape)
            self.mixes[i].build(shape)

    def _block_tail(self, i: int, h: Any, training: bool | None) -> Any:
        """Activation, optional norm, dropout and the 1x1 mix of block ``i``'s conv output."""
        if self.spec.activation == "gated":
            a, b = ops.split(h, 2, axis=-1)
            h = ops.tanh(a) * ops.sigmoid(b)
        else:
            h = ops.relu(h)
        if self.norms:
            h = self.norms[i](h)
        if self.drop is not None:
            h = self.drop(h, training=training)
        return self.mixes[i](h)

    def call(self, x: Any, training: bool | None = None) -> Any:
        x = self.proj(x)
        for i, conv in enumerate(self.convs):
            x = x + self._block_tail(i, conv(x), training)
        return x

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*tuple(input_shape)[:-1], self.spec.filters)

    def initial_cache(self, batch_size: int) -> Cache:
        """One zero queue ``[batch, (kernel_size - 1) * dilation, filters]`` per block."""
        k, f = self.spec.kernel_size, self.spec.filters
        return tuple(ops.zeros((batch_size, (k - 1) * d, f), dtype=self.proj.compute_dtype)
                     for d in self.block_dilations)

    def step(self, x: Any, cache: Cache) -> tuple[Any, Cache]:
        k, f = self.spec.kernel_size, self.spec.filters
        if len(cache) != len(self.convs):
            raise ValueError(f"conv backbone step: cache has {len(cache)} queues, expected one "
                             f"per block ({len(self.convs)}); start from initial_cache()")
        if not self.built:  # stepping a fresh layer: build it as the first call would
            self.build((None, None, x.shape[-1]))
        x = self.proj(x)
        new_cache = []
        blocks = zip(self.convs, cache, self.block_dilations, strict=True)
        for i, (conv, queue, d) in enumerate(blocks):
            # queue[:, j] is the input (k-1)*d - j steps back; the taps are every d-th entry.
            taps = ops.reshape(queue, (-1, k - 1, d, f))[:, :, 0]
            window = ops.concatenate([taps, ops.expand_dims(x, 1)], axis=1)  # [batch, k, f]
            kernel = ops.cast(ops.reshape(conv.kernel, (k * f, -1)), x.dtype)
            h = ops.matmul(ops.reshape(window, (-1, k * f)), kernel)
            h = h + ops.cast(conv.bias, x.dtype)
            new_cache.append(ops.concatenate([queue[:, 1:], ops.expand_dims(x, 1)], axis=1))
            x = x + self._block_tail(i, h, False)
        return x, tuple(new_cache)
