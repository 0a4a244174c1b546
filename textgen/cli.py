"""The ``textgen`` command line: run, resume, generate, report, validate, plugins.

A user's mistake (a bad spec, a missing corpus, an unknown sampler) prints one paragraph and
exits with code 2; ``--debug`` shows the Python traceback instead.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class TextgenGroup(click.Group):
    """Turns user errors into a short message and exit code 2; plugins add commands."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            where = ctx.meta.get("textgen.run_dir", "RUN_DIR")
            err_console.print(f"[yellow]Interrupted.[/] Completed epochs are saved; continue "
                              f"with `textgen resume {where}`.", highlight=False)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - classified below
            if ctx.meta.get("textgen.debug") or not _is_user_error(exc):
                raise
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
            err_console.print("[dim](run with --debug for the traceback)[/]")
            sys.exit(2)


def _is_user_error(exc: Exception) -> bool:
    from textgen.plugins import UnknownNameError

    return isinstance(exc, ValueError | UnknownNameError | FileNotFoundError | RuntimeError)


def _debug_option(f):
    def remember(ctx: click.Context, _param, value: bool) -> bool:
        ctx.meta["textgen.debug"] = ctx.meta.get("textgen.debug") or value
        return value
    return click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
                        callback=remember, help="Show Python tracebacks.")(f)


@click.group(cls=TextgenGroup)
@_debug_option
def cli() -> None:
    """Character-level text generation with pluggable backbones and samplers."""


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the run exactly here (default: <output_dir>/<name>-<timestamp>/).")
@click.option("--overwrite", is_flag=True, help="Replace a run already in --output-dir.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Continue this run from its last completed epoch.")
@click.option("--from-run", "trained", type=click.Path(file_okay=False, path_type=Path),
              help="Reuse this finished run's model instead of training: a new sampler sweep "
                   "(SPEC_PATH's generation settings) on the same model.")
@_debug_option
def run(spec_path: Path, output_dir: Path | None, overwrite: bool,
        resume_dir: Path | None, trained: Path | None) -> None:
    """Train and generate as SPEC_PATH says, writing everything to a run directory."""
    from textgen import rundir
    from textgen import spec as specs
    from textgen.experiment import RunError
    from textgen.experiment import run as run_experiment

    spec = specs.load(spec_path)
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
            from textgen.experiment import prepare_corpus

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
    from textgen.experiment import RunError

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
    from textgen import spec as specs
    from textgen.experiment import RunError
    from textgen.experiment import run as run_experiment

    if not rundir.is_run(run_dir):
        raise RunError(f"{run_dir} is not a textgen run directory (it has no {rundir.SPEC}).")
    click.get_current_context().meta["textgen.run_dir"] = run_dir
    run_experiment(specs.load(run_dir / rundir.SPEC), run_dir, console, resume=True)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--sampler", "stages", multiple=True,
              help="A stage, as in a spec: greedy, 'temperature: 0.5', 'top_k: 20'. Repeat "
                   "to chain stages. Default: temperature (1 unless --temperature).")
@click.option("--temperature", type=float, help="Temperature for the temperature stage.")
@click.option("--prompt", help="Text to continue (default: the run's first prompt).")
@click.option("--length", type=int, default=400, show_default=True)
@click.option("--num-samples", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Sample i uses seed + i; the same arguments give the same text.")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per sample.")
@click.option("--show", type=click.Choice(["text", "surprise"]), default="text",
              show_default=True, help="surprise: colour each character by its probability.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Stream the samples to this JSONL file (as --json), a batch at a time, "
                   "with a progress bar: for thousands of samples.")
@_debug_option
def generate(run_dir: Path, stages: tuple[str, ...], temperature: float | None,
             prompt: str | None, length: int, num_samples: int, seed: int, batch_size: int,
             as_json: bool, show: str, output: Path | None) -> None:
    """Sample from the model saved in RUN_DIR, without retraining."""
    from textgen.experiment import load_samples, load_trained, prepare_prompt
    from textgen.generation.engine import Decoder
    from textgen.generation.sampling import generate as run_generate
    from textgen.report.surprise import surprise_text
    from textgen.spec.schema import build_chain

    if length < 1:
        raise ValueError(f"--length must be at least 1, got {length}")
    if num_samples < 1:
        raise ValueError(f"--num-samples must be at least 1, got {num_samples}")
    if batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {batch_size}")
    chain = build_chain(_stages(stages, temperature))
    spec, model, vocab = load_trained(run_dir)
    if prompt is None:
        previous = load_samples(run_dir)
        prompt = previous[0].prompt if previous else spec.generation.prompt
        if not prompt:
            raise ValueError("give a --prompt: this run has no saved prompt to reuse")
    if prompt == "":
        raise ValueError("the prompt is empty: give at least one character")
    prompt = prepare_prompt(spec, prompt)
    missing = vocab.missing(prompt)
    if missing and spec.generation.unknown_chars == "error":
        raise ValueError(f"the prompt has characters the model never saw: "
                         f"{', '.join(map(repr, missing))}. Remove them, or set "
                         "generation.unknown_chars: skip in the run's spec.")
    decoder = Decoder(model, [chain])  # compiled once, shared by every batch

    def decode(rows):
        return run_generate(model, vocab, [chain], rows, length, batch_size,
                            spec.generation.unknown_chars, decoder=decoder)

    def record(s) -> str:
        return json.dumps({"prompt": s.prompt, "text": s.text, "sampler": s.sampler,
                           "sampler_config": chain.get_config(), "seed": s.seed,
                           "length": length})

    def emit(batch):
        for s in batch:
            if as_json:
                click.echo(record(s))
            elif show == "surprise":
                console.print(surprise_text(s))
            else:
                console.print(f"[dim]{s.prompt}[/]{s.text}", highlight=False)
                console.print()

    if output is None:
        _in_batches(decode, prompt, num_samples, seed, batch_size, emit)
        return
    from textgen.training.progress import make_progress

    with open(output, "w", encoding="utf-8") as f, make_progress(console) as progress:
        task = progress.add_task("generate", total=num_samples, info=f"-> {output}")

        def write(batch):
            f.writelines(record(s) + "\n" for s in batch)
            f.flush()
            progress.advance(task, len(batch))

        _in_batches(decode, prompt, num_samples, seed, batch_size, write)
    console.print(f"{num_samples} samples -> {output}", highlight=False)


