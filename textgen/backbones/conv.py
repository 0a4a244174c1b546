"""The causal dilated Conv1D backbone (WaveNet / TCN style) with cached one-step generation.

``call`` runs ``keras.layers.Conv1D(padding="causal")`` over the whole sequence. ``step`` is the
"fast WaveNet" method (Paine et al. 2016): each block keeps a queue of its last
``(kernel_size - 1) * dilation`` conv inputs, so a new character costs one step per block with
the same kernel weights instead of recomputing the whole receptive field.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from textgen.backbones.base import Backbone, Cache
from textgen.backbones.params import ConvParams, receptive_field


@keras.saving.register_keras_serializable(package="textgen")
class ConvBackbone(Backbone):
    """Input projection, then residual blocks: causal dilated conv, act, [norm], 1x1, add."""

    Params = ConvParams
    carries_state = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        p = self.params
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

    @property
    def receptive_field(self) -> int:
        p = self.params
        return receptive_field(p.kernel_size, p.dilations, p.repeats)

    def describe(self) -> str:
        p = self.params
        return (f"receptive field {self.receptive_field} ({len(self.convs)} {p.activation} blocks, "
                f"kernel {p.kernel_size}, dilations {p.dilations} x{p.repeats})")

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        self.proj.build(shape)
        shape = (*shape[:-1], self.params.filters)
        for i, conv in enumerate(self.convs):
            conv.build(shape)
            if self.norms:
                self.norms[i].build(shape)
            self.mixes[i].build(shape)

    def _block_tail(self, i: int, h: Any, training: bool | None) -> Any:
        """Activation, optional norm, dropout and the 1x1 mix of block ``i``'s conv output."""
        if self.params.activation == "gated":
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

    def run(self, x: Any, state: Cache, training: bool | None = None) -> tuple[Any, Cache]:
        """``call`` with each block's queue (as ``step``'s) in place of the causal zeros: the
        same number of products, and every position sees a whole receptive field of text."""
        x = self.proj(x)
        last = []
        for i, (conv, queue) in enumerate(zip(self.convs, state, strict=True)):
            padded = ops.concatenate([ops.cast(queue, x.dtype), x], axis=1)
            h = ops.conv(padded, ops.cast(conv.kernel, x.dtype), padding="valid",
                         dilation_rate=conv.dilation_rate)
            last.append(padded[:, ops.shape(padded)[1] - ops.shape(queue)[1]:])
            x = x + self._block_tail(i, h + ops.cast(conv.bias, x.dtype), training)
        return x, tuple(last)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return (*tuple(input_shape)[:-1], self.params.filters)

    def initial_cache(self, batch_size: int) -> Cache:
        """One zero queue ``[batch, (kernel_size - 1) * dilation, filters]`` per block."""
        k, f = self.params.kernel_size, self.params.filters
        return tuple(ops.zeros((batch_size, (k - 1) * d, f), dtype=self.proj.compute_dtype)
                     for d in self.block_dilations)

    def step(self, x: Any, cache: Cache) -> tuple[Any, Cache]:
        k, f = self.params.kernel_size, self.params.filters
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
