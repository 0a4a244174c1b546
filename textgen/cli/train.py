"""The ``train`` command: a model of any UTF-8 text, with a spec sized to it and the budget."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from textgen.cli import _debug_option, cli, console


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--minutes", type=click.FloatRange(min=0.05), default=10.0, show_default=True,
              help="Training budget in minutes (wall clock); the model is sized to fit it.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the run exactly here (default: runs/train-<name>-<timestamp>/).")
@_debug_option
def train(paths: tuple[Path, ...], minutes: float, output_dir: Path | None) -> None:
    """Train on PATHS (text files, or folders of them) without writing a spec.

    textgen picks a model and schedule for the text's length and the budget, saves the
    resolved spec as spec.yaml in the run directory (rerun it with `textgen run`), trains,
    samples and reports as `textgen run` does.
    """
    from textgen import rundir
    from textgen.corpus.resolve import load_text
    from textgen.errors import CorpusError, RunError
    from textgen.experiment import run as run_experiment
    from textgen.spec.loader import validate
    from textgen.spec.schema import Spec
    from textgen.spec.sizing import MIN_CHARS, size_model, train_spec

    text = load_text(path=[str(p) for p in paths])  # binary, not UTF-8, empty: CorpusError
    shown = ", ".join(map(str, paths))
    if len(text) < MIN_CHARS:
        raise CorpusError(f"{shown}: {len(text):,} characters is too short to learn from; "
                          f"textgen train needs at least {MIN_CHARS:,}.")
    spec = validate(Spec, train_spec(list(paths), len(text), minutes), {}, "<textgen train>")
    target = output_dir or Path(spec.output_dir) / (
        f"{spec.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
    if rundir.is_run(target):
        raise RunError(f"{target} already holds a run; give another --output-dir.")
    size = size_model(len(text), minutes)
    click.get_current_context().meta["textgen.run_dir"] = target
    console.print(f"[bold]textgen train[/] {shown}: {len(text):,} characters, {minutes:g} "
                  f"minutes -> LSTM {size.units}, {size.epochs} epochs of {size.seq_len}-char "
                  f"windows", highlight=False)
    console.print(f"Spec: [bold]{target / rundir.SPEC}[/] (rerun or edit it with "
                  f"`textgen run {target / rundir.SPEC}`)", highlight=False)
    run_experiment(spec, target, console)
    console.print(f"Run directory: [bold]{target}[/]", highlight=False)
