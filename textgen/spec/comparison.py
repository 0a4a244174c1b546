"""Comparison files: a ``base`` spec and ``runs`` merged into it, each validated as a full spec.

A comparison file lists models under ``runs``; each entry is merged into the shared ``base`` spec
(mappings key by key, anything else replaced) and validated as a full spec, so every model sees
the same corpus split, budget and seed unless an entry says otherwise. Problems are reported
with the line of the entry (or of ``base``) that wrote the bad value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, PositiveInt

from textgen.spec.errors import Problem, SpecError
from textgen.spec.loader import Positions, read_yaml_file, validate
from textgen.spec.overrides import Override, blame
from textgen.spec.overrides import apply as apply_overrides
from textgen.spec.overrides import parse_all as parse_overrides
from textgen.spec.overrides import validate as validate_overridden
from textgen.spec.schema import Section, Spec

# Settings that must agree for a like-for-like comparison (the first differing one is reported).
SHARED = ("corpus", "seed", "training.max_seconds", "training.epochs", "training.batch_size",
          "evaluation", "generation.samplers")


class BenchmarkSpec(Section):
    """How generation speed is measured after training."""

    length: int = Field(400, ge=1, description="characters generated per timed call")
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 64], min_length=1)
    repeats: int = Field(3, ge=1, description="timed calls after the warm-up; the median counts")
    prompt_length: int = Field(60, ge=1, description="characters of held-out prompt per row")
    recomputed: bool = Field(True, description="also time recomputing each receptive field")
    jit_compile: bool = Field(True, description="compile the decoding loops with XLA")


class CompareFile(Section):
    """A comparison file: ``base`` (shared spec fields), ``runs`` (one entry per model)."""

    name: str = Field("compare", pattern=r"^[A-Za-z0-9_.-]+$", description="the report's title")
    base: dict[str, Any] = Field(default_factory=dict, description="spec fields every run shares")
    runs: list[dict[str, Any]] = Field(min_length=1, description="each merged into base")
    benchmark: BenchmarkSpec = BenchmarkSpec()


@dataclass
class Comparison:
    """What to compare: validated specs (unique names) and how to benchmark them."""

    name: str
    specs: list[Spec]
    benchmark: BenchmarkSpec


def merge(base: Any, over: Any) -> Any:
    """``over`` on top of ``base``: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: merge(base.get(k), v) if k in base else v for k, v in over.items()}}
    return over


def is_comparison_file(path: Path) -> bool:
    """Whether a spec file is a comparison file (a mapping with ``runs``); errors propagate."""
    data, _ = read_yaml_file(path)
    return "runs" in data


def _entry_positions(positions: Positions, i: int, data: Any) -> Positions:
    """Where each key of run ``i``'s merged spec was written: in its entry, else in ``base``."""
    out: Positions = {}

    def walk(value: Any, path: tuple) -> None:
        pos = positions.get(("runs", i, *path)) or positions.get(("base", *path))
        if pos:
            out[path] = pos
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        for key, item in items:
            walk(item, (*path, key))

    walk(data, ())
    return out


def _specs_of(file: CompareFile, positions: Positions, path: str,
              overrides: Sequence[Override] = ()) -> list[Spec]:
    specs, problems = [], []
    for i, entry in enumerate(file.runs):
        data = apply_overrides(merge(file.base, entry), overrides)
        try:
            specs.append(validate(Spec, data, _entry_positions(positions, i, data), path))
        except SpecError as err:
            found = blame(err, overrides)
            problems += [Problem(f"runs.{i}" + (f".{p.path}" if p.path else ""), p.line,
                                 p.column, p.message, path) for p in found.problems]
    if problems:
        raise SpecError(problems, path)
    return specs


def load_comparison(paths: Sequence[Path], overrides: Sequence[str] = ()) -> Comparison:
    """One comparison file (with ``runs``), or several plain spec files, checked and named;
    ``overrides`` (``--set KEY=VALUE``) apply to every run's spec."""
    changes = parse_overrides(overrides)
    if not paths:
        raise SpecError.one("give a comparison file or at least one spec file")
    loaded = [(Path(p), *read_yaml_file(p)) for p in paths]
    files = [p for p, data, _ in loaded if "runs" in data]
    if files and len(paths) > 1:
        raise SpecError.one(f"{files[0]} is a comparison file (it has `runs`); give it alone, "
                            "or give several plain spec files", file=str(files[0]))
    if files:
        path, data, positions = loaded[0]
        file = validate(CompareFile, data, positions, str(path))
        comparison = Comparison(file.name, _specs_of(file, positions, str(path), changes),
                                file.benchmark)
    else:
        comparison = Comparison("compare", [validate_overridden(Spec, data, positions, str(p),
                                                                changes)
                                            for p, data, positions in loaded], BenchmarkSpec())
    names = [s.name for s in comparison.specs]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise SpecError.one(f"run names must differ (each names its directory): "
                            f"{', '.join(twice)} appears more than once",
                            file=str(paths[0]) if len(paths) == 1 else None)
    return comparison


def _get(spec: Spec, dotted: str) -> Any:
    value: Any = spec
    for part in dotted.split("."):
        value = getattr(value, part)
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def differences(specs: Sequence[Spec]) -> list[str]:
    """The settings that are not the same across specs (an unfair comparison), one line each."""
    out = []
    for field in SHARED:
        values = [_get(s, field) for s in specs]
        if any(v != values[0] for v in values[1:]):
            shown = ", ".join(f"{s.name}={v}" for s, v in zip(specs, values, strict=True))
            out.append(f"{field} differs: {shown}")
    return out
