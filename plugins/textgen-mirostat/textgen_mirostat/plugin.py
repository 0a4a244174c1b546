"""The entry point: registers ``mirostat`` and ``repetition_penalty`` with textgen."""

from textgen.hookspecs import hookimpl
from textgen_mirostat.samplers import MirostatSampler, RepetitionPenaltySampler

textgen_plugin_api = 1


@hookimpl
def register_samplers(register):
    register("mirostat", MirostatSampler)
    register("repetition_penalty", RepetitionPenaltySampler)
