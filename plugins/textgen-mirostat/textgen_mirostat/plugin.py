"""The entry point: registers ``mirostat``, ``mirostat_v1`` and ``repetition_penalty``."""

from textgen.hookspecs import hookimpl
from textgen_mirostat.samplers import MirostatSampler, RepetitionPenaltySampler
from textgen_mirostat.v1 import MirostatV1Sampler

textgen_plugin_api = 1


@hookimpl
def register_samplers(register):
    register("mirostat", MirostatSampler)
    register("mirostat_v1", MirostatV1Sampler)
    register("repetition_penalty", RepetitionPenaltySampler)
