"""Regex-constrained generation for textgen: the ``regex`` stage and its DFA tables."""

from textgen_regex.dfa import PatternError, TokenDFA, token_dfa
from textgen_regex.sampler import RegexSampler

__all__ = ["PatternError", "RegexSampler", "TokenDFA", "token_dfa"]
