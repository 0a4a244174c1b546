"""Counter-based uniforms: a pure function of (seed, step, stream, index), so a sample's
randomness depends on its own seed alone. The Gumbel draw (``textgen.generation.noise``) and
each stage's coins (``Sampler.noise_draws``) read different streams of the same hash, Chris
Wellons' lowbias32; rows that share a seed (coupled settings) see the same coins.
"""

from __future__ import annotations

from typing import Any

_GOLDEN = 0x9E3779B9
_COLUMN = 0x85EBCA6B
_STAGE = 0x27D4EB2F


def mix(x: Any) -> Any:
    """lowbias32: a well-mixed 32-bit integer hash of a uint32 tensor."""
    import tensorflow as tf

    u = tf.uint32
    shift = tf.bitwise.right_shift
    x = tf.bitwise.bitwise_xor(x, shift(x, tf.constant(16, u)))
    x = x * tf.constant(0x7FEB352D, u)
    x = tf.bitwise.bitwise_xor(x, shift(x, tf.constant(15, u)))
    x = x * tf.constant(0x846CA68B, u)
    return tf.bitwise.bitwise_xor(x, shift(x, tf.constant(16, u)))


def row_key(seeds: Any, step: Any) -> Any:
    """One uint32 key per row for this step: ``[batch]``."""
    import tensorflow as tf

    u = tf.uint32
    seeds, step = tf.cast(seeds, u), tf.cast(step, u)
    return mix(mix(seeds) ^ mix(step * tf.constant(_GOLDEN, u) + tf.constant(1, u)))


def to_unit(key: Any, count: int) -> Any:
    """``[batch, count]`` uniforms in (0, 1) from ``[batch]`` uint32 keys (24 bits each)."""
    import tensorflow as tf

    u = tf.uint32
    col = tf.cast(tf.range(count), u) * tf.constant(_COLUMN, u)
    bits = mix(key[:, None] ^ col[None, :])
    top24 = tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, u)), tf.float32)
    return (top24 + 0.5) / float(1 << 24)


def stage_uniform(seeds: Any, step: Any, position: int, draws: int) -> Any:
    """The coins of the stage at ``position`` in its chain: ``[batch, draws]`` in (0, 1).

    A stream apart from the Gumbel draw's (which uses the row key itself), one per position.
    """
    import tensorflow as tf

    u = tf.uint32
    stream = mix(tf.constant((position + 1) * _STAGE & 0xFFFFFFFF, u))
    return to_unit(mix(row_key(seeds, step) ^ stream), draws)
