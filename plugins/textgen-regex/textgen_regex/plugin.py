"""The entry point: registers the ``regex`` stage with textgen."""

from textgen.hookspecs import hookimpl
from textgen_regex.sampler import RegexSampler

textgen_plugin_api = 1


@hookimpl
def register_samplers(register):
    register("regex", RegexSampler)
