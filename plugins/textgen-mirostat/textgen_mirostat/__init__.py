"""Stateful sampling stages for textgen: mirostat v2 and v1 and a CTRL-style repetition penalty."""

from textgen_mirostat.samplers import MirostatSampler, RepetitionPenaltySampler
from textgen_mirostat.v1 import MirostatV1Sampler

__all__ = ["MirostatSampler", "MirostatV1Sampler", "RepetitionPenaltySampler"]
