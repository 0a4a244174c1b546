"""Word Zipf coefficient: the slope of log frequency against log rank of a text's words.

Natural text gives about -1 over a whole book (Zipf's law); on a few hundred characters the
slope is shallower (most words occur once), so compare it with the held-out text cut into
pieces of the same length, not with -1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from textgen.metrics.text import words


def zipf_slope(text: str | Sequence[str]) -> float:
    """Least-squares slope of ln(count) against ln(rank), words ranked by count (most frequent
    rank 1); NaN with fewer than two different words."""
    found = words(text) if isinstance(text, str) else list(text)
    counts = sorted(Counter(found).values(), reverse=True)
    if len(counts) < 2:
        return math.nan
    xs = [math.log(r) for r in range(1, len(counts) + 1)]
    ys = [math.log(c) for c in counts]
    mx, my = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    return sxy / sxx
