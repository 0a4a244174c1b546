"""Truncation sampling stages for textgen: top-k, top-p (nucleus), min-p and typical."""

from textgen_truncation.samplers import MinPSampler, TopKSampler, TopPSampler, TypicalSampler

__all__ = ["MinPSampler", "TopKSampler", "TopPSampler", "TypicalSampler"]
