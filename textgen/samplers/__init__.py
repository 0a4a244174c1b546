"""Samplers: stages that reshape a batch of next-character logits before the engine draws.

What a stage module needs: ``Sampler`` to subclass, ``keep_mask`` and ``ops`` (``keras.ops``,
imported on first use, so that registering a stage does not load TensorFlow).
"""

from textgen.samplers.base import (
    NEG_INF,
    Sampler,
    SamplerChain,
    State,
    entropy_bits,
    keep_mask,
    likely_rank,
)
from textgen.samplers.ops import ops

__all__ = ["NEG_INF", "Sampler", "SamplerChain", "State", "entropy_bits", "keep_mask",
           "likely_rank", "ops"]
