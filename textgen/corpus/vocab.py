"""Character vocabulary: the sorted distinct characters of the training text, mapped to ids."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np

Unknown = Literal["error", "skip"]


def _codepoints(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as uint32, without a Python-level loop."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _show(chars: Iterable[str], limit: int = 20) -> str:
    chars = list(chars)
    shown = ", ".join(repr(c) for c in chars[:limit])
    return shown + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


class CharVocab:
    """Maps characters to ids ``0..len-1`` in the order given (sorted when built from text)."""

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: tuple[str, ...] = tuple(chars)
        bad = [c for c in self.chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"vocabulary entries must be single characters, got {_show(bad)}")
        if len(set(self.chars)) != len(self.chars):
            dupes = sorted({c for c in self.chars if self.chars.count(c) > 1})
            raise ValueError(f"vocabulary has repeated characters: {_show(dupes)}")
        if not self.chars:
            raise ValueError("vocabulary is empty: build it from a non-empty training text")
        self.index = {c: i for i, c in enumerate(self.chars)}
        points = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        self._order = np.argsort(points, kind="stable").astype(np.int32)
        self._sorted_points = points[self._order]

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of a (training) text: its distinct characters, sorted."""
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self.index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocab) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} chars: {''.join(self.chars)!r})"

    def missing(self, text: str) -> list[str]:
        """Characters of ``text`` not in the vocabulary, distinct, in order of first appearance."""
        known = self._lookup(_codepoints(text))[1]
        if known.all():
            return []
        return list(dict.fromkeys(np.asarray(list(text), dtype=object)[~known].tolist()))

    def _lookup(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ids, known) for code points; ids of unknown points are meaningless."""
        pos = np.searchsorted(self._sorted_points, points)
        pos = np.minimum(pos, len(self._sorted_points) - 1)
        known = self._sorted_points[pos] == points
        return self._order[pos], known

    def encode(self, text: str, unknown: Unknown = "error") -> np.ndarray:
        """Text -> int32 ids; unknown characters raise (``"error"``) or are dropped (``"skip"``)."""
        if unknown not in ("error", "skip"):
            raise ValueError(f"unknown must be 'error' or 'skip', got {unknown!r}")
        ids, known = self._lookup(_codepoints(text))
        if known.all():
            return ids.astype(np.int32)
        if unknown == "skip":
            return ids[known].astype(np.int32)
        first = int(np.argmin(known))
        raise ValueError(
            f"text has characters not in the vocabulary: {_show(self.missing(text))} "
            f"(first at position {first}); the vocabulary comes from the training text. "
            "Remove them or encode with unknown='skip'."
        )

    def decode(self, ids: Any) -> str:
        """Ids (list, numpy or tensor, any shape flattened) -> text."""
        flat = np.asarray(ids).reshape(-1)
        if flat.size and not np.issubdtype(flat.dtype, np.integer):
            raise ValueError(f"ids must be integers, got dtype {flat.dtype}")
        bad = flat[(flat < 0) | (flat >= len(self))]
        if bad.size:
            shown = _show(dict.fromkeys(bad.tolist()))
            raise ValueError(f"ids out of range for a vocabulary of {len(self)}: {shown}")
        return "".join(self.chars[i] for i in flat.tolist())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``{"chars": [...]}`` as UTF-8 JSON."""
        payload = json.dumps({"chars": list(self.chars)}, ensure_ascii=False, indent=1)
        Path(path).write_text(payload + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CharVocab:
        """Read a vocabulary written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read vocabulary file {path}: {err}") from None
        if not isinstance(data, dict) or not isinstance(data.get("chars"), list):
            raise ValueError(f"vocabulary file {path} must hold a JSON object with a 'chars' list")
        try:
            return cls(data["chars"])
        except ValueError as err:
            raise ValueError(f"vocabulary file {path} is invalid: {err}") from None
