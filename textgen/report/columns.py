"""Which metric columns the sampler tables show, grouped so each table fits 80 columns.

A cell reads ``mean ±h`` where ``h`` is half the 95% interval; metrics.json stores each metric
as ``[mean, low, high]`` (``null`` for NaN), and every helper here accepts either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textgen.records import RunMetrics, SettingSummary

Column = tuple[str, str]  # (metric key, column title)

# (table title, columns): the trade the seed describes, from entropy to realism.
GROUPS: list[tuple[str, list[Column]]] = [
    ("Entropy and likelihood (bits per char)", [
        ("sampling_entropy", "sampling H"),
        ("model_entropy", "model H"),
        ("sample_nll_bpc", "sample NLL"),
        ("judge_bpc", "judge bpc"),
    ]),
    ("Character n-gram entropy (bits), against the corpus", [
        ("char_entropy_1", "char H1"),
        ("char_entropy_2", "char H2"),
        ("char_entropy_3", "char H3"),
    ]),
    ("Diversity and realism (shares; invented: distinct words per sample)", [
        ("distinct_word_2", "distinct w2"),
        ("repetition_4", "repeat w4"),
        ("real_word_share", "real words"),
        ("invented_words", "invented"),
    ]),
    ("Memorisation and word statistics (copied: share of 16-char windows; longest: chars)", [
        ("copy_rate", "copied"),
        ("longest_copy", "longest copy"),
        ("zipf_slope", "Zipf slope"),
        ("self_bleu", "self-BLEU"),
    ]),
]
# The comparison's sample columns: the main ones, from likelihood to realism.
MAIN_KEYS = ("sampling_entropy", "model_entropy", "sample_nll_bpc", "distinct_word_2",
             "repetition_4", "real_word_share")
DIGITS = {"invented_words": 1, "longest_copy": 1, "copy_rate": 3}  # decimals, where not 2
COLUMNS: list[Column] = [c for _, columns in GROUPS for c in columns]
MAIN_COLUMNS: list[Column] = [c for key in MAIN_KEYS for c in COLUMNS if c[0] == key]
CHAR_ENTROPY_GROUP = 1  # the group that gets the corpus's own row
PER_TABLE = 4           # plugin columns per extra table


def _floats(interval: Sequence[float | None] | None) -> tuple[float, float, float]:
    if not interval:
        return math.nan, math.nan, math.nan
    mean, low, high = (math.nan if v is None else float(v) for v in interval)
    return mean, low, high


def number(value: float | None, fmt: str) -> str:
    """A figure formatted with ``fmt``, or ``-`` when there is none."""
    return "-" if value is None else format(value, fmt)


def cell(interval: Sequence[float | None] | None, digits: int = 2) -> str:
    """``1.23 ±0.10`` (half the 95% interval), or the mean alone when there is no spread."""
    mean, low, high = _floats(interval)
    if math.isnan(mean):
        return "-"
    half = (high - low) / 2 if not (math.isnan(low) or math.isnan(high)) else 0.0
    return f"{mean:.{digits}f}" + (f" ±{half:.{digits}f}" if half > 0 else "")


def paired_cell(interval: Sequence[float | None] | None, digits: int = 2) -> str:
    """``+0.12 ±0.03 *``: a signed mean difference, half its 95% interval, and ``*`` when the
    interval excludes zero."""
    mean, low, high = _floats(interval)
    if math.isnan(mean):
        return "-"
    half = (high - low) / 2 if not (math.isnan(low) or math.isnan(high)) else 0.0
    mark = " *" if low > 0 or high < 0 else ""
    return f"{mean:+.{digits}f}" + (f" ±{half:.{digits}f}" if half > 0 else "") + mark


def excerpt(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def extra_columns(settings: list[SettingSummary]) -> list[Column]:
    """Columns for metrics registered by plugins (any key the built-in list lacks)."""
    from textgen.metrics import METRIC_INFO

    known = set(METRIC_INFO) | {k for k, _ in COLUMNS}
    seen = dict.fromkeys(k for s in settings for k in s.metrics if k not in known)
    return [(k, k) for k in seen]


def table_groups(settings: list[SettingSummary]) -> list[tuple[str, list[Column]]]:
    """The built-in groups, then plugin metrics, ``PER_TABLE`` columns to a table."""
    extra = extra_columns(settings)
    return GROUPS + [("Plugin metrics", extra[i:i + PER_TABLE])
                     for i in range(0, len(extra), PER_TABLE)]


def corpus_row(metrics: RunMetrics) -> tuple[str, list[Sequence[float | None] | None]] | None:
    """The corpus's own char entropy for the char-entropy table: (label, intervals) or None.

    Uses windows as long as the samples when the run stored them (n-gram entropy grows with
    text length, so only equal lengths compare), else the whole training text.
    """
    keys = [k for k, _ in GROUPS[CHAR_ENTROPY_GROUP][1]]
    windows = metrics.corpus_window_char_entropy
    if windows:
        label = f"corpus ({windows.get('windows')} × {windows.get('length')} chars)"
        return label, [windows.get(k) for k in keys]
    whole = metrics.corpus_char_entropy
    if whole:
        return "corpus (whole)", [[whole.get(k)] * 3 for k in keys]
    return None
