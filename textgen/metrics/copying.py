"""Copy rate: how much of a sample occurs verbatim in the training text (memorisation).

The training text is indexed once per run: every window of ``W`` characters becomes a 64-bit
polynomial hash (NumPy, one vectorised pass per character of the window), kept sorted with the
place it starts, so a sample's windows are looked up with one ``np.searchsorted``. The longest
copied span is then found exactly by extending each copied window, at every place it occurs in
the training text, as far as the two texts agree (vectorised over all of them at once).
"""

from __future__ import annotations

import math

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
        self._starts = np.argsort(hashes, kind="stable")  # np.unique is 200x slower here
        self._hashes = hashes[self._starts]

    def _lookup(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(codes of ``text``, copied flag per window, first index of each window's hash)."""
        codes = _code_points(text)
        n = max(len(codes) - self.window + 1, 0)
        if n == 0 or len(self._hashes) == 0:
            return codes, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
        h = _window_hashes(codes, self.window)
        at = np.searchsorted(self._hashes, h)
        found = self._hashes[np.minimum(at, len(self._hashes) - 1)] == h
        spot = np.minimum(np.searchsorted(self._alphabet, codes), len(self._alphabet) - 1)
        foreign = np.concatenate([[0], np.cumsum(self._alphabet[spot] != codes)])
        return codes, found & (foreign[self.window:] == foreign[:-self.window]), at

    def copied_windows(self, text: str) -> np.ndarray:
        """One bool per ``window``-long slice of ``text``: does it occur in the training text?

        A slice holding a character the training text lacks is never copied.
        """
        return self._lookup(text)[1]

    def copy_rate(self, text: str) -> float:
        """Share of the ``window``-character slices of ``text`` found in the training text;
        NaN when ``text`` is shorter than one window."""
        copied = self.copied_windows(text)
        return float(copied.mean()) if len(copied) else math.nan

    def copy_stats(self, text: str) -> tuple[float, int]:
        """(copy rate, longest copied span) of ``text``, sharing one lookup."""
        codes, copied, at = self._lookup(text)
        rate = float(copied.mean()) if len(copied) else math.nan
        return rate, self._longest(codes, copied, at)

    def longest_copy(self, text: str) -> int:
        """Length of the longest slice of ``text`` found verbatim in the training text, if it
        is at least ``window`` characters long; 0 otherwise."""
        return self._longest(*self._lookup(text))

    def _longest(self, codes: np.ndarray, copied: np.ndarray, at: np.ndarray) -> int:
        """Extend every copied window of the sample, at every place its hash occurs in the
        training text, as far as the two texts agree; the longest agreement wins.

        A verbatim span of W or more characters is made of copied windows, so it lies inside
        a run of them: the comparison never needs to reach past the run's last character.
        """
        starts = np.flatnonzero(copied)
        if len(starts) == 0:
            return 0
        ends = np.zeros(len(copied), dtype=np.int64)  # last char (exclusive) of each run
        for first, stop in _runs(copied):
            ends[first:stop] = stop - 1 + self.window
        count = np.searchsorted(self._hashes, self._hashes[at[starts]], side="right") \
            - at[starts]
        pair = np.repeat(np.arange(len(starts)), count)
        rank = np.arange(len(pair)) - np.repeat(np.cumsum(count) - count, count)
        sample_at = starts[pair]
        train_at = self._starts[at[starts][pair] + rank]
        reach = ends[sample_at] - sample_at
        width = int(reach.max())
        best = 0
        step = max(1, CELLS // width)  # bounded memory for windows that occur very often
        for lo in range(0, len(pair), step):
            s_idx = sample_at[lo:lo + step, None] + np.arange(width)
            t_idx = train_at[lo:lo + step, None] + np.arange(width)
            same = (s_idx < ends[sample_at[lo:lo + step], None]) & (t_idx < len(self._codes))
            same &= (codes[np.minimum(s_idx, len(codes) - 1)]
                     == self._codes[np.minimum(t_idx, len(self._codes) - 1)])
            agree = np.where(same.all(axis=1), width, np.argmin(same, axis=1))
            best = max(best, int(agree.max()))
        return best if best >= self.window else 0


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of True in ``flags``, end exclusive."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))
