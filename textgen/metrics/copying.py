"""Copy rate: how much of a sample occurs verbatim in the training text (memorisation).

The training text is indexed once per run: every window of ``W`` characters becomes a 64-bit
polynomial hash (NumPy, one vectorised pass per character of the window), kept sorted with the
place it starts, so a sample's windows are looked up with one ``np.searchsorted``. The longest
copied span is then found exactly by extending each copied window, at every place it occurs in
the training text, as far as the two texts agree (vectorised over all of them at once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_WINDOW = 16
CELLS = 1 << 21  # comparisons held at once by longest_copy
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier; arithmetic wraps mod 2**64


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _window_hashes(codes: np.ndarray, window: int) -> np.ndarray:
    """Hash of every ``window``-long slice of ``codes``: sum codes[i+k] * B**(window-1-k)."""
    n = len(codes) - window + 1
    h = np.zeros(n, dtype=np.uint64)
    wide = codes.astype(np.uint64) + np.uint64(1)  # + 1: a zero code must still count
    with np.errstate(over="ignore"):
        for k in range(window):
            h = h * _BASE + wide[k:k + n]
    return h


class CopyIndex:
    """The training text's ``window``-character windows, hashed and sorted for lookup, with
    where each one starts in the text (to extend a match beyond the window)."""

    def __init__(self, train_text: str, window: int = DEFAULT_WINDOW) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"copy window must be a positive integer, got {window!r}")
        self.window = window
        self._codes = _code_points(train_text)
        self._alphabet = np.unique(self._codes)
        hashes = (_window_hashes(self._codes, window) if len(self._codes) >= window
                  else np.zeros(0, dtype=np.uint64))
        self._starts = np.argsort(hashes)  # 5x faster than a stable sort, 40x than np.unique
        self._hashes = hashes[self._starts]

    def _lookup(self, codes: np.ndarray, bounds: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        """(copied flag, first index of the hash in the index) of every window of ``codes``,
        the code points of texts laid end to end (``bounds``: where each one starts, then the
        end); a window that crosses into the next text, or holds a character the training
        text lacks, is never copied."""
        n = len(codes) - self.window + 1
        if n <= 0 or len(self._hashes) == 0:
            return np.zeros(max(n, 0), dtype=bool), np.zeros(max(n, 0), dtype=np.int64)
        h = _window_hashes(codes, self.window)
        order = np.argsort(h)  # sorted queries search faster (each starts from the last)
        at = np.empty(n, dtype=np.int64)
        at[order] = np.searchsorted(self._hashes, h[order])
        found = self._hashes[np.minimum(at, len(self._hashes) - 1)] == h
        spot = np.minimum(np.searchsorted(self._alphabet, codes), len(self._alphabet) - 1)
        foreign = np.concatenate([[0], np.cumsum(self._alphabet[spot] != codes)])
        found &= foreign[self.window:] == foreign[:-self.window]
        end_of = bounds[np.searchsorted(bounds, np.arange(n), side="right")]
        return found & (np.arange(n) + self.window <= end_of), at

    def copied_windows(self, text: str) -> np.ndarray:
        """One bool per ``window``-long slice of ``text``: does it occur in the training text?

        A slice holding a character the training text lacks is never copied.
        """
        codes = _code_points(text)
        return self._lookup(codes, np.array([0, len(codes)]))[0]

    def copy_rate(self, text: str) -> float:
        """Share of the ``window``-character slices of ``text`` found in the training text;
        NaN when ``text`` is shorter than one window."""
        return self.copy_stats_many([text])[0][0]

    def longest_copy(self, text: str) -> int:
        """Length of the longest slice of ``text`` found verbatim in the training text, if it
        is at least ``window`` characters long; 0 otherwise."""
        return self.copy_stats_many([text])[0][1]

    def copy_stats(self, text: str) -> tuple[float, int]:
        """(copy rate, longest copied span) of ``text``."""
        return self.copy_stats_many([text])[0]

    def copy_stats_many(self, texts: Sequence[str]) -> list[tuple[float, int]]:
        """(copy rate, longest copied span) of each text, all looked up in one go."""
        if not texts:
            return []
        codes = _code_points("".join(texts))
        bounds = np.cumsum([0, *(len(t) for t in texts)])
        copied, at = self._lookup(codes, bounds)
        done = np.concatenate([[0], np.cumsum(copied)])
        longest = self._longest(codes, bounds, copied, at)
        out = []
        for k, text in enumerate(texts):
            windows = len(text) - self.window + 1
            if windows <= 0:
                out.append((math.nan, 0))
                continue
            start = int(bounds[k])
            rate = float(done[start + windows] - done[start]) / windows
            out.append((rate, int(longest[k])))
        return out

    def _longest(self, codes: np.ndarray, bounds: np.ndarray, copied: np.ndarray,
                 at: np.ndarray) -> np.ndarray:
        """Per text: extend every copied window, at every place its hash occurs in the
        training text, as far as the two texts agree; the longest agreement of at least
        ``window`` chars (else 0).

        A verbatim span of W or more characters is made of copied windows, so it lies inside
        a run of them: the comparison never needs to reach past the run's last character.
        """
        best = np.zeros(len(bounds) - 1, dtype=np.int64)
        starts = np.flatnonzero(copied)
        if len(starts) == 0:
            return best
        ends = np.zeros(len(copied), dtype=np.int64)  # last char (exclusive) of each run
        for first, stop in _runs(copied):
            ends[first:stop] = stop - 1 + self.window
        count = np.searchsorted(self._hashes, self._hashes[at[starts]], side="right") \
            - at[starts]
        pair = np.repeat(np.arange(len(starts)), count)
        rank = np.arange(len(pair)) - np.repeat(np.cumsum(count) - count, count)
        sample_at = starts[pair]
        train_at = self._starts[at[starts][pair] + rank]
        owner = np.searchsorted(bounds, sample_at, side="right") - 1
        width = int((ends[sample_at] - sample_at).max())
        step = max(1, CELLS // width)  # bounded memory for windows that occur very often
        for lo in range(0, len(pair), step):
            s_idx = sample_at[lo:lo + step, None] + np.arange(width)
            t_idx = train_at[lo:lo + step, None] + np.arange(width)
            same = (s_idx < ends[sample_at[lo:lo + step], None]) & (t_idx < len(self._codes))
            same &= (codes[np.minimum(s_idx, len(codes) - 1)]
                     == self._codes[np.minimum(t_idx, len(self._codes) - 1)])
            agree = np.where(same.all(axis=1), width, np.argmin(same, axis=1))
            np.maximum.at(best, owner[lo:lo + step], agree)
        return np.where(best >= self.window, best, 0)


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in ``flags``, end exclusive."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))
