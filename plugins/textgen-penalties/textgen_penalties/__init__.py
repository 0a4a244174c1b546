"""Stages that steer away from repetition or from chosen characters: llama.cpp's penalties and
DRY, transformers' no-repeat n-gram and banned strings, and logit bias."""

from textgen_penalties.bias import BannedStringsSampler, LogitBiasSampler
from textgen_penalties.dry import DRYSampler
from textgen_penalties.ngram import NoRepeatNGramSampler
from textgen_penalties.penalties import PenaltiesSampler

__all__ = ["BannedStringsSampler", "DRYSampler", "LogitBiasSampler", "NoRepeatNGramSampler",
           "PenaltiesSampler"]
