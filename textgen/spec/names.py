"""The spec's second pass: registered names and their parameters, checked after the schema.

The schema (``schema.py``) is plain data: a backbone ``type`` and the sampler settings are just
names and values there. This pass looks them up in the plugin registry and validates them with
each plugin's ``Params``, reporting every problem at its YAML line, so that a spec's other
mistakes and its unknown or mis-set names are listed together.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from textgen.errors import UnknownNameError
from textgen.spec.errors import Positions, Problem, locate


def _problems(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
                     for e in err.errors())


def name_problems(data: Any, positions: Positions, file: str | None) -> list[Problem]:
    """Every unknown backbone or sampler name, and every bad plugin parameter, in ``data``
    (a spec's plain data, before or after the schema accepted it)."""
    from textgen.plugins import registry
    from textgen.samplers.build import setting_problems

    if not isinstance(data, dict):
        return []
    reg = registry()
    found: list[Problem] = []

    def add(path: tuple[Any, ...], message: str) -> None:
        where, pos = locate(path, positions)
        line, column = pos if pos is not None else (None, None)
        found.append(Problem(".".join(map(str, where or path)), line, column, message, file))

    backbone = data.get("backbone", {})
    kind = backbone.get("type", "lstm") if isinstance(backbone, dict) else None
    if isinstance(kind, str):
        try:
            params = reg.backbone_params(kind)
        except UnknownNameError as exc:
            add(("backbone", "type"), str(exc))
        else:
            own = {k: v for k, v in backbone.items() if k not in ("type", "embedding")}
            try:
                params(**own)
            except ValidationError as exc:
                add(("backbone",), f"{kind} backbone: {_problems(exc)}")
            except TypeError as exc:  # a key that is not text
                add(("backbone",), f"{kind} backbone: {exc}")

    generation = data.get("generation")
    samplers = generation.get("samplers") if isinstance(generation, dict) else None
    if isinstance(samplers, list):
        for i, setting in enumerate(samplers):
            for where, message in setting_problems(setting, reg):
                index = tuple(w for w in where if isinstance(w, int))  # the message names it
                add(("generation", "samplers", i, *index), message)
    return found
