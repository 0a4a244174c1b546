"""Compare backbones: train each spec alike, then time generation and set the results side by side.

The comparison file's schema and loading live in ``textgen.spec.comparison``; decoder timing in
``textgen.generation.timing``. This module runs them: train (or reuse) each run, time its
decoder, and write comparison.{json,md,png}.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from rich.console import Console

from textgen import rundir
from textgen.records import ComparedRun, ComparisonRecord
from textgen.spec.comparison import BenchmarkSpec, Comparison, differences

COMPARISON_JSON = "comparison.json"  # beside it, report.compare writes comparison.{md,png}


def measure_run(run_dir: Path, bench: BenchmarkSpec, prompt_text: str) -> ComparedRun:
    """One row of the comparison: a finished run's metrics, its curve and its decoding speed."""
    import tensorflow as tf

    from textgen.generation.timing import cached_vs_recomputed, decoding_speed
    from textgen.model import parts
    from textgen.training.callbacks import read_history

    spec, model, vocab = rundir.load_trained(run_dir)
    metrics = rundir.load_metrics(run_dir)
    backbone = parts(model)[1]
    ids = vocab.encode(prompt_text, unknown="skip")
    chains = spec.generation.chains()
    window = backbone.receptive_field
    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # one trace per batch shape is the point, not a problem
    try:
        speed = {str(b): decoding_speed(model, chains, ids[-bench.prompt_length:], b,
                                        bench.length, bench.repeats, bench.jit_compile)
                 for b in bench.batch_sizes}
        recomputed = None
        if bench.recomputed and window is not None and len(ids) >= window:
            recomputed = cached_vs_recomputed(model, ids, bench.length, bench.repeats,
                                              bench.jit_compile)
    finally:
        tf.get_logger().setLevel(level)
    keys = ("parameters", "epochs", "train_seconds", "train_chars_per_second", "val_bpc",
            "best_val_bpc", "val_bpc_dynamic", "val_bpc_network", "diverged", "settings")
    return ComparedRun.model_validate({
        "name": spec.name, "backbone": spec.backbone.type, "describe": backbone.describe(),
        "receptive_field": window, "run_dir": str(run_dir),
        **metrics.model_dump(include=set(keys)), "generation": speed, "recomputed": recomputed,
        "history": read_history(run_dir / rundir.HISTORY)})


def run_comparison(comparison: Comparison, out_dir: Path, console: Console,
                   reuse: bool = False) -> ComparisonRecord:
    """Train every spec into ``out_dir/<name>/``, benchmark each, write comparison.{json,md,png}."""
    from textgen.corpus.prepare import draw_prompts, prepare_corpus
    from textgen.errors import RunError
    from textgen.experiment import run as run_experiment
    from textgen.plugins import registry
    from textgen.report.compare import print_comparison, write_comparison
    from textgen.training.distribute import describe_device

    out_dir = Path(out_dir)
    unequal = differences(comparison.specs)
    for line in unequal:
        console.print(f"[yellow]not like for like:[/] {line}")
    rows = []
    for spec in comparison.specs:
        run_dir = out_dir / spec.name
        backbone = registry().backbone(spec.backbone.type).from_params(spec.backbone.params)
        if reuse and (run_dir / rundir.METRICS).is_file():
            console.print(f"[bold]{spec.name}[/]: reusing the finished run in {run_dir}")
        elif rundir.is_run(run_dir):
            raise RunError(f"{run_dir} already holds a run. Pass --reuse to keep finished runs, "
                           "or choose another --output-dir.")
        else:
            console.print(f"[bold]textgen compare[/] training {spec.name} -> {run_dir}")
            run_experiment(spec, run_dir, console)
        corpus = prepare_corpus(spec)
        bench = comparison.benchmark
        need = max(bench.prompt_length, backbone.receptive_field or 0)
        prompt = draw_prompts(corpus.val_text, 1, need, spec.seed)[0]
        console.print(f"[bold]{spec.name}[/]: timing generation")
        rows.append(measure_run(run_dir, bench, prompt))
    data = ComparisonRecord(name=comparison.name, device=describe_device(),
                            created=datetime.now().isoformat(timespec="seconds"),
                            benchmark=comparison.benchmark.model_dump(), differences=unequal,
                            runs=rows)
    write_comparison_record(out_dir, data)
    write_comparison(out_dir, data)
    print_comparison(console, data)
    return data


def write_comparison_record(out_dir: Path, record: ComparisonRecord) -> None:
    rundir.write_json(Path(out_dir) / COMPARISON_JSON, record.model_dump(mode="json"))


def read_comparison_record(out_dir: Path) -> ComparisonRecord:
    """A comparison directory's comparison.json; a ``RunError`` if missing or damaged."""
    from textgen.errors import RunError

    path = Path(out_dir) / COMPARISON_JSON
    if not path.is_file():
        raise RunError(f"{out_dir} has no {COMPARISON_JSON}: run `textgen compare` first.")
    try:
        return ComparisonRecord.model_validate(rundir.read_json(path))
    except ValueError as err:  # bad JSON or a record that does not validate
        raise RunError(f"{path} is damaged or not from textgen compare: {err}") from None
