"""Registers the built-in sampler stages and decoders, exactly as a third-party plugin would."""

from textgen.generation.decoders import BeamSearch, StochasticBeamSearch
from textgen.hookspecs import hookimpl
from textgen.samplers.builtin import (
    GreedySampler,
    MultinomialSampler,
    TemperatureSampler,
    UniformSampler,
)


@hookimpl
def register_samplers(register):
    register("greedy", GreedySampler)
    register("multinomial", MultinomialSampler)
    register("temperature", TemperatureSampler)
    register("uniform", UniformSampler)


@hookimpl
def register_decoders(register):
    register("beam", BeamSearch)
    register("stochastic_beam", StochasticBeamSearch)
