"""The run's Markdown report: the same tables as the terminal, then every sample in full."""

from __future__ import annotations

from pathlib import Path

from textgen import rundir
from textgen.generation.sample import Sample
from textgen.report.columns import COLUMNS, cell, excerpt, extra_columns
from textgen.spec.schema import Spec


def _row(values: list[str]) -> str:
    return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"


def render(metrics: dict, samples: list[Sample], spec: Spec) -> str:
    val = metrics.get("val_bpc")
    lines = [
        f"# Run `{metrics['name']}`", "",
        f"- held-out bits/char: **{val:.4f}**" if val is not None else "- held-out: -",
        f"- epochs: {metrics['epochs']}, training {metrics['train_seconds']:.1f} s, "
        f"{metrics['train_chars_per_second']:,.0f} chars/s",
        f"- parameters: {metrics['parameters']:,}, vocabulary {metrics['vocab_size']}",
        f"- generation: {metrics['generation_chars_per_second']:,.0f} chars/s", "",
        "## Samplers", "",
    ]
    columns = COLUMNS + extra_columns(metrics["settings"])
    lines.append(_row(["sampler", "n", "excerpt", *(t for _, t in columns)]))
    lines.append(_row(["---"] * (3 + len(columns))))
    for k, setting in enumerate(metrics["settings"]):
        first = next((s for s in samples if s.setting == k), None)
        text = excerpt(first.text, spec.report.excerpt_chars) if first else ""
        lines.append(_row([f"`{setting['sampler']}`", str(setting["samples"]), text,
                           *(cell(setting["metrics"].get(key)) for key, _ in columns)]))
    lines += ["", "## Samples", ""]
    for s in samples:
        lines += [f"### `{s.sampler}`, seed {s.seed}", "", "```text",
                  f"[{s.prompt}]{s.text}", "```", ""]
    return "\n".join(lines)


def write_report(run_dir: Path, metrics: dict, samples: list[Sample], spec: Spec) -> None:
    rundir.write_text(Path(run_dir) / rundir.REPORT, render(metrics, samples, spec))
