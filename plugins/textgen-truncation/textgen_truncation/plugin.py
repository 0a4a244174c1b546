"""The entry point: registers the four truncation stages with textgen."""

from textgen.hookspecs import hookimpl
from textgen_truncation.samplers import MinPSampler, TopKSampler, TopPSampler, TypicalSampler

textgen_plugin_api = 1


@hookimpl
def register_samplers(register):
    register("top_k", TopKSampler)
    register("top_p", TopPSampler)
    register("min_p", MinPSampler)
    register("typical", TypicalSampler)
