"""Colour each generated character by its probability under the model: where a sample became
unlikely shows at a glance (green likely, yellow, red rare)."""

from __future__ import annotations

import html
import math

from rich.text import Text

from textgen.generation.sample import Sample

# (lowest probability, rich style, html colour), most likely first
BANDS = [(0.5, "green", "#2e7d32"), (0.1, "yellow", "#b58900"), (0.01, "dark_orange", "#e65100"),
         (0.0, "bold red", "#c62828")]


def band(logprob: float) -> int:
    p = math.exp(logprob)
    return next(i for i, (low, _, _) in enumerate(BANDS) if p >= low)


def surprise_text(sample: Sample) -> Text:
    text = Text(sample.prompt, style="dim")
    for char, lp in zip(sample.text, sample.token_logprob, strict=False):
        text.append(char, style=BANDS[band(lp)][1])
    return text


def surprise_html(sample: Sample) -> str:
    """The same colouring as inline HTML spans, for the Markdown report."""
    parts = [f'<span style="color:#888">{html.escape(sample.prompt)}</span>']
    for char, lp in zip(sample.text, sample.token_logprob, strict=False):
        colour = BANDS[band(lp)][2]
        parts.append(f'<span style="color:{colour}">{html.escape(char)}</span>')
    return "".join(parts)
