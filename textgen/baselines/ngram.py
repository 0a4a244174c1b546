"""Interpolated modified Kneser-Ney character n-grams (Chen & Goodman 1998, section 3).

A reference model counted in a second or two with NumPy: every n-gram of the training text is
an int64 code in base ``len(vocab)``, so counting is ``np.unique`` and scoring is
``np.searchsorted``, vectorised over all scored characters at once. It scores any text the way
a neural model is scored: each character predicted from the ones before it, the first ones
with a lead-in (``context``) taken from the end of the training text. It is a scorer here;
``textgen.baselines.mixture`` puts the same counts into tensors, so a model can mix it with
its network and sample from the mixture inside the compiled decoder.

The estimate, for an n-gram ``hw`` (context h, next character w) at level k = len(hw)::

    p_k(w|h) = (max(c(hw) - D_k(c(hw)), 0) + gamma_k(h) p_{k-1}(w|h')) / C(h)   if C(h) > 0
             = p_{k-1}(w|h')                                                   otherwise
    gamma_k(h) = D_k1 N1(h.) + D_k2 N2(h.) + D_k3 N3+(h.),    C(h) = sum_w c(hw)
    p_0(w) = 1 / |vocab|

where h' drops h's oldest character, c is the raw count at the top level and the continuation
count N1+(.hw) (distinct characters seen before hw) below it, and the three discounts per level
come from that level's count-of-counts n_r: Y = n1/(n1 + 2 n2), D_k1 = 1 - 2Y n2/n1,
D_k2 = 2 - 3Y n3/n2, D_k3 = 3 - 4Y n4/n3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

MIN_DISCOUNT = 0.01  # keeps every level's back-off mass > 0 when a tiny text has no n2 or n3


@dataclass
class _Level:
    """Counts of one n-gram length: sorted codes, their counts, their contexts' statistics."""

    keys: np.ndarray        # sorted int64 codes of the n-grams seen
    counts: np.ndarray      # raw (top level) or continuation counts, > 0
    ctx_keys: np.ndarray    # sorted codes of the contexts (n-gram // V)
    ctx_total: np.ndarray   # C(h)
    ctx_backoff: np.ndarray  # D1 N1(h.) + D2 N2(h.) + D3 N3+(h.)
    discounts: np.ndarray   # [0, D1, D2, D3+]


def _discounts(counts: np.ndarray) -> np.ndarray:
    """Chen & Goodman's D1, D2, D3+ from the count-of-counts, clipped to (0, r] for tiny texts."""
    n = [float(np.count_nonzero(counts == r)) for r in range(1, 5)]
    y = n[0] / (n[0] + 2 * n[1]) if n[0] + 2 * n[1] > 0 else 1.0
    d = [r - (r + 1) * y * (n[r] / n[r - 1] if n[r - 1] > 0 else 0.0) for r in (1, 2, 3)]
    return np.array([0.0] + [min(max(v, MIN_DISCOUNT), r) for r, v in enumerate(d, start=1)])


