"""The entry point: registers xtc and dynatemp with textgen."""

from textgen.hookspecs import hookimpl
from textgen_llamacpp.samplers import DynatempSampler, XTCSampler

textgen_plugin_api = 1


@hookimpl
def register_samplers(register):
    register("xtc", XTCSampler)
    register("dynatemp", DynatempSampler)
