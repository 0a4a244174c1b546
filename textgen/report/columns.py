"""Which metric columns a sampler table shows, and how a (mean, low, high) cell reads."""

from __future__ import annotations

import math

# (metric key, column title): the trade the seed describes, from entropy to realism.
COLUMNS = [
    ("sampling_entropy", "sampling H (bits)"),
    ("model_entropy", "model H (bits)"),
    ("sample_nll_bpc", "sample NLL (bpc)"),
    ("distinct_word_2", "distinct word-2"),
    ("repetition_4", "repeated word-4"),
    ("real_word_share", "real words"),
]


def cell(interval: list[float] | None, digits: int = 2) -> str:
    """``1.23 ±0.10`` (half the 95% interval), or the mean alone when there is no spread."""
    if not interval:
        return "-"
    mean, low, high = (math.nan if v is None else v for v in interval)
    if math.isnan(mean):
        return "-"
    half = (high - low) / 2 if not (math.isnan(low) or math.isnan(high)) else 0.0
    return f"{mean:.{digits}f}" + (f" ±{half:.{digits}f}" if half > 0 else "")


def excerpt(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def extra_columns(settings: list[dict]) -> list[tuple[str, str]]:
    """Columns for metrics registered by plugins (any key the built-in list lacks)."""
    from textgen.metrics import METRIC_INFO

    known = set(METRIC_INFO) | {k for k, _ in COLUMNS}
    seen = dict.fromkeys(k for s in settings for k in s["metrics"] if k not in known)
    return [(k, k) for k in seen]
