"""Confidence intervals for per-sample metrics: Student t, no SciPy.

The t quantile is solved by bisection on the exact closed-form t distribution function for
integer degrees of freedom (Abramowitz & Stegun 26.7.3-4); beyond 1000 degrees of freedom a
Cornish-Fisher expansion around the normal quantile is exact to ~1e-10.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from statistics import NormalDist

_NAN3 = (math.nan, math.nan, math.nan)


def _t_central(t: float, df: int) -> float:
    """P(|T| < t) for Student t with integer ``df`` degrees of freedom (A&S 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 0:  # sin(theta) * [1 + 1/2 c^2 + (1*3)/(2*4) c^4 + ...], df/2 terms
        term = total = 1.0
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        return s * total
    total = 0.0  # 2/pi * [theta + sin(theta) cos(theta) (1 + 2/3 c^2 + (2*4)/(3*5) c^4 + ...)]
    if df > 1:
        term = total = 1.0
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        total *= s * math.sqrt(c2)
    return 2.0 / math.pi * (theta + total)


@functools.lru_cache(maxsize=4096, typed=True)  # a report asks for a few (confidence, df)
def t_quantile(confidence: float, df: int) -> float:
    """The t such that P(|T| < t) = ``confidence`` (two-sided) for ``df`` degrees of freedom."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be a positive integer, got {df!r}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    if df > 1000:  # Cornish-Fisher expansion of the t quantile in 1/df
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
        return z + g1 / df + g2 / df**2 + g3 / df**3
    lo, hi = z, max(2 * z, 1.0)  # the t quantile always exceeds the normal one
    while _t_central(hi, df) < confidence:
        lo, hi = hi, hi * 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if _t_central(mid, df) < confidence else (lo, mid)
    return hi


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its two-sided Student t confidence interval.

    NaN values are ignored; one value (or equal ones) gives (v, v, v); none gives three NaNs.
    """
    xs = [float(v) for v in values]
    xs = [v for v in xs if not math.isnan(v)]
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    n = len(xs)
    if n == 0:
        return _NAN3
    if min(xs) == max(xs):  # one value, or no spread: exactly (v, v, v)
        return xs[0], xs[0], xs[0]
    try:
        mean = math.fsum(xs) / n
    except OverflowError:  # values near the float limit
        mean = math.fsum(v / n for v in xs)
    dev = [v - mean for v in xs]
    scale = max(abs(d) for d in dev)  # scaled so that squares cannot overflow
    sd = scale * math.sqrt(math.fsum((d / scale) ** 2 for d in dev) / (n - 1)) if scale else 0.0
    half = t_quantile(confidence, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half
