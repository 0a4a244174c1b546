"""The report's tables as plain grids of strings, shared by the terminal and Markdown renderers
so that both always show the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

from textgen.records import RunMetrics, Sample, SettingSummary
from textgen.report.columns import (
    CHAR_ENTROPY_GROUP,
    DIGITS,
    cell,
    corpus_row,
    excerpt,
    paired_cell,
    table_groups,
)

INVENTED_SHOWN = 6


@dataclass
class Grid:
    """A titled table: ``numeric[i]`` right-aligns column i; ``reference`` rows follow a rule."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    reference: list[list[str]] = field(default_factory=list)
    caption: str = ""


def metric_grids(metrics: RunMetrics) -> list[Grid]:
    """One grid per column group: sampler, n (first grid only), then ``mean ±h`` cells."""
    settings = metrics.settings
    grids = []
    for g, (title, columns) in enumerate(table_groups(settings)):
        with_n = g == 0
        headers = ["sampler", *(["n"] if with_n else []), *(t for _, t in columns)]
        rows = [[s.sampler, *([str(s.samples)] if with_n else []),
                 *(cell(s.metrics.get(key), DIGITS.get(key, 2)) for key, _ in columns)]
                for s in settings]
        grid = Grid(title, headers, rows, [False] + [True] * (len(headers) - 1))
        held = metrics.reference
        if held is not None:  # real held-out text, every column computed as for the samples
            grid.reference = [[reference_label(held), *([str(held.samples)] if with_n else []),
                               *(cell(held.metrics.get(key), DIGITS.get(key, 2))
                                 for key, _ in columns)]]
        elif g == CHAR_ENTROPY_GROUP and (corpus := corpus_row(metrics)):  # older runs
            label, intervals = corpus
            grid.reference = [[label, *(cell(v) for v in intervals)]]
        grids.append(grid)
    if grids:
        grids[0].caption = "mean ±95% interval half-width over the samples of each setting"
    return grids


def reference_label(held: SettingSummary) -> str:
    length = (held.model_extra or {}).get("length")
    return f"{held.sampler} ({held.samples} × {length} chars)" if length else held.sampler


def paired_grids(metrics: RunMetrics) -> list[Grid]:
    """The ``report.compare`` pairs, one grid per column group: ``setting - baseline`` over
    the samples with the same prompt and seed, ``±`` half the paired 95% interval."""
    comparisons = metrics.comparisons
    if not comparisons:
        return []
    baselines = {c.baseline for c in comparisons}
    one = baselines.pop() if len(baselines) == 1 else None
    against = f"against {one}" if one else "(setting − baseline)"
    counts = {c.pairs for c in comparisons}
    pairs = counts.pop() if len(counts) == 1 else None  # one count: said once, in the caption
    grids = []
    for g, (title, columns) in enumerate(table_groups(metrics.settings)):
        with_n = g == 0 and pairs is None
        headers = ["setting" if one else "setting − baseline", *(["pairs"] if with_n else []),
                   *(t for _, t in columns)]
        rows = [[c.setting if one else f"{c.setting} − {c.baseline}",
                 *([str(c.pairs)] if with_n else []),
                 *(paired_cell(c.difference.get(key), DIGITS.get(key, 2)) for key, _ in columns)]
                for c in comparisons]
        grids.append(Grid(f"Paired differences {against}: {title}", headers, rows,
                          [False] + [True] * (len(headers) - 1)))
    grids[0].caption = ("mean difference over " + (f"{pairs} pairs of " if pairs else "")
                        + "samples with the same prompt and seed, ±95% paired interval "
                        "half-width; * the interval excludes 0")
    return grids


def invented_grid(metrics: RunMetrics, shown: int = INVENTED_SHOWN) -> Grid | None:
    """A few invented words (not in the training text) per setting; None for older runs."""
    settings = metrics.settings
    if not any("invented_examples" in s.model_fields_set for s in settings):
        return None
    rows = [[s.sampler, ", ".join(s.invented_examples[:shown]) or "-"]
            for s in settings]
    return Grid("Invented words (first seen, per setting)", ["sampler", "examples"], rows,
                [False, False])


def excerpt_grid(settings: list[SettingSummary], samples: list[Sample], limit: int) -> Grid:
    """The first sample of every setting, shortened to ``limit`` characters."""
    rows = []
    firsts = []
    for k, setting in enumerate(settings):
        first = next((s for s in samples if s.setting == k), None)
        firsts.append(first)
        rows.append([setting.sampler, str(first.seed) if first else "-",
                     excerpt(first.text, limit) if first else ""])
    prompts = {s.prompt for s in firsts if s is not None}
    caption = (f"continuing: {excerpt(prompts.pop(), limit)}" if len(prompts) == 1 else "")
    return Grid("Excerpts (first sample of each setting)", ["sampler", "seed", "excerpt"], rows,
                [False, True, False], caption=caption)
