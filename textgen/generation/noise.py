"""Counter-based Gumbel noise: a pure function of (seed, step, symbol), so each sample's randomness
depends on its own seed alone, not on its batch, its row or what else runs beside it.

Rows that share a seed share their noise: that is the "coupled" comparison, where sampler
settings differ by the sampler alone and not by luck. The hash is Chris Wellons' lowbias32.
"""

from __future__ import annotations

import tensorflow as tf

_U = tf.uint32


def _mix(x: tf.Tensor) -> tf.Tensor:
    """lowbias32: a well-mixed 32-bit integer hash."""
    shift = tf.bitwise.right_shift
    x = tf.bitwise.bitwise_xor(x, shift(x, tf.constant(16, _U)))
    x = x * tf.constant(0x7FEB352D, _U)
    x = tf.bitwise.bitwise_xor(x, shift(x, tf.constant(15, _U)))
    x = x * tf.constant(0x846CA68B, _U)
    return tf.bitwise.bitwise_xor(x, shift(x, tf.constant(16, _U)))


def uniform(seeds: tf.Tensor, step: tf.Tensor, vocab_size: int) -> tf.Tensor:
    """Uniform floats in (0, 1), ``[batch, vocab]``, from ``seeds`` ``[batch]`` at ``step``."""
    seeds = tf.cast(seeds, _U)
    step = tf.cast(step, _U)
    row = _mix(_mix(seeds) ^ _mix(step * tf.constant(0x9E3779B9, _U) + tf.constant(1, _U)))
    col = tf.cast(tf.range(vocab_size), _U) * tf.constant(0x85EBCA6B, _U)
    bits = _mix(row[:, None] ^ col[None, :])
    top24 = tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, _U)), tf.float32)
    return (top24 + 0.5) / float(1 << 24)


def gumbel(seeds: tf.Tensor, step: tf.Tensor, vocab_size: int) -> tf.Tensor:
    """Standard Gumbel noise: ``argmax(logits + gumbel)`` draws from ``softmax(logits)``."""
    return -tf.math.log(-tf.math.log(uniform(seeds, step, vocab_size)))
