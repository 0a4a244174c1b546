"""The experiment spec: pydantic models, and YAML loading with line-numbered errors."""

from __future__ import annotations

from pathlib import Path

import yaml

from textgen.spec.errors import SpecError
from textgen.spec.loader import load_spec, loads_spec
from textgen.spec.schema import Spec

__all__ = ["Spec", "SpecError", "dump", "load", "loads"]


def load(path: str | Path) -> Spec:
    """Read and validate a spec file; a mistake raises SpecError naming field and line."""
    return load_spec(path, Spec)


def loads(text: str, file: str = "<string>") -> Spec:
    return loads_spec(text, Spec, file)


def dump(spec: Spec) -> str:
    """The resolved spec (every default filled in) as YAML, as saved in each run directory."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
