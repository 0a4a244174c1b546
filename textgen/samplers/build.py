"""From a spec's sampler setting (plain data) to stage objects, by registered name.

A stage is written ``greedy``, ``{temperature: 0.5}`` (the scalar sets the stage's ``primary``
parameter) or ``{top_p: {p: 0.9, min_keep: 2}}``; a setting is one stage or a list of them.
``setting_problems`` is the spec's second pass: it reports every bad stage with where it sits,
so a spec's loader can point at the YAML line of the bad name.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from textgen.errors import TextgenError, UnknownNameError
from textgen.samplers.base import Sampler, SamplerChain

SamplerSetting = str | dict[str, Any] | list[str | dict[str, Any]]
Where = tuple[Any, ...]  # path from the setting to the offending item, e.g. (1, "top_p")


class StageError(TextgenError, ValueError):
    """A sampler stage in a spec or on the command line cannot be built; ``where`` is the path
    from its setting to the offending item."""

    def __init__(self, message: str, where: Where = ()) -> None:
        super().__init__(message)
        self.where = where


def _problems(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
                     for e in err.errors())


def _current() -> Any:
    from textgen.plugins import registry

    return registry()


def _syntax(item: Any) -> tuple[str, Any]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and len(item) == 1:
        name, value = next(iter(item.items()))
        return str(name), value
    raise StageError(f"a sampler stage is a name or a one-key mapping, got {item!r}")


def _options(cls: type[Sampler], name: str, value: Any) -> dict[str, Any]:
    """The keyword arguments a spec value stands for."""
    if value is None:
        return {}
    if isinstance(value, dict):
        odd = [key for key in value if not isinstance(key, str)]
        if odd:
            raise StageError(f"sampler {name!r}: option names must be text, got {odd[0]!r}")
        return value
    if cls.primary is not None:
        return {cls.primary: value}
    fields = list(cls.Params.model_fields)
    if not fields:
        raise StageError(f"sampler {name!r} takes no value; write it as just {name!r}")
    example = ", ".join(f"{f}: ..." for f in fields)
    raise StageError(f"sampler {name!r} has no primary parameter, so a bare value cannot "
                     f"say which option it sets: write it as {{{name}: {{{example}}}}}")


def build_stage(item: str | dict[str, Any], registry: Any = None) -> Sampler:
    """``"greedy"``, ``{"temperature": 0.5}`` or ``{"top_p": {"p": 0.9}}`` -> a stage object.

    ``registry`` defaults to the process-wide one (``textgen.plugins.registry()``).
    """
    registry = registry or _current()
    name, value = _syntax(item)
    try:
        cls = registry.sampler(name)
    except UnknownNameError as exc:
        raise StageError(str(exc), (name,) if isinstance(item, dict) else ()) from None
    where = (name,) if isinstance(item, dict) else ()
    options = _options(cls, name, value)
    try:
        return cls(**options)
    except ValidationError as exc:
        raise StageError(f"sampler {name!r}: {_problems(exc)}", where) from None
    except ValueError as exc:  # StageParamsError: not representable in float32
        raise StageError(f"sampler {name!r}: {exc}", where) from None


def build_decoder(item: Any, registry: Any = None) -> SamplerChain | None:
    """``{"beam": {"width": 4}}`` -> a decoding strategy (a setting of its own); None when the
    item does not name a registered decoder."""
    registry = registry or _current()
    one_key = isinstance(item, dict) and len(item) == 1  # others are build_stage's to refuse
    name = item if isinstance(item, str) else next(iter(item)) if one_key else None
    if not isinstance(name, str) or name not in registry.decoders:
        return None
    cls = registry.get("decoders", name)
    value = {} if isinstance(item, str) else item[name]
    value = {} if value is None else value
    if not isinstance(value, dict):
        if cls.primary is None:
            raise StageError(f"decoder {name!r} has no primary parameter, so a bare value "
                             "cannot say which option it sets: give a mapping", (name,))
        value = {cls.primary: value}
    try:
        return cls(**value)
    except ValidationError as exc:
        raise StageError(f"decoder {name!r}: {_problems(exc)}", (name,)) from None
    except ValueError as exc:  # a decoder's own checks
        raise StageError(f"decoder {name!r}: {exc}", (name,)) from None


def build_chain(setting: SamplerSetting, registry: Any = None) -> SamplerChain:
    """A sampler setting (one stage or a list of stages) -> a chain of new stage objects, or a
    decoding strategy (``beam``), which is never chained with stages."""
    items = setting if isinstance(setting, list) else [setting]
    for item in items:
        decoder = build_decoder(item, registry)
        if decoder is not None and len(items) > 1:
            raise StageError(f"{decoder.label()} is a decoding strategy, not a stage: "
                             "give it as a sampler setting of its own")
        if decoder is not None:
            return decoder
    stages = []
    for i, item in enumerate(items):
        try:
            stages.append(build_stage(item, registry))
        except StageError as exc:
            if isinstance(setting, list):
                raise StageError(str(exc), (i, *exc.where)) from None
            raise
    if not stages:
        raise StageError("a sampler setting needs at least one stage")
    return SamplerChain(stages)


def setting_problems(setting: Any, registry: Any = None) -> list[tuple[Where, str]]:
    """Every stage of ``setting`` that cannot be built, as ``(where, message)``; [] if none."""
    items = setting if isinstance(setting, list) else [setting]
    found = []
    try:
        if any(build_decoder(item, registry) for item in items):
            build_chain(setting, registry)
            return []
    except StageError as exc:
        return [(exc.where, str(exc))]
    for i, item in enumerate(items):
        try:
            build_stage(item, registry)
        except StageError as exc:
            found.append(((i, *exc.where) if isinstance(setting, list) else exc.where, str(exc)))
    if isinstance(setting, list) and not setting:
        found.append(((), "a sampler setting needs at least one stage"))
    return found
