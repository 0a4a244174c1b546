"""Rich tables for the terminal: the training summary, the metric groups, invented words and
excerpts. Each table fits an 80-column terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from textgen.records import RunMetrics, Sample
from textgen.report.columns import number as _num
from textgen.report.grids import Grid, excerpt_grid, invented_grid, metric_grids, paired_grids
from textgen.spec.schema import Spec


def training_table(metrics: RunMetrics) -> Table:
    table = Table(title=f"Training: {metrics.name}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("held-out bits/char (last epoch)", _num(metrics.val_bpc, ".4f")),
        ("best held-out bits/char", _num(metrics.best_val_bpc, ".4f")),
        *([("held-out bits/char, dynamic eval.", _num(metrics.val_bpc_dynamic, ".4f"))]
          if metrics.val_bpc_dynamic is not None else []),
        *([("held-out bits/char, network alone", _num(metrics.val_bpc_network, ".4f"))]
          if metrics.val_bpc_network is not None else []),
        ("epochs", str(metrics.epochs)),
        ("training time", f"{_num(metrics.train_seconds, '.1f')} s"),
        ("training chars/s", _num(metrics.train_chars_per_second, ",.0f")),
        ("parameters", _num(metrics.parameters, ",")),
        ("vocabulary", str(metrics.vocab_size)),
        ("corpus chars", _num(metrics.corpus_chars, ",")),
        ("generation chars/s", _num(metrics.generation_chars_per_second, ",.0f")
         + " (steady state)"),
        ("generation compile s", _num(metrics.generation_compile_seconds, ".2f")),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def grid_table(grid: Grid, wrap_last: bool = False) -> Table:
    """A rich table of a grid; ``wrap_last`` lets the last (text) column take the spare width."""
    table = Table(title=grid.title, caption=Text(grid.caption) if grid.caption else None,
                  caption_justify="left")
    last = len(grid.headers) - 1
    for i, (header, numeric) in enumerate(zip(grid.headers, grid.numeric, strict=True)):
        if wrap_last and i == last:
            table.add_column(header, ratio=1)
        else:
            table.add_column(header, justify="right" if numeric else "left",
                             style="bold cyan" if i == 0 else None, no_wrap=numeric,
                             overflow="fold")
    for row in grid.rows:  # cells are text, never markup: samples and labels hold "[...]"
        table.add_row(*map(Text, row))
    if grid.reference:
        table.rows[-1].end_section = True
        for row in grid.reference:
            table.add_row(*map(Text, row), style="italic")
    return table


def samplers_tables(metrics: RunMetrics, samples: list[Sample], excerpt_chars: int) -> list[Table]:
    """The metric tables, the paired differences, then invented words and excerpts."""
    tables = [grid_table(g) for g in metric_grids(metrics)]
    tables += [grid_table(g) for g in paired_grids(metrics)]
    invented = invented_grid(metrics)
    if invented:
        tables.append(grid_table(invented, wrap_last=True))
    tables.append(grid_table(excerpt_grid(metrics.settings, samples, excerpt_chars),
                             wrap_last=True))
    return tables


def print_run(console: Console, metrics: RunMetrics, samples: list[Sample], spec: Spec) -> None:
    console.print(training_table(metrics))
    for table in samplers_tables(metrics, samples, spec.report.excerpt_chars):
        console.print(table)
