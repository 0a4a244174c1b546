"""The entry point: registers the truncation stages with textgen."""

from textgen.hookspecs import hookimpl
from textgen_truncation.cutoffs import EpsilonSampler, EtaSampler, TopHSampler, TopNSigmaSampler
from textgen_truncation.samplers import MinPSampler, TopKSampler, TopPSampler, TypicalSampler

textgen_plugin_api = 1


@hookimpl
def register_samplers(register):
    register("top_k", TopKSampler)
    register("top_p", TopPSampler)
    register("min_p", MinPSampler)
    register("typical", TypicalSampler)
    register("epsilon", EpsilonSampler)
    register("eta", EtaSampler)
    register("top_h", TopHSampler)
    register("top_n_sigma", TopNSigmaSampler)
