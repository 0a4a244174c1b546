"""Truncation sampling stages for textgen: top-k, top-p (nucleus), min-p, typical, epsilon, eta,
top-H and top-n-sigma."""

from textgen_truncation.cutoffs import EpsilonSampler, EtaSampler, TopHSampler, TopNSigmaSampler
from textgen_truncation.samplers import MinPSampler, TopKSampler, TopPSampler, TypicalSampler

__all__ = ["EpsilonSampler", "EtaSampler", "MinPSampler", "TopHSampler", "TopKSampler",
           "TopNSigmaSampler", "TopPSampler", "TypicalSampler"]
