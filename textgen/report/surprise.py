"""Colour each generated character by its probability under the model: where a sample became
unlikely shows at a glance (green likely, yellow, orange, red rare; the prompt grey)."""

from __future__ import annotations

import html
import math

from rich.text import Text

from textgen.records import Sample

# (lowest probability, rich style, html colour), most likely first
BANDS = [(0.5, "green", "#2e7d32"), (0.1, "yellow", "#b58900"), (0.01, "dark_orange", "#e65100"),
         (0.0, "bold red", "#c62828")]
PROMPT_STYLE, PROMPT_COLOUR = "dim", "#888888"


def band(logprob: float | None) -> int:
    """Index into ``BANDS`` of a natural-log probability (NaN or missing counts as rarest)."""
    p = 0.0 if logprob is None or math.isnan(logprob) else math.exp(logprob)
    return next(i for i, (low, _, _) in enumerate(BANDS) if p >= low)


def band_label(i: int) -> str:
    low = BANDS[i][0]
    high = BANDS[i - 1][0] if i > 0 else None
    if high is None:
        return f"p ≥ {low:g}"
    return f"p < {high:g}" if low == 0 else f"{low:g} ≤ p < {high:g}"


def surprise_text(sample: Sample) -> Text:
    text = Text(sample.prompt, style=PROMPT_STYLE)
    for char, lp in zip(sample.text, sample.token_logprob, strict=False):
        text.append(char, style=BANDS[band(lp)][1])
    return text


def _span(colour: str, text: str) -> str:
    return f'<span style="color:{colour}">{html.escape(text)}</span>'


def surprise_html(sample: Sample) -> str:
    """The same colouring as inline HTML spans, for the Markdown report.

    Neighbouring characters of one band share a span, which keeps the report small.
    """
    parts = [_span(PROMPT_COLOUR, sample.prompt)] if sample.prompt else []
    run, current = "", ""
    for char, lp in zip(sample.text, sample.token_logprob, strict=False):
        colour = BANDS[band(lp)][2]
        if colour != current and run:
            parts.append(_span(current, run))
            run = ""
        run, current = run + char, colour
    if run:
        parts.append(_span(current, run))
    return "".join(parts)


def legend_html() -> str:
    """The Markdown report's legend, as coloured spans."""
    items = [_span(PROMPT_COLOUR, "prompt")]
    items += [_span(colour, band_label(i)) for i, (_, _, colour) in enumerate(BANDS)]
    return " · ".join(items)
