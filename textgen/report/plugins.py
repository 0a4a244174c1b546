"""The ``textgen plugins`` listing: what is registered, by whom, and what failed to load."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from textgen.plugins import DIST, KINDS, Registry


def plugins_table(reg: Registry, builtin_metrics: Sequence[str] = ()) -> Table:
    """One row per registered name; ``builtin_metrics`` (the report's own columns) last."""
    table = Table(title="Registered plugins")
    for column in ("kind", "name", "plugin", "distribution", "version"):
        table.add_column(column, overflow="fold")
    for kind in KINDS:
        for entry in sorted((e for (k, _), e in reg.entries.items() if k == kind),
                            key=lambda e: e.name):
            table.add_row(kind[:-1], entry.name, entry.plugin, entry.dist, entry.version)
    for name in builtin_metrics:
        table.add_row("metric", name, "(built-in report column)", DIST, "")
    return table


def failures_text(reg: Registry) -> list[str]:
    """Every skipped plugin as a full paragraph (never cut to the terminal's width)."""
    if not reg.failures:
        return []
    lines = [f"[bold red]Skipped ({len(reg.failures)}, not loaded):[/]"]
    lines += [f"- {escape(str(f))}" for f in reg.failures]
    return lines
