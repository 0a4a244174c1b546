"""A regular expression as a DFA over a model's characters: a ``[states, vocab]`` table.

interegular compiles the pattern to a DFA over character classes; here it is unrolled over the
vocabulary (column ``i`` is the character of id ``i``) and pruned to the *live* states, those
from which some string of vocabulary characters reaches an accepting state. Every other
transition goes to one extra ``dead`` row, so "this character leaves the language" is a single
comparison with ``dead``, and the decoding loop needs one gather per step.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import interegular
from interegular.fsm import anything_else

from textgen.errors import TextgenError

if TYPE_CHECKING:  # NumPy loads when a pattern is compiled, not when the plugin registers
    import numpy as np


class PatternError(TextgenError, ValueError):
    """A pattern that cannot be compiled, or that no string over the vocabulary can match."""


def compile_fsm(pattern: str) -> interegular.FSM:
    """The pattern's DFA (full-match semantics, as ``re.fullmatch``), or a ``PatternError``.

    Python's ``re`` checks the syntax first (its messages give the position); interegular then
    refuses what a DFA cannot express (back-references, anchors) with its own reason.
    """
    try:
        re.compile(pattern)
    except re.error as err:
        raise PatternError(f"invalid regular expression {pattern!r}: {err}") from None
    try:
        return interegular.parse_pattern(pattern).to_fsm()
    except Exception as err:  # noqa: BLE001 - interegular raises bare Exception for some
        raise PatternError(f"regular expression {pattern!r} cannot be compiled to a DFA: "
                           f"{err or type(err).__name__}") from None


@dataclass(frozen=True)
class TokenDFA:
    """The pattern's live DFA over a vocabulary.

    ``table[s, i]`` is the state after character ``i`` in state ``s`` (``dead`` if that
    character leaves the language); ``accepting[s]`` whether the text so far is a full match;
    ``closed[s]`` whether no vocabulary character can follow (an accepting dead end);
    ``distance[s]`` the fewest characters from ``s`` to a full match. State 0 is the start.
    """

    table: np.ndarray      # [states + 1, vocab] int32; the last row is the dead state
    accepting: np.ndarray  # [states + 1] bool
    closed: np.ndarray     # [states + 1] bool
    distance: np.ndarray   # [states + 1] int32; the dead state's is UNREACHABLE

    @property
    def dead(self) -> int:
        return len(self.table) - 1

    def run(self, ids: Sequence[int]) -> int:
        """The state after reading ``ids`` from the start (``dead`` once it left)."""
        state = 0
        for i in ids:
            state = int(self.table[state, i])
        return state


UNREACHABLE = 2**30


def distances(table: np.ndarray, accepting: np.ndarray) -> np.ndarray:
    """Fewest characters from each state to an accepting one (``UNREACHABLE`` if none)."""
    import numpy as np

    dist = np.where(accepting, 0, UNREACHABLE).astype(np.int64)
    while True:
        step = np.minimum(dist, dist[table].min(axis=1, initial=UNREACHABLE) + 1)
        if (step == dist).all():
            return np.minimum(dist, UNREACHABLE).astype(np.int32)
        dist = step


def _pattern_chars(fsm: interegular.FSM) -> list[str]:
    """The characters the pattern names explicitly (not those matched only by ``[^...]``)."""
    return sorted(c for c in fsm.alphabet.keys() if c is not anything_else)


def token_dfa(pattern: str, chars: Sequence[str]) -> TokenDFA:
    """Compile ``pattern`` for a vocabulary (``chars[i]`` is id ``i``), or say why it cannot
    match: no string at all, or none made of the vocabulary's characters."""
    import numpy as np

    fsm = compile_fsm(pattern)
    states = sorted(fsm.states, key=lambda s: (s != fsm.initial, s))
    index = {s: k for k, s in enumerate(states)}
    n, vocab = len(states), len(chars)
    symbols = np.array([fsm.alphabet[c] for c in chars], np.int64)  # anything_else's id too
    n_symbols = max(fsm.alphabet.values()) + 1
    by_symbol = np.full((n, n_symbols), n, np.int64)  # n = "no transition"
    for s, moves in fsm.map.items():
        for symbol, target in moves.items():
            by_symbol[index[s], symbol] = index[target]
    table = by_symbol[:, symbols] if vocab else np.zeros((n, 0), np.int64)
    accepting = np.array([s in fsm.finals for s in states])

    live = accepting.copy()  # reaches an accepting state using vocabulary characters only
    while True:
        padded = np.append(live, False)
        grown = live | padded[table].any(axis=1)
        if (grown == live).all():
            break
        live = grown
    if not live[0]:
        if fsm.empty():
            raise PatternError(f"the pattern {pattern!r} matches no string at all")
        missing = [c for c in _pattern_chars(fsm) if c not in set(chars)]
        shown = ", ".join(map(repr, missing[:20])) or "(none it names; it needs others)"
        raise PatternError(
            f"no string of the model's {vocab} characters matches {pattern!r}: every match "
            f"needs a character the model never saw. Characters of the pattern not in the "
            f"vocabulary: {shown}")

    keep = np.flatnonzero(live)  # state 0 is live, so it stays the start
    remap = np.full(n + 1, len(keep), np.int64)
    remap[keep] = np.arange(len(keep))
    dead = len(keep)
    out = np.full((dead + 1, vocab), dead, np.int32)
    out[:dead] = remap[table[keep]]
    accept = np.append(accepting[keep], False)
    closed = (out == dead).all(axis=1)
    closed[dead] = False
    return TokenDFA(out, accept, closed & accept, distances(out, accept))
