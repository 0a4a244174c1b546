"""The plugin hooks, grouped by pipeline stage. Built-ins implement them exactly as plugins do.

Every hook is called once per plugin (no ``firstresult``) with a ``register`` callback, as in
simonw/llm: a plugin calls ``register(name, obj)`` for each thing it provides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("textgen")
hookimpl = pluggy.HookimplMarker("textgen")

Register = Callable[[str, Any], None]


# --- model ------------------------------------------------------------------------------------
@hookspec
def register_backbones(register: Register) -> None:
    """Register backbones: ``register("lstm", LSTMBackbone)``.

    :param register: takes a lowercase name and a :class:`textgen.backbones.base.Backbone`
        subclass whose ``Config`` (a pydantic model) validates the spec's ``backbone`` section.
    """


# --- generation -------------------------------------------------------------------------------
@hookspec
def register_samplers(register: Register) -> None:
    """Register sampler stages: ``register("temperature", TemperatureSampler)``.

    :param register: takes a lowercase name and a :class:`textgen.samplers.base.Sampler`
        subclass. Stages compose in a chain; the engine draws from the last stage's logits.
    """


@hookspec
def register_decoders(register: Register) -> None:
    """Register decoding strategies that are not a per-step stage: ``register("beam",
    BeamSearch)``.

    :param register: takes a lowercase name and a
        :class:`textgen.generation.decoders.DecodingStrategy` subclass. A strategy is a sampler
        setting of its own (``{beam: {width: 4}}``), never chained with stages; it decodes a
        prompt's ``num_samples`` results at once (the n best, or n samples without replacement).
    """


# --- reports ----------------------------------------------------------------------------------
@hookspec
def register_metrics(register: Register) -> None:
    """Register sample metrics: ``register("distinct_2", fn)``.

    :param register: takes a column name and ``fn(sample: textgen.metrics.Sample) -> float``;
        the value is averaged per sampler setting and shown as a report column.
    """


# --- command line -----------------------------------------------------------------------------
@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``textgen`` click group: ``@cli.command() def mine(): ...``."""
