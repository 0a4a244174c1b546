"""Paired differences between two coupled sampler settings: is a difference real, or noise?

With ``generation.coupled: true`` sample i of prompt j has the same seed in every setting, so
two settings' samples pair up by (prompt, seed) and share their luck. The mean of the per-pair
differences gets a Student t interval from the differences themselves, which is narrower than
the unpaired (Welch) interval of the same samples by as much as the pairs are correlated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from textgen.metrics.stats import mean_ci, t_quantile

Interval = tuple[float, float, float]
Row = Mapping[str, float]


def excludes_zero(interval: Iterable[float | None]) -> bool:
    """True when the interval (mean, low, high) lies entirely above or below zero."""
    _, low, high = (math.nan if v is None else float(v) for v in interval)
    return low > 0 or high < 0


def welch_ci(first: list[float], second: list[float], confidence: float = 0.95) -> Interval:
    """mean(first) - mean(second) with the unpaired Welch t interval (degrees of freedom by
    Welch-Satterthwaite, rounded down; NaN values ignored)."""
    a = [v for v in first if not math.isnan(v)]
    b = [v for v in second if not math.isnan(v)]
    if not a or not b:
        return math.nan, math.nan, math.nan
    diff = math.fsum(a) / len(a) - math.fsum(b) / len(b)
    va, vb = (_var(x) / len(x) for x in (a, b))
    if va + vb == 0:
        return diff, diff, diff
    ra, rb = va / max(va, vb), vb / max(va, vb)  # scaled, so that squares cannot underflow
    below = ((ra**2 / (len(a) - 1) if len(a) > 1 else 0.0)
             + (rb**2 / (len(b) - 1) if len(b) > 1 else 0.0))
    df = (ra + rb) ** 2 / below if below > 0 else 1.0
    half = t_quantile(confidence, max(1, math.floor(df))) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


def _var(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mean = math.fsum(xs) / len(xs)
    return math.fsum((v - mean) ** 2 for v in xs) / (len(xs) - 1)


def paired_differences(first: Mapping[Any, Row], second: Mapping[Any, Row],
                       keys: Iterable[str], confidence: float = 0.95) -> dict:
    """Per metric key: ``first - second`` over the samples both settings have (same key, e.g.
    (prompt, seed)), as ``{"pairs": n, "paired": (mean, low, high), "unpaired": (...)}``.

    A pair where either value is NaN is left out; no common samples gives NaN intervals.
    """
    common = [k for k in first if k in second]
    out = {}
    for key in keys:
        a = [float(first[s].get(key, math.nan)) for s in common]
        b = [float(second[s].get(key, math.nan)) for s in common]
        both = [(x, y) for x, y in zip(a, b, strict=True)
                if not (math.isnan(x) or math.isnan(y))]
        out[key] = {"pairs": len(both),
                    "paired": mean_ci([x - y for x, y in both], confidence),
                    "unpaired": welch_ci([x for x, _ in both], [y for _, y in both],
                                         confidence)}
    return out
