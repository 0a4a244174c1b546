"""The run's Markdown report (report.md) and the figure it shows: the same tables as the
terminal, the plot, then every sample coloured by how likely the model found each character."""

from __future__ import annotations

import math
from pathlib import Path

from textgen import rundir
from textgen.records import RunMetrics, Sample
from textgen.report.columns import number as _num
from textgen.report.grids import Grid, excerpt_grid, invented_grid, metric_grids, paired_grids
from textgen.report.plots import PLOT, write_plot
from textgen.report.surprise import legend_html, surprise_html
from textgen.spec.schema import Spec


def _row(values: list[str]) -> str:
    return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"


def pipe_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A plain Markdown pipe table (cells escaped), then a blank line."""
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows), ""]


def grid_markdown(grid: Grid, code_first: bool = True) -> list[str]:
    """A pipe table under a level-3 heading; the sampler column in code spans."""
    lines = [f"### {grid.title}", ""]
    if grid.caption:
        lines += [grid.caption, ""]
    lines.append(_row(grid.headers))
    lines.append(_row(["---:" if n else "---" for n in grid.numeric]))
    for row in grid.rows:
        first = f"`{row[0]}`" if code_first else row[0]
        lines.append(_row([first, *row[1:]]))
    for row in grid.reference:
        lines.append(_row([f"*{row[0]}*", *row[1:]]))
    return [*lines, ""]


def _corpus_line(metrics: RunMetrics) -> list[str]:
    whole = metrics.corpus_char_entropy
    if not whole:
        return []
    values = ", ".join(f"H{k[-1]} {v:.2f}" for k, v in whole.items()
                       if v is not None and not math.isnan(v))
    return [f"- training text's char n-gram entropy (whole text, bits): {values}"]


def render(metrics: RunMetrics, samples: list[Sample], spec: Spec, plot: str | None = None) -> str:
    """report.md as a string; ``plot`` is the figure's file name beside it, if there is one."""
    m = metrics
    val = m.val_bpc
    lines = [
        f"# Run `{m.name}`", "",
        f"- held-out bits/char: **{val:.4f}**" if val is not None else "- held-out: -",
        *([f"- held-out bits/char with dynamic evaluation (adapting as it reads, like a "
           f"compressor): {m.val_bpc_dynamic:.4f}"] if m.val_bpc_dynamic is not None else []),
        *([f"- held-out bits/char of the network alone, without its n-gram mixture: "
           f"{m.val_bpc_network:.4f}"] if m.val_bpc_network is not None else []),
        f"- epochs: {m.epochs}, training {m.train_seconds:.1f} s, "
        f"{_num(m.train_chars_per_second, ',.0f')} chars/s",
        f"- parameters: {m.parameters:,}, vocabulary {m.vocab_size}",
        f"- generation: {_num(m.generation_chars_per_second, ',.0f')} chars/s steady state "
        f"(compiling the decoding loop: {_num(m.generation_compile_seconds, '.2f')} s, once)",
        *([f"- metrics: {m.metrics_seconds:.2f} s (every sample and the held-out row)"]
          if m.metrics_seconds is not None else []),
        *_corpus_line(metrics), "",
        "## Samplers", "",
    ]
    if plot:
        lines += [f"![entropy, diversity and realism against temperature]({plot})", ""]
    for grid in metric_grids(metrics):
        lines += grid_markdown(grid)
    if metrics.comparisons:
        lines += ["## Paired differences", ""]
        for grid in paired_grids(metrics):
            lines += grid_markdown(grid)
    invented = invented_grid(metrics)
    if invented:
        lines += grid_markdown(invented)
    lines += grid_markdown(excerpt_grid(m.settings, samples, spec.report.excerpt_chars))
    lines += ["## Samples", "",
              "Each generated character is coloured by its probability under the model "
              "(temperature 1):", "", legend_html(), ""]
    for s in samples:
        lines += [f"### `{s.sampler}`, seed {s.seed}", "",
                  f'<pre style="white-space: pre-wrap">{surprise_html(s)}</pre>', ""]
    return "\n".join(lines)


def write_report(run_dir: Path, metrics: RunMetrics, samples: list[Sample], spec: Spec) -> None:
    """Write the figure (entropy_report.png, when any setting can be plotted) and report.md."""
    plot = write_plot(run_dir, metrics)
    rundir.write_text(Path(run_dir) / rundir.REPORT,
                      render(metrics, samples, spec, PLOT if plot else None))
