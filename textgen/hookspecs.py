"""The hooks a textgen plugin implements, grouped by pipeline stage (as pytest's hookspec.py).

A plugin is a module with functions named after these hooks and marked ``@hookimpl``; textgen's
built-ins (``textgen.plugins.DEFAULT_PLUGINS``) implement them exactly as third parties do.
The ``register_*`` hooks are called once per plugin, in load order (built-ins first, then
distributions by name), when the registry is first loaded; each gets a ``register(name, obj)``
callback and returns nothing. A registration that breaks a rule (a name that is not a
lowercase identifier, an object of the wrong kind, a name already taken) is reported as a
failure of that plugin (``textgen plugins``) and skipped; the plugin's other registrations stay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("textgen")
hookimpl = pluggy.HookimplMarker("textgen")

Register = Callable[[str, Any], None]
"""``register(name, obj)``: ``name`` a lowercase identifier (``top_k``), ``obj`` per hook."""


# --- model ------------------------------------------------------------------------------------
@hookspec
def register_backbones(register: Register) -> None:
    """Register backbones: ``register("gru", GRUBackbone)``.

    :param register: takes a name and a :class:`textgen.backbones.base.Backbone` subclass
        whose ``Params`` (a pydantic model) validates the spec's ``backbone`` section, or a
        :class:`textgen.backbones.lazy.LazyBackbone` (``Params`` plus ``"module:Class"``) that
        imports the layer only when a model is built.

    Called once, when the registry loads. The spec's ``backbone.type`` picks the name; the other
    fields of the section are checked by ``Params`` (``textgen validate`` needs nothing more) and
    passed to the class as keyword arguments when the model is built.
    """


# --- generation -------------------------------------------------------------------------------
@hookspec
def register_samplers(register: Register) -> None:
    """Register sampler stages: ``register("top_a", TopASampler)``.

    :param register: takes a name and a :class:`textgen.samplers.base.Sampler` subclass (the
        class, not an instance). The name becomes the stage's one name (``cls.name``): the one
        specs use, labels show and saved chain configs hold. A class may be registered once.

    Called once, when the registry loads. Stages compose in a chain; the engine calls each
    stage's ``initial_state``, ``warp`` and ``update`` inside its compiled loop and draws from
    the last stage's logits (see ``textgen.samplers.base`` and docs/plugins.md).
    """


@hookspec
def register_decoders(register: Register) -> None:
    """Register decoding strategies that are not a per-step stage: ``register("beam",
    BeamSearch)``.

    :param register: takes a name and a
        :class:`textgen.generation.decoders.DecodingStrategy` subclass. A strategy is a sampler
        setting of its own (``{beam: {width: 4}}``), never chained with stages; it decodes a
        prompt's ``num_samples`` results at once (the n best, or n samples without replacement).

    Called once, when the registry loads; the name becomes the class's ``name``, as for stages.
    """


# --- reports ----------------------------------------------------------------------------------
@hookspec
def register_metrics(register: Register) -> None:
    """Register sample metrics: ``register("mean_word_length", fn)``.

    :param register: takes a column name and a function ``fn(sample) -> float`` of one
        :class:`textgen.records.Sample` (its text, prompt and per-character statistics).

    Called once, when the registry loads. After generation, ``fn`` runs on every sample; its
    values are averaged per sampler setting (with a 95% interval) into a report column.
    """


# --- command line -----------------------------------------------------------------------------
@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``textgen`` command line: ``@cli.command() def mine(): ...``.

    :param cli: the ``textgen`` click group.

    Called once by ``textgen``'s ``main()`` before the command line is parsed (so plugin
    commands appear in ``textgen --help``). A command should import heavy modules inside its
    function, so that ``textgen --help`` stays fast.
    """