def _level(keys: np.ndarray, counts: np.ndarray, vocab_size: int) -> _Level:
    discounts = _discounts(counts)
    ctx = keys // vocab_size  # sorted, since keys are
    ctx_keys, start = np.unique(ctx, return_index=True)
    total = np.add.reduceat(counts, start).astype(np.float64)
    backoff = np.add.reduceat(discounts[np.minimum(counts, 3)], start)
    return _Level(keys, counts, ctx_keys, total, backoff, discounts)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``query`` in sorted ``keys``; 0 where absent."""
    return _lookups(keys, query, values)[0]


def _lookups(keys: np.ndarray, query: np.ndarray, *values: np.ndarray) -> list[np.ndarray]:
    """Each of ``values`` at the positions of ``query`` in sorted ``keys`` (one search for
    all of them); 0 where absent."""
    if len(keys) == 0:
        return [np.zeros(len(query), dtype=v.dtype) for v in values]
    order = np.argsort(query)  # sorted queries search ~2x faster (each starts from the last)
    i = np.empty(len(query), dtype=np.intp)
    i[order] = np.searchsorted(keys, query[order])
    i = np.minimum(i, len(keys) - 1)
    found = keys[i] == query
    return [np.where(found, v[i], 0) for v in values]


def max_order(vocab_size: int) -> int:
    """The longest n-grams whose codes fit in an int64 for this vocabulary."""
    return int(62 / math.log2(max(vocab_size, 2)))


def check_order(order: int, vocab_size: int) -> None:
    if order < 1:
        raise ValueError(f"n-gram order must be at least 1, got {order}")
    if order > max_order(vocab_size):
        raise ValueError(f"order {order} is too long for a {vocab_size}-character vocabulary "
                         f"(codes must fit in 64 bits); use order <= {max_order(vocab_size)}")


def count_levels(ids: np.ndarray, vocab_size: int, order: int) -> list[_Level]:
    """Every level's counts for a text of ids (unigrams first): raw counts at the top level,
    continuation counts below it."""
    check_order(order, vocab_size)
    v, ids = vocab_size, np.asarray(ids, dtype=np.int64)
    raw_keys: list[tuple[np.ndarray, np.ndarray]] = []
    codes = np.zeros(len(ids), dtype=np.int64)
    for k in range(1, order + 1):  # codes of every k-gram, by extending the (k-1)-grams
        codes = codes[: len(ids) - k + 1] * v + ids[k - 1:]
        raw_keys.append(np.unique(codes, return_counts=True))
    levels = []
    for k in range(1, order + 1):
        if k == order:
            keys, counts = raw_keys[k - 1]
        else:  # continuation counts: distinct characters seen before each k-gram
            keys, counts = np.unique(raw_keys[k][0] % v**k, return_counts=True)
        levels.append(_level(keys, counts, v))
    return levels


def probability(levels: Sequence[_Level], vocab_size: int, ids: np.ndarray,
                positions: np.ndarray, nexts: np.ndarray) -> np.ndarray:
    """P(nexts[j] | ids before positions[j]) for every j, mixing all levels bottom-up."""
    v = vocab_size
    p = np.full(len(positions), 1.0 / v)
    ctx = np.zeros(len(positions), dtype=np.int64)  # code of the k-1 characters before
    for k, lv in enumerate(levels, start=1):
        if k > 1:  # prepend the next older character to every context
            older = positions - (k - 1)
            valid = older >= 0
            older_ids = ids[np.maximum(older, 0)] if len(ids) else np.zeros_like(older)
            ctx = ctx + np.where(valid, older_ids, 0) * v ** (k - 2)
        else:
            valid = np.ones(len(positions), dtype=bool)
        total, backoff = _lookups(lv.ctx_keys, ctx, lv.ctx_total, lv.ctx_backoff)
        count = _lookup(lv.keys, lv.counts, ctx * v + nexts)
        kept = np.maximum(count - lv.discounts[np.minimum(count, 3)], 0.0)
        seen = valid & (total > 0)
        p = np.where(seen, (kept + backoff * p) / np.where(seen, total, 1.0), p)
    return p


def adaptive_probability(base: np.ndarray, ids: np.ndarray, start: int, vocab_size: int,
                         order: int, every: int) -> np.ndarray:
    """P(ids[t] | the ids before t) for every t >= start, as an adaptive compressor reads: the
    counts of ``base`` plus the ids read since ``start``, counted again every ``every``
    characters, so a character is never predicted by counts that include it or what follows."""
    if every < 1:
        raise ValueError(f"the n-gram must be counted again every >= 1 characters, got {every}")
    ids = np.asarray(ids, dtype=np.int64)
    out = np.empty(max(len(ids) - start, 0))
    for block in range(start, len(ids), every):
        levels = count_levels(np.concatenate([np.asarray(base, np.int64), ids[start:block]]),
                              vocab_size, order)
        positions = np.arange(block, min(block + every, len(ids)))
        out[block - start:block - start + len(positions)] = probability(
            levels, vocab_size, ids, positions, ids[positions])
    return out


class KneserNey:
    """A fitted character n-gram model; build it with :meth:`fit`."""

    def __init__(self, chars: Sequence[str], order: int, levels: list[_Level]) -> None:
        self.chars = tuple(chars)
        self.order = order
        self.index = {c: i for i, c in enumerate(self.chars)}
        self._levels = levels
        points = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        self._order = np.argsort(points)  # encode looks code points up in sorted order
        self._points = points[self._order]

    @classmethod
    def fit(cls, text: str, order: int, vocab: Iterable[str] | None = None) -> KneserNey:
        """Count ``text``'s n-grams up to ``order`` characters (the context is order - 1).

        ``vocab`` fixes the alphabet (default: the text's own characters); characters in it
        that the text never shows still get probability through the uniform floor.
        """
        chars = sorted(set(text) | set(vocab or ()))
        if not chars:
            raise ValueError("cannot fit an n-gram model to an empty text")
        model = cls(chars, order, [])
        model._levels = count_levels(model.encode(text), len(chars), order)
        return model

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    @property
    def discounts(self) -> list[tuple[float, float, float]]:
        """(D1, D2, D3+) of each level, unigrams first."""
        return [(float(lv.discounts[1]), float(lv.discounts[2]), float(lv.discounts[3]))
                for lv in self._levels]

    def encode(self, text: str) -> np.ndarray:
        """Ids of ``text``'s characters; a character outside the vocabulary is an error."""
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        at = np.minimum(np.searchsorted(self._points, points), len(self._points) - 1)
        unknown = np.flatnonzero(self._points[at] != points)
        if len(unknown):  # vectorised: 10x faster than a dict lookup per character
            raise ValueError(f"character {text[unknown[0]]!r} is not in the n-gram model's "
                             f"{self.vocab_size}-character vocabulary")
        return self._order[at].astype(np.int64)

    def _probability(self, ids: np.ndarray, positions: np.ndarray,
                     nexts: np.ndarray) -> np.ndarray:
        return probability(self._levels, self.vocab_size, ids, positions, nexts)

    def bits(self, text: str, context: str = "") -> np.ndarray:
        """Bits (-log2 p) of each character of ``text``, given ``context`` before it."""
        ids = self.encode(context + text)
        positions = np.arange(len(context), len(ids))
        return -np.log2(self._probability(ids, positions, ids[positions]))

    def bpc(self, text: str, context: str = "") -> float:
        """Mean bits per character of ``text`` after ``context``."""
        if not text:
            raise ValueError("nothing to score: the text is empty")
        return float(self.bits(text, context).mean())

    def probs(self, context: str) -> np.ndarray:
        """The next-character distribution ``[vocab_size]`` after ``context``."""
        ids = self.encode(context)
        positions = np.full(self.vocab_size, len(ids))
        return self._probability(ids, positions, np.arange(self.vocab_size))


def score_orders(train_text: str, orders: Iterable[int] = range(2, 11), fraction: float = 0.1,
                 vocab: Iterable[str] | None = None) -> dict[int, float]:
    """Bits per character of the last ``fraction`` of ``train_text`` for each order, each
    model fitted on the rest (the held-out split is never looked at)."""
    cut = int(len(train_text) * (1 - fraction))
    fit_text, tune_text = train_text[:cut], train_text[cut:]
    if not fit_text or not tune_text:
        raise ValueError(f"a {len(train_text)}-character text is too short to choose an order")
    chars = sorted(set(train_text) | set(vocab or ()))
    return {n: KneserNey.fit(fit_text, n, chars).bpc(tune_text, fit_text[-n:])
            for n in orders}


def choose_order(train_text: str, orders: Iterable[int] = range(2, 11), fraction: float = 0.1,
                 vocab: Iterable[str] | None = None) -> int:
    """The order with the lowest bpc on the training text's own last ``fraction``."""
    scores = score_orders(train_text, orders, fraction, vocab)
    return min(scores, key=scores.__getitem__)
