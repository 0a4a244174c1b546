"""SpecError: every problem found in a spec, each with its field path and YAML line.

Pydantic reports ``loc`` tuples that may hold segments that are not keys of the document (union
member names, ``function-after[...]``, ``[key]``); ``format_validation_error`` drops those, so a
user reads ``training.epochs (line 7)`` instead of pydantic's internal route to the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from textgen.errors import TextgenError

Positions = Mapping[tuple[Any, ...], tuple[int, int]]

# Pydantic prefixes messages from user validators; the prefix tells a spec author nothing.
_PREFIXES = ("Value error, ", "Assertion failed, ")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a spec: where (dotted field path, 1-based line/column) and what."""

    path: str
    line: int | None
    column: int | None
    message: str
    file: str | None = None

    @property
    def where(self) -> str:
        """``file.yaml:LINE`` (or as much of it as is known), for editors and logs."""
        file = self.file or "<spec>"
        return f"{file}:{self.line}" if self.line is not None else file

    def __str__(self) -> str:
        if self.path:
            place = f"{self.path} (line {self.line})" if self.line is not None else self.path
        elif self.line is not None:
            place = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        else:
            return self.message
        return f"{place}: {self.message}"


class SpecError(TextgenError, ValueError):
    """A spec could not be loaded; ``problems`` lists every reason, in document order."""

    def __init__(self, problems: Iterable[Problem], file: str | None = None) -> None:
        self.problems: list[Problem] = list(dict.fromkeys(problems))  # drop exact repeats
        self.file = file if file is not None else next(
            (p.file for p in self.problems if p.file), None)
        super().__init__(self._render())

    @classmethod
    def one(cls, message: str, *, file: str | None = None, path: str = "",
            line: int | None = None, column: int | None = None) -> SpecError:
        """A SpecError with a single problem."""
        return cls([Problem(path, line, column, message, file)], file)

    def _render(self) -> str:
        n = len(self.problems)
        head = f"{self.file or 'spec'}: {n} problem{'' if n == 1 else 's'}"
        return "\n".join([head, *(f"- {p}" for p in self.problems)])

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.problems, self.file)


def locate(loc: tuple[Any, ...], positions: Positions,
           missing: bool = False) -> tuple[tuple[Any, ...], tuple[int, int] | None]:
    """The part of a pydantic ``loc`` that exists in the document, and the position it points at.

    Segments that are not keys or indices of the data are skipped. For a missing field the last
    segment is kept in the path while the position is its parent mapping's.
    """
    found: tuple[Any, ...] = ()
    matched = False
    for segment in loc:
        matched = found + (segment,) in positions
        if matched:
            found += (segment,)
    pos = positions.get(found)
    if missing and loc and not matched:
        return found + (loc[-1],), pos
    return found, pos


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "Unknown key (extra inputs are not permitted)"
    msg = str(error["msg"])
    for prefix in _PREFIXES:
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def format_validation_error(err: ValidationError, positions: Positions,
                            file: str | None) -> SpecError:
    """Rewrite a pydantic ValidationError as a SpecError with dotted paths and YAML lines."""
    problems = []
    for error in err.errors(include_url=False):
        missing = str(error["type"]).startswith("missing")
        path, pos = locate(tuple(error["loc"]), positions, missing)
        line, column = pos if pos is not None else (None, None)
        problems.append(Problem(".".join(map(str, path)), line, column, _message(error), file))
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    return SpecError(problems, file)
