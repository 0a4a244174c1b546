"""The entry point: registers penalties, dry, no_repeat_ngram, logit_bias and banned_strings."""

from textgen.hookspecs import hookimpl
from textgen_penalties.bias import BannedStringsSampler, LogitBiasSampler
from textgen_penalties.dry import DRYSampler
from textgen_penalties.ngram import NoRepeatNGramSampler
from textgen_penalties.penalties import PenaltiesSampler

textgen_plugin_api = 1


@hookimpl
def register_samplers(register):
    register("penalties", PenaltiesSampler)
    register("dry", DRYSampler)
    register("no_repeat_ngram", NoRepeatNGramSampler)
    register("logit_bias", LogitBiasSampler)
    register("banned_strings", BannedStringsSampler)
