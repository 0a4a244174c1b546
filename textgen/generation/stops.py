"""Stop strings as an automaton over character ids, so the decoding loop finds them by gathers.

An Aho-Corasick automaton: state = the longest suffix of the text so far that is a prefix of some
stop string. ``table[s, i]`` is the next state after id ``i``; ``match[s]`` is the length of the
longest stop string ending at state ``s`` (0: none). A row ends at the first step whose state
has ``match > 0``, and its text is cut before that stop string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textgen.corpus.vocab import CharVocab
from textgen.errors import TextgenError


class StopStringError(TextgenError, ValueError):
    """A stop string that is empty or that the model can never write."""


@dataclass(frozen=True)
class StopAutomaton:
    """The stop strings' matcher over a vocabulary; state 0 is the start (nothing matched)."""

    strings: tuple[str, ...]
    table: np.ndarray  # [states, vocab] int32
    match: np.ndarray  # [states] int32: length of the stop string completed here, 0 if none

    def find(self, ids: Sequence[int]) -> tuple[int, int] | None:
        """``(end, length)`` of the first stop string in ``ids`` (end is exclusive), or None."""
        state = 0
        for t, i in enumerate(ids):
            state = int(self.table[state, i])
            if self.match[state]:
                return t + 1, int(self.match[state])
        return None


def check_stops(stops: Sequence[str], field: str = "generation.stop") -> list[str]:
    """The stop strings, or a ``StopStringError`` naming the empty one (``generation.stop[1]``)."""
    for k, s in enumerate(stops):
        if not isinstance(s, str) or not s:
            raise StopStringError(f"{field}[{k}]: a stop string must be non-empty text, "
                                  f"got {s!r}")
    return list(stops)


def stop_automaton(stops: Sequence[str], vocab: CharVocab,
                   field: str = "generation.stop") -> StopAutomaton:
    """Build the matcher; a stop string with a character the model never saw is refused."""
    stops = check_stops(stops, field)
    for k, s in enumerate(stops):
        missing = vocab.missing(s)
        if missing:
            raise StopStringError(
                f"{field}[{k}]: the stop string {s!r} has characters the model never saw "
                f"({', '.join(map(repr, missing))}), so it could never end a sample")
    trie: list[dict[int, int]] = [{}]
    depth, match = [0], [0]
    for s in stops:
        node = 0
        for i in vocab.encode(s).tolist():
            if i not in trie[node]:
                trie.append({})
                depth.append(depth[node] + 1)
                match.append(0)
                trie[node][i] = len(trie) - 1
            node = trie[node][i]
        match[node] = len(s)
    n, v = len(trie), len(vocab)
    table = np.zeros((n, v), np.int32)
    fail = [0] * n
    order = [0]
    for node in order:  # breadth first: a node's failure link is settled before its children
        for i in range(v):
            child = trie[node].get(i)
            fallback = int(table[fail[node], i]) if node else 0
            if child is None:
                table[node, i] = fallback
            else:
                table[node, i] = child
                fail[child] = fallback if node else 0
                match[child] = max(match[child], match[fail[child]])
                order.append(child)
    return StopAutomaton(tuple(stops), table, np.asarray(match, np.int32))
