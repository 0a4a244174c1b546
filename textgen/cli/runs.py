"""Commands that train: ``run``, ``resume`` and ``compare``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from textgen.cli import _debug_option, cli, console


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the run exactly here (default: <output_dir>/<name>-<timestamp>/).")
@click.option("--overwrite", is_flag=True, help="Replace a run already in --output-dir.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Continue this run from its last completed epoch.")
@click.option("--from-run", "trained", type=click.Path(file_okay=False, path_type=Path),
              help="Reuse this finished run's model instead of training: a new sampler sweep "
                   "(SPEC_PATH's generation settings) on the same model. The corpus is still "
                   "read: prompts are drawn from its held-out part and the metrics compare "
                   "samples with its training text.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Change one spec value before validation, e.g. training.epochs=4 or "
                   "'generation.samplers=[greedy, {temperature: 0.5}]' (repeatable).")
@click.option("--tensorboard", is_flag=True,
              help="Write TensorBoard logs into the run directory (report.tensorboard: true).")
@_debug_option
def run(spec_path: Path, output_dir: Path | None, overwrite: bool, resume_dir: Path | None,
        trained: Path | None, overrides: tuple[str, ...], tensorboard: bool) -> None:
    """Train and generate as SPEC_PATH says, writing everything to a run directory."""
    from textgen import rundir
    from textgen.errors import RunError
    from textgen.experiment import run as run_experiment
    from textgen.spec.overrides import load_with_overrides

    if tensorboard:
        overrides = (*overrides, "report.tensorboard=true")
    spec = load_with_overrides(spec_path, overrides)
    if trained is not None and resume_dir is not None:
        raise click.UsageError("--from-run and --resume do not go together")
    if resume_dir is not None:
        if not rundir.is_run(resume_dir):
            raise RunError(f"--resume {resume_dir}: not a textgen run directory.")
        _check_resumable(spec, resume_dir)
        target, resume = resume_dir, True
    else:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = output_dir or Path(spec.output_dir) / f"{spec.name}-{stamp}"
        resume = False
        if rundir.is_run(target) and not overwrite:
            raise RunError(f"{target} already holds a run. Pass --overwrite to replace it, "
                           f"or --resume {target} to continue it.")
        if rundir.is_run(target):
            from textgen.corpus.prepare import prepare_corpus

            prepare_corpus(spec)  # a bad corpus must not cost the old run
            _clear_run(target)
    click.get_current_context().meta["textgen.run_dir"] = target
    console.print(f"[bold]textgen run[/] {spec.name} -> {target}")
    run_experiment(spec, target, console, resume=resume, trained=trained)
    console.print(f"Run directory: [bold]{target}[/]")


# What may change when `run SPEC --resume DIR` continues a run: how long, and what comes after.
RESUMABLE_CHANGES = ("name", "output_dir", "training.epochs", "training.max_seconds",
                     "generation", "report")


def _spec_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted paths where two spec dumps differ."""
    changes = []
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes += _spec_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            changes.append(f"{prefix}{key}")
    return changes


def _check_resumable(spec, run_dir: Path) -> None:
    """Refuse to continue a run's checkpoint under a spec that would train something else."""
    from textgen import rundir
    from textgen import spec as specs
    from textgen.errors import RunError

    saved = specs.load(run_dir / rundir.SPEC).model_dump(mode="json")
    changed = [c for c in _spec_changes(saved, spec.model_dump(mode="json"))
               if not any(c == ok or c.startswith(ok + ".") for ok in RESUMABLE_CHANGES)]
    if changed:
        raise RunError(f"--resume {run_dir}: this spec differs from the run's own "
                       f"{rundir.SPEC} in {', '.join(changed)}, so its checkpoint cannot "
                       f"continue it. Use `textgen resume {run_dir}`, or start a new run.")


def _clear_run(path: Path) -> None:
    from textgen import rundir

    for name in (rundir.CHECKPOINT, rundir.STATE, rundir.HISTORY, rundir.MODEL, rundir.METRICS,
                 rundir.SAMPLES, rundir.REPORT):
        (path / name).unlink(missing_ok=True)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@_debug_option
def resume(run_dir: Path) -> None:
    """Continue RUN_DIR from its last completed epoch, with its saved spec."""
    from textgen import rundir
    from textgen.experiment import run as run_experiment

    spec = rundir.load_spec(run_dir)
    click.get_current_context().meta["textgen.run_dir"] = run_dir
    run_experiment(spec, run_dir, console, resume=True)


@cli.command()
@click.argument("spec_paths", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the runs and comparison.{json,md,png} here "
                   "(default: runs/compare-<timestamp>/).")
@click.option("--reuse", is_flag=True,
              help="Keep runs already finished in --output-dir instead of training them again.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Change one spec value before validation, e.g. training.epochs=4 or "
                   "'generation.samplers=[greedy, {temperature: 0.5}]' (repeatable).")
@_debug_option
def compare(spec_paths: tuple[Path, ...], output_dir: Path | None, reuse: bool,
            overrides: tuple[str, ...]) -> None:
    """Train several specs alike and compare them side by side: bpc, speed, samples.

    SPEC_PATHS is one comparison file (a `base` spec and `runs` merged into it) or several
    plain spec files.
    """
    from textgen.compare import run_comparison
    from textgen.spec.comparison import load_comparison

    comparison = load_comparison(spec_paths, overrides)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = output_dir or Path("runs") / f"compare-{stamp}"
    names = ", ".join(s.name for s in comparison.specs)
    console.print(f"[bold]textgen compare[/] {names} -> {target}")
    run_comparison(comparison, target, console, reuse=reuse)
    console.print(f"Comparison: [bold]{target / 'comparison.md'}[/]")
