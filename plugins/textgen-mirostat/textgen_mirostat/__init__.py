"""Stateful sampling stages for textgen: mirostat v2 and a CTRL-style repetition penalty."""

from textgen_mirostat.samplers import MirostatSampler, RepetitionPenaltySampler

__all__ = ["MirostatSampler", "RepetitionPenaltySampler"]
