"""Self-BLEU: how much the samples of one setting resemble each other (Zhu et al. 2018).

Each sample is scored with BLEU (word n-grams up to 4, brevity penalty) against the other
samples of its setting as references; high means the setting writes the same phrases again
and again. Chunks of one book share phrases too, so the held-out text's own row is the
yardstick, not 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from textgen.metrics.text import words

MAX_SAMPLES = 50  # BLEU against every other sample is quadratic: cap the set
ORDER = 4


def _grams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(zip(*(tokens[k:] for k in range(n)), strict=False))


def _score(matches: list[int], totals: list[int], length: int, ref_length: int) -> float:
    """BLEU from clipped matches and totals per order: add-one smoothing above unigrams (Lin &
    Och 2004), geometric mean, brevity penalty exp(1 - r/c) when the hypothesis is shorter."""
    if length == 0:
        return math.nan
    logs = []
    for n, (m, t) in enumerate(zip(matches, totals, strict=True), start=1):
        m, t = (m + 1, t + 1) if n > 1 else (m, t)
        if m == 0:
            return 0.0
        logs.append(math.log(m / t))
    brevity = min(0.0, 1.0 - ref_length / length)
    return math.exp(brevity + math.fsum(logs) / len(logs))


def bleu(hypothesis: Sequence[str], references: Sequence[Sequence[str]],
         order: int = ORDER) -> float:
    """Sentence BLEU of a list of words against reference lists (counts clipped to the most
    any one reference has; reference length closest to the hypothesis's, shorter on ties)."""
    if not references:
        return math.nan
    matches, totals = [], []
    for n in range(1, order + 1):
        hyp = _grams(hypothesis, n)
        most: Counter[tuple[str, ...]] = Counter()
        for ref in references:
            most |= _grams(ref, n)
        matches.append(sum(min(c, most[g]) for g, c in hyp.items()))
        totals.append(sum(hyp.values()))
    ref_length = min((len(r) for r in references), key=lambda r: (abs(r - len(hypothesis)), r))
    return _score(matches, totals, len(hypothesis), ref_length)


def self_bleu(texts: Sequence[str], limit: int = MAX_SAMPLES, order: int = ORDER) -> list[float]:
    """BLEU of each of the first ``limit`` texts against the others among them; NaN for the
    texts past ``limit`` and when there is only one text.

    Same result as ``bleu`` per text, in time linear in the n-grams: each n-gram keeps its two
    highest counts (and who has the highest), so "the most any other text has" is a lookup.
    """
    tokens = [words(t) for t in texts[:limit]]
    out = [math.nan] * len(texts)
    if len(tokens) < 2:
        return out
    counts = [[_grams(t, n) for n in range(1, order + 1)] for t in tokens]
    top: list[dict[tuple[str, ...], tuple[int, int, int]]] = [{} for _ in range(order)]
    for owner, per_order in enumerate(counts):
        for level, grams in zip(top, per_order, strict=True):
            for g, c in grams.items():
                old = level.get(g)
                if old is None:
                    level[g] = (c, owner, 0)
                elif c > old[0]:
                    level[g] = (c, owner, old[0])
                elif c > old[2]:
                    level[g] = (old[0], old[1], c)
    lengths = sorted(len(t) for t in tokens)
    for i, per_order in enumerate(counts):
        matches = []
        for level, grams in zip(top, per_order, strict=True):
            hits = 0
            for g, c in grams.items():
                best, who, second = level[g]
                other = second if who == i else best
                hits += c if c < other else other
            matches.append(hits)
        others = list(lengths)
        others.remove(len(tokens[i]))
        ref = min(others, key=lambda r: (abs(r - len(tokens[i])), r))
        out[i] = _score(matches, [sum(g.values()) for g in per_order], len(tokens[i]), ref)
    return out
