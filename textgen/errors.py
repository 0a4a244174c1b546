"""The errors a user can cause: one ``TextgenError`` base, one subclass per place it happens.

The command line shows a ``TextgenError`` as one paragraph and exits with code 2; any other
exception is a bug in textgen or a plugin. Classes that used to be ``ValueError`` or
``LookupError`` keep that base too, so existing ``except ValueError`` code still catches them.
"""

from __future__ import annotations


class TextgenError(Exception):
    """A mistake in what textgen was given (spec, corpus, run directory, plugin, prompt)."""


class CorpusError(TextgenError, ValueError):
    """A corpus could not be found, fetched, verified or read; the message says how to fix it."""


class RunError(TextgenError):
    """A run directory is missing, unfinished or damaged, or a run cannot go on."""


class PluginError(TextgenError):
    """A plugin failed to load or registered something unusable."""


class UnknownNameError(PluginError, LookupError):
    """A spec or command named a backbone, sampler or metric nobody registered."""


class PromptError(TextgenError, ValueError):
    """A prompt the model cannot continue (empty, or only characters it never saw)."""


class UsageError(TextgenError, ValueError):
    """A command-line value out of range (``--length 0``, ``--batch-size 0``)."""


class LimitError(TextgenError):
    """A request that cannot fit this machine (memory, output size); the message names the knob."""


RESOURCE_HINT = ("Lower what drives memory: training.batch_size, training.seq_len or "
                 "backbone.units in the spec, or --batch-size and --length for generate.")


def out_of_memory(exc: BaseException) -> LimitError | None:
    """A TensorFlow ResourceExhaustedError as a one-paragraph LimitError; None for others.

    Recognised by name so that the command line need not import TensorFlow to check.
    """
    if type(exc).__name__ != "ResourceExhaustedError":
        return None
    first = (str(getattr(exc, "message", "") or exc).strip().splitlines() or ["out of memory"])[0]
    return LimitError(f"TensorFlow ran out of memory ({first[:200]}). {RESOURCE_HINT}")
