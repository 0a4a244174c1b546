"""Decoding that keeps every stage's distribution: what each stage of a chain did at each step.

The loop is the engine's (same prefill, same per-seed Gumbel noise, same chain), compiled once
per shape, but besides the drawn id it records the model's probabilities and the probabilities
after each stage, so a user (or the server's inspection view) can see how the chain reshaped
the model's distribution before the draw. Meant for one or a few rows, not bulk generation.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from textgen.generation.noise import gumbel
from textgen.model import parts, step_logits
from textgen.samplers.base import SamplerChain, entropy_bits
from textgen.samplers.noise import stage_uniform


@dataclass
class Traced:
    """Per row and generated step: the id, the model's and each stage's probabilities."""

    tokens: np.ndarray            # [batch, steps] int32
    model_probs: np.ndarray       # [batch, steps, vocab]
    stage_probs: np.ndarray       # [batch, steps, stages, vocab]
    model_entropy: np.ndarray     # [batch, steps] bits
    sampling_entropy: np.ndarray  # [batch, steps] bits, of the last stage's distribution


class StageTracer:
    """Compiles the recording loop for one model and one chain."""

    def __init__(self, model: keras.Model, chain: SamplerChain, jit_compile: bool = True) -> None:
        self.model, self.chain = model, chain
        self.vocab_size = int(model.output_shape[-1])
        self._fn = tf.function(self._trace, jit_compile=jit_compile)

    def __call__(self, prompt_ids: np.ndarray, seeds: np.ndarray, steps: int) -> Traced:
        prompt = tf.convert_to_tensor(np.asarray(prompt_ids, np.int32))
        seeds = tf.convert_to_tensor(np.asarray(seeds, np.int64) & 0xFFFFFFFF)
        return Traced(*(t.numpy() for t in self._fn(prompt, seeds, int(steps))))

    def _trace(self, prompt: tf.Tensor, seeds: tf.Tensor, steps: int):
        batch = tf.shape(prompt)[0]
        _, backbone, _ = parts(self.model)
        cache = backbone.initial_cache(batch)

        def prefill(i, cache):
            _, cache = step_logits(self.model, prompt[:, i], cache)
            return i + 1, cache

        _, cache = tf.while_loop(lambda i, _: i < tf.shape(prompt)[1] - 1, prefill, (0, cache))
        dtypes = (tf.int32, tf.float32, tf.float32, tf.float32, tf.float32)
        arrays = tuple(tf.TensorArray(dtype, size=steps) for dtype in dtypes)

        def body(t, token, cache, state, arrays):
            logits, cache = step_logits(self.model, token, cache)
            logits = tf.cast(logits, tf.float32)

            def noise(position, draws, t=t):  # the engine's per-stage coins
                return stage_uniform(seeds, t, position, draws)

            final, outputs, state = self.chain.warp(logits, state, noise)
            token = tf.argmax(final + gumbel(seeds, t, self.vocab_size), axis=-1,
                              output_type=tf.int32)
            state = self.chain.update(state, token, outputs)
            values = (token, tf.nn.softmax(logits),
                      tf.stack([tf.nn.softmax(out) for out in outputs], axis=1),
                      entropy_bits(logits), entropy_bits(final))
            arrays = tuple(a.write(t, v) for a, v in zip(arrays, values, strict=True))
            return t + 1, token, cache, state, arrays

        loop = (0, prompt[:, -1], cache, self.chain.initial_state(batch, self.vocab_size), arrays)
        *_, arrays = tf.while_loop(lambda t, *_: t < steps, body, loop)
        # [steps, batch, ...] -> [batch, steps, ...]
        return tuple(tf.experimental.numpy.moveaxis(a.stack(), 0, 1) for a in arrays)
