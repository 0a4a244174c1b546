"""``--set KEY=VALUE``: change a spec's YAML data at a dotted path before it is validated.

The value is read as YAML (``4``, ``1e-3``, ``[greedy, {temperature: 0.5}]``), then the whole
spec is validated as if the file said so; a problem inside an overridden value is reported with
the override it came from (``--set training.epochs=-1: training.epochs: ...``), not a line of
the file, which no longer holds that value.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from textgen.spec.errors import Problem, SpecError

OVERRIDDEN = (0, 0)  # the "position" of a value that came from --set: no line in the file


@dataclass(frozen=True)
class Override:
    """One ``--set``: the text as given, the path it sets and the parsed value."""

    raw: str
    path: tuple[str | int, ...]
    value: Any

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.path))


def parse(text: str) -> Override:
    """``"training.epochs=4"`` -> ``Override``; a malformed one raises SpecError naming it."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError.one(f"--set {text}: write KEY=VALUE, e.g. training.epochs=4")
    segments = key.split(".")
    if any(not s for s in segments):
        raise SpecError.one(f"--set {text}: {key!r} is not a dotted path like training.epochs")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        why = getattr(err, "problem", None) or err
        raise SpecError.one(f"--set {text}: the value is not YAML: {why}") from None
    return Override(text, tuple(int(s) if s.isdigit() else s for s in segments), parsed)


def parse_all(overrides: Iterable[str] | Mapping[str, Any]) -> list[Override]:
    """``--set`` strings, or a mapping of dotted keys to values (from Python), as Overrides."""
    if isinstance(overrides, Mapping):
        return [Override(f"{key}={json.dumps(value, default=str)}",  # JSON is YAML
                         tuple(int(s) if s.isdigit() else s for s in str(key).split(".")),
                         value) for key, value in overrides.items()]
    return [parse(text) for text in overrides]


def _mark(positions: dict, path: tuple, value: Any) -> None:
    """Record ``path`` and everything under it as overridden (dropping the file's lines)."""
    for old in [p for p in positions if p[:len(path)] == path]:
        del positions[old]
    positions[path] = OVERRIDDEN
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        _mark(positions, (*path, key), item)


def apply(data: dict, overrides: Sequence[Override], positions: dict | None = None) -> dict:
    """A copy of ``data`` with every override set in order (later ones win); missing
    mappings on the way are created. ``positions`` (if given) is updated in place."""
    data = copy.deepcopy(data)
    for override in overrides:
        node: Any = data
        for depth, segment in enumerate(override.path[:-1]):
            key = _key(node, segment, override, depth)
            if isinstance(node, dict) and key not in node:
                node[key] = {}
            node = node[key]
        node[_key(node, override.path[-1], override, len(override.path) - 1)] = override.value
        if positions is not None:
            _mark(positions, override.path, override.value)
    return data


def _key(node: Any, segment: str | int, override: Override, depth: int) -> str | int:
    where = ".".join(map(str, override.path[:depth])) or "the spec"
    if isinstance(node, dict):
        return str(segment)
    if isinstance(node, list):
        if isinstance(segment, int) and segment < len(node):
            return segment
        raise SpecError.one(f"--set {override.raw}: {where} is a list of {len(node)}; "
                            f"{segment!r} is not one of its indices")
    raise SpecError.one(f"--set {override.raw}: {where} is a single value ({node!r}), "
                        f"so it has no {segment!r} inside")


def _under(a: str, b: str) -> bool:
    """``a`` equals ``b`` or lies inside it (dotted paths)."""
    return a == b or a.startswith(b + ".")


def blame(err: SpecError, overrides: Sequence[Override]) -> SpecError:
    """The same problems, each named by the ``--set`` that set its path (or a path above it),
    or else by every ``--set`` inside it: a section's rule can fail on several of its values."""
    problems = []
    for p in err.problems:
        above = [o for o in overrides if p.path and _under(p.path, o.dotted)]
        culprits = above[-1:] or [o for o in overrides if p.path and _under(o.dotted, p.path)]
        if not culprits:
            problems.append(p)
        else:
            named = ", ".join(f"--set {o.raw}" for o in culprits)
            problems.append(Problem("", None, None, f"{named}: {p.path}: {p.message}", p.file))
    return SpecError(problems, err.file)


def validate(model_cls: Any, data: dict, positions: dict, file: str | None,
             overrides: Sequence[Override]) -> Any:
    """Apply ``overrides`` to ``data`` and validate it as ``model_cls``, blaming overrides."""
    from textgen.spec.loader import validate as validate_data

    positions = dict(positions)
    data = apply(data, overrides, positions)
    try:
        return validate_data(model_cls, data, positions, file)
    except SpecError as err:
        raise blame(err, overrides) from None


def load_with_overrides(spec: Any, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Any:
    """A ``Spec`` from a path, a mapping of YAML data or a ``Spec``, with overrides applied."""
    from textgen.spec.loader import read_yaml_file
    from textgen.spec.schema import Spec

    parsed = parse_all(overrides)
    positions: dict = {}
    if isinstance(spec, Spec):
        if not parsed:
            return spec
        data, file = spec.model_dump(mode="json"), None
    elif isinstance(spec, Mapping):
        data, file = dict(spec), None
    else:
        file = str(spec)
        data, positions = read_yaml_file(spec)
    return validate(Spec, data, positions, file, parsed)
