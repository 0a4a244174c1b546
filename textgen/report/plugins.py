"""The ``textgen plugins`` tables: what is registered, by whom, and what failed to load."""

from __future__ import annotations

from rich.table import Table

from textgen.plugins import KINDS, Registry


def plugins_table(reg: Registry) -> list[Table]:
    table = Table(title="Registered plugins")
    for column in ("kind", "name", "plugin", "distribution", "version"):
        table.add_column(column)
    for kind in KINDS:
        for entry in sorted((e for (k, _), e in reg.entries.items() if k == kind),
                            key=lambda e: e.name):
            table.add_row(kind[:-1], entry.name, entry.plugin, entry.dist, entry.version)
    tables = [table]
    if reg.failures:
        failed = Table(title="Skipped (not loaded)", title_style="bold red")
        for column in ("plugin", "distribution", "version", "problem"):
            failed.add_column(column)
        for f in reg.failures:
            failed.add_row(f.plugin, f.dist, f.version, f.error)
        tables.append(failed)
    return tables
