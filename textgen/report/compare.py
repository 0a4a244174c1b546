"""The comparison's tables (rich and Markdown) and its learning-curve plot, from comparison.json.

Everything here reads the saved comparison data only, so a comparison re-renders without
retraining or re-timing anything.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from textgen import rundir
from textgen.records import ComparisonRecord
from textgen.report.columns import MAIN_COLUMNS, cell
from textgen.report.columns import number as _num
from textgen.report.markdown import pipe_table as _md_table

SAMPLE_METRICS = MAIN_COLUMNS  # the main sample metrics, from likelihood to realism


def model_rows(data: ComparisonRecord) -> list[tuple[str, list[str]]]:
    """(quantity, one cell per run): training, held-out quality and generation speed."""
    runs = data.runs
    rows = [
        ("backbone", [f"{r.backbone}: {r.describe}" for r in runs]),
        ("parameters", [_num(r.parameters, ",") for r in runs]),
        ("epochs", [str(r.epochs) for r in runs]),
        ("training seconds", [_num(r.train_seconds, ".1f") for r in runs]),
        ("training chars/s", [_num(r.train_chars_per_second, ",.0f") for r in runs]),
        ("held-out bits/char (last epoch)", [_num(r.val_bpc, ".4f") for r in runs]),
        ("best held-out bits/char", [_num(r.best_val_bpc, ".4f") for r in runs]),
        ("held-out bits/char, dynamic eval.", [_num(r.val_bpc_dynamic, ".4f") for r in runs]),
        *([("held-out bits/char, network alone", [_num(r.val_bpc_network, ".4f") for r in runs])]
          if any(r.val_bpc_network is not None for r in runs) else []),
    ]
    length = data.benchmark["length"]
    for batch in data.benchmark["batch_sizes"]:
        speeds = [r.generation.get(str(batch), {}) for r in runs]
        rows.append((f"generation chars/s, batch {batch} ({length} chars)",
                     [_num(s.get("chars_per_second"), ",.0f") for s in speeds]))
        rows.append((f"  trace + compile seconds, batch {batch}",
                     [_num(s.get("compile_seconds"), ".2f") for s in speeds]))
    return rows


def recompute_rows(data: ComparisonRecord) -> list[list[str]]:
    """One row per run with a finite receptive field: cached against recomputed decoding."""
    rows = []
    for r in data.runs:
        c = r.recomputed
        if c:
            rows.append([r.name, str(c["window"]),
                         _num(c["cached"]["chars_per_second"], ",.0f"),
                         _num(c["recomputed"]["chars_per_second"], ",.0f"),
                         f"{c['speedup']:.1f}x", "yes" if c["same_text"] else "NO"])
    return rows


RECOMPUTE_HEADER = ["model", "window", "cached chars/s", "recomputed chars/s", "speedup",
                    "same greedy text"]


def shared_settings(data: ComparisonRecord) -> list[str]:
    """Sampler labels every run generated with, in the first run's order."""
    labels = [[s.sampler for s in r.settings] for r in data.runs]
    return [label for label in labels[0] if all(label in other for other in labels[1:])]


def sample_rows(data: ComparisonRecord) -> list[list[str]]:
    """Per shared sampler setting, one row per run: its main sample metrics."""
    rows = []
    for label in shared_settings(data):
        for r in data.runs:
            setting = next(s for s in r.settings if s.sampler == label)
            rows.append([label, r.name, str(setting.samples),
                         *(cell(setting.metrics.get(key)) for key, _ in SAMPLE_METRICS)])
    return rows


SAMPLE_HEADER = ["sampler", "model", "n", *(title for _, title in SAMPLE_METRICS)]


def tables(data: ComparisonRecord) -> list[Table]:
    main = Table(title=f"Comparison: {data.name} ({data.device})")
    main.add_column("", style="bold")
    for r in data.runs:
        main.add_column(r.name, justify="right")
    for label, cells in model_rows(data):
        main.add_row(label, *cells)
    out = [main]
    if recompute_rows(data):
        table = Table(title="Conv generation: cached step vs recomputing the receptive field "
                            "(batch 1, greedy)")
        for i, title in enumerate(RECOMPUTE_HEADER):
            table.add_column(title, justify="left" if i == 0 else "right")
        for row in recompute_rows(data):
            table.add_row(*row)
        out.append(table)
    samples = Table(title="Samples at the same sampler settings (H and NLL in bits/char; "
                          "mean ±95% interval half-width)")
    for i, title in enumerate(SAMPLE_HEADER):
        samples.add_column(title, justify="left" if i < 2 else "right")
    for row in sample_rows(data):
        samples.add_row(*row)
    out.append(samples)
    return out


def print_comparison(console: Console, data: ComparisonRecord) -> None:
    for line in data.differences:
        console.print(f"[yellow]not like for like:[/] {line}")
    for table in tables(data):
        console.print(table)


def render_markdown(data: ComparisonRecord, plot: str | None = "comparison.png") -> str:
    bench = data.benchmark
    lines = [f"# Comparison `{data.name}`", "",
             f"- device: {data.device}; created {data.created}",
             f"- generation speed: the compiled decoder, one warm-up call, then the median of "
             f"{bench['repeats']} calls of {bench['length']} characters",
             *(f"- **not like for like**: {d}" for d in data.differences), "",
             "## Models", ""]
    lines += _md_table(["", *(f"`{r.name}`" for r in data.runs)],
                       [[label, *cells] for label, cells in model_rows(data)])
    if recompute_rows(data):
        lines += ["## Cached vs recomputed conv generation (batch 1, greedy)", ""]
        lines += _md_table(RECOMPUTE_HEADER, recompute_rows(data))
    lines += ["## Samples at the same sampler settings", ""]
    lines += _md_table(SAMPLE_HEADER, sample_rows(data))
    if plot:
        lines += ["## Held-out bits/char against training time", "",
                  f"![held-out bits per character against wall-clock training seconds]({plot})",
                  ""]
    lines += ["## Run directories", "", *(f"- `{r.name}`: `{r.run_dir}`" for r in data.runs),
              ""]
    return "\n".join(lines)


def plot_curves(data: ComparisonRecord, path: Path) -> None:
    """Held-out bpc against wall-clock training seconds, one line per run (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for r in data.runs:
            points = [(h.elapsed_seconds, h.val_bpc) for h in r.history
                      if h.val_bpc is not None and h.elapsed_seconds is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                name, kind = r.name, r.backbone
                label = name if name == kind else f"{name} ({kind})"
                ax.plot(xs, ys, marker="o", markersize=3, label=label)
        ax.set_xlabel("training seconds (wall clock)")
        ax.set_ylabel("held-out bits per character")
        ax.set_title(f"{data.name}: held-out bpc during training")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        rundir.atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)


def write_comparison(out_dir: Path, data: ComparisonRecord) -> None:
    """comparison.md and comparison.png beside comparison.json."""
    out_dir = Path(out_dir)
    plot_curves(data, out_dir / "comparison.png")
    rundir.write_text(out_dir / "comparison.md", render_markdown(data))
