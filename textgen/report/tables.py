"""Rich tables: the training summary and one row per sampler setting."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from textgen.generation.sample import Sample
from textgen.report.columns import COLUMNS, cell, excerpt, extra_columns
from textgen.spec.schema import Spec


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def training_table(metrics: dict) -> Table:
    table = Table(title=f"Training: {metrics['name']}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("held-out bits/char (last epoch)", _num(metrics.get("val_bpc"), ".4f")),
        ("best held-out bits/char", _num(metrics.get("best_val_bpc"), ".4f")),
        ("epochs", str(metrics.get("epochs"))),
        ("training time", f"{_num(metrics.get('train_seconds'), '.1f')} s"),
        ("training chars/s", _num(metrics.get("train_chars_per_second"), ",.0f")),
        ("parameters", _num(metrics.get("parameters"), ",")),
        ("vocabulary", str(metrics.get("vocab_size"))),
        ("corpus chars", _num(metrics.get("corpus_chars"), ",")),
        ("generation chars/s", _num(metrics.get("generation_chars_per_second"), ",.0f")),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def samplers_table(settings: list[dict], samples: list[Sample], excerpt_chars: int) -> Table:
    table = Table(title="Samples by sampler setting (mean ±95% interval half-width)")
    table.add_column("sampler", style="bold cyan", no_wrap=True)
    table.add_column("n", justify="right")
    table.add_column("excerpt", ratio=1)
    columns = COLUMNS + extra_columns(settings)
    for _, title in columns:
        table.add_column(title, justify="right")
    for k, setting in enumerate(settings):
        first = next((s for s in samples if s.setting == k), None)
        text = excerpt(first.text, excerpt_chars) if first else ""
        table.add_row(setting["sampler"], str(setting["samples"]), text,
                      *(cell(setting["metrics"].get(key)) for key, _ in columns))
    return table


def print_run(console: Console, metrics: dict, samples: list[Sample], spec: Spec) -> None:
    console.print(training_table(metrics))
    console.print(samplers_table(metrics["settings"], samples, spec.report.excerpt_chars))
