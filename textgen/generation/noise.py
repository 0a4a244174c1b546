"""Counter-based Gumbel noise: a pure function of (seed, step, symbol), so each sample's randomness
depends on its own seed alone, not on its batch, its row or what else runs beside it.

Rows that share a seed share their noise: that is the "coupled" comparison, where sampler
settings differ by the sampler alone and not by luck. The hash (lowbias32) and the stages' own
streams of it are in ``textgen.samplers.noise``.
"""

from __future__ import annotations

import tensorflow as tf

from textgen.samplers.noise import row_key, to_unit


def uniform(seeds: tf.Tensor, step: tf.Tensor, vocab_size: int) -> tf.Tensor:
    """Uniform floats in (0, 1), ``[batch, vocab]``, from ``seeds`` ``[batch]`` at ``step``."""
    return to_unit(row_key(seeds, step), vocab_size)


def gumbel(seeds: tf.Tensor, step: tf.Tensor, vocab_size: int) -> tf.Tensor:
    """Standard Gumbel noise: ``argmax(logits + gumbel)`` draws from ``softmax(logits)``."""
    return -tf.math.log(-tf.math.log(uniform(seeds, step, vocab_size)))
