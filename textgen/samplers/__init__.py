"""Samplers: stages that reshape a batch of next-character logits before the engine draws."""

from textgen.samplers.base import Sampler, SamplerChain, entropy_bits

__all__ = ["Sampler", "SamplerChain", "entropy_bits"]