def _in_batches(decode, prompt: str, num_samples: int, seed: int, batch_size: int,
                on_batch) -> None:
    """Sample i gets seed + i; decode ``batch_size`` at a time, holding one batch in memory."""
    from textgen.generation.sampling import plan_rows

    for start in range(0, num_samples, batch_size):
        count = min(batch_size, num_samples - start)
        on_batch(decode(plan_rows([prompt], 1, count, seed + start, coupled=True)))


def _stages(stages: tuple[str, ...], temperature: float | None) -> list:
    """Parse --sampler values (YAML stage syntax) and fold --temperature into the chain."""
    import yaml

    parsed = []
    for stage in stages:
        try:
            parsed.append(yaml.safe_load(stage))
        except yaml.YAMLError as err:
            why = getattr(err, "problem", None) or err
            raise ValueError(f"--sampler {stage!r} is not a stage in spec syntax (a name like "
                             f"greedy, or 'top_k: 20'): {why}") from None
    if not parsed:  # the documented default: plain sampling, temperature 1 unless given
        parsed, temperature = ["temperature"], 1.0 if temperature is None else temperature
    if temperature is not None:
        if "temperature" in parsed:
            parsed[parsed.index("temperature")] = {"temperature": temperature}
        else:
            parsed.append({"temperature": temperature})
    elif "temperature" in parsed:
        raise ValueError("the temperature sampler needs --temperature T (T > 0)")
    return parsed


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@_debug_option
def report(run_dir: Path) -> None:
    """Re-render RUN_DIR's tables and report from its saved results (no recomputing)."""
    from textgen import rundir
    from textgen import spec as specs
    from textgen.experiment import RunError, load_samples
    from textgen.report.markdown import write_report
    from textgen.report.tables import print_run

    if not rundir.is_run(run_dir):
        raise RunError(f"{run_dir} is not a textgen run directory (it has no {rundir.SPEC}).")
    if not (run_dir / rundir.METRICS).is_file():
        raise RunError(f"{run_dir} has no {rundir.METRICS}: the run has not finished.")
    spec = specs.load(run_dir / rundir.SPEC)
    metrics = rundir.read_json(run_dir / rundir.METRICS)
    samples = load_samples(run_dir)
    print_run(console, metrics, samples, spec)
    write_report(run_dir, metrics, samples, spec)


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@_debug_option
def validate(spec_path: Path) -> None:
    """Check SPEC_PATH without running it."""
    from textgen import spec as specs

    spec = specs.load(spec_path)
    chains = ", ".join(c.label() for c in spec.generation.chains())
    console.print(f"[green]ok[/] {spec_path}: {spec.name}, backbone {spec.backbone.type}, "
                  f"samplers {chains}")


@cli.command()
@click.argument("spec_paths", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the runs and comparison.{json,md,png} here "
                   "(default: runs/compare-<timestamp>/).")
@click.option("--reuse", is_flag=True,
              help="Keep runs already finished in --output-dir instead of training them again.")
@_debug_option
def compare(spec_paths: tuple[Path, ...], output_dir: Path | None, reuse: bool) -> None:
    """Train several specs alike and compare them side by side: bpc, speed, samples.

    SPEC_PATHS is one comparison file (a `base` spec and `runs` merged into it) or several
    plain spec files.
    """
    from textgen.compare import load_comparison, run_comparison

    comparison = load_comparison(spec_paths)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = output_dir or Path("runs") / f"compare-{stamp}"
    names = ", ".join(s.name for s in comparison.specs)
    console.print(f"[bold]textgen compare[/] {names} -> {target}")
    run_comparison(comparison, target, console, reuse=reuse)
    console.print(f"Comparison: [bold]{target / 'comparison.md'}[/]")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_debug_option
def plugins(as_json: bool) -> None:
    """List registered backbones, samplers and metrics, and plugins that failed to load."""
    from textgen.plugins import KINDS, registry
    from textgen.report.plugins import plugins_table

    reg = registry()
    if as_json:
        data = {kind: [{"name": e.name, "plugin": e.plugin, "dist": e.dist,
                        "version": e.version} for e in getattr(reg, kind).values()]
                for kind in KINDS}
        data["failures"] = [f.__dict__ for f in reg.failures]
        click.echo(json.dumps(data, indent=2))
        return
    for table in plugins_table(reg):
        console.print(table)


def _load_plugin_commands() -> None:
    from textgen.plugins import registry

    reg = registry()
    if reg.manager is not None:
        reg.manager.hook.register_commands(cli=cli)


def main() -> None:
    """Console entry point: quiet TensorFlow's start-up, add plugin commands, run."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "--debug" not in sys.argv:
        _quiet_native_stderr_while_importing_tensorflow()
    _load_plugin_commands()
    cli()


def _quiet_native_stderr_while_importing_tensorflow() -> None:
    """TensorFlow's C++ layer logs to fd 2 at import, before any setting applies."""
    import os

    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
