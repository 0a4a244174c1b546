"""Compare backbones: train each spec alike, then time generation and set the results side by side.

A comparison file lists models under ``runs``; each entry is merged into the shared ``base`` spec
(mappings key by key, anything else replaced) and validated as a full spec, so every model sees
the same corpus split, budget and seed unless an entry says otherwise. Generation speed is
measured with the compiled ``Decoder`` itself: one warm-up call (tracing and XLA compiling),
then the median of a few timed calls.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, PositiveInt, ValidationError
from rich.console import Console

from textgen import rundir
from textgen.spec.errors import Problem, SpecError, format_validation_error
from textgen.spec.loader import load_yaml_with_positions, validate
from textgen.spec.schema import Section, Spec

COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"
COMPARISON_PNG = "comparison.png"
# Settings that must agree for a like-for-like comparison (the first differing one is reported).
SHARED = ("corpus", "seed", "training.max_seconds", "training.epochs", "training.batch_size",
          "evaluation", "generation.samplers")


class BenchmarkSpec(Section):
    """How generation speed is measured after training."""

    length: int = Field(400, ge=1, description="characters generated per timed call")
    batch_sizes: list[PositiveInt] = Field(default_factory=lambda: [1, 64], min_length=1)
    repeats: int = Field(3, ge=1, description="timed calls after the warm-up; the median counts")
    prompt_length: int = Field(60, ge=1, description="characters of held-out prompt per row")
    recomputed: bool = Field(True, description="also time recomputing each receptive field")
    jit_compile: bool = Field(True, description="compile the decoding loops with XLA")


class CompareFile(Section):
    """A comparison file: ``base`` (shared spec fields), ``runs`` (one entry per model)."""

    name: str = Field("compare", pattern=r"^[A-Za-z0-9_.-]+$", description="the report's title")
    base: dict[str, Any] = Field(default_factory=dict, description="spec fields every run shares")
    runs: list[dict[str, Any]] = Field(min_length=1, description="each merged into base")
    benchmark: BenchmarkSpec = BenchmarkSpec()


@dataclass
class Comparison:
    """What to compare: validated specs (unique names) and how to benchmark them."""

    name: str
    specs: list[Spec]
    benchmark: BenchmarkSpec


def merge(base: Any, over: Any) -> Any:
    """``over`` on top of ``base``: mappings merge key by key, anything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: merge(base.get(k), v) if k in base else v for k, v in over.items()}}
    return over


def _read(path: Path) -> tuple[dict, dict]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError.one("spec file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError.one(f"cannot read the spec file: {err}", file=str(path)) from None
    return load_yaml_with_positions(text, str(path))


def _entry_positions(positions: dict, i: int, data: Any) -> dict:
    """Where each key of run ``i``'s merged spec was written: in its entry, else in ``base``."""
    out: dict = {}

    def walk(value: Any, path: tuple) -> None:
        pos = positions.get(("runs", i, *path)) or positions.get(("base", *path))
        if pos:
            out[path] = pos
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        for key, item in items:
            walk(item, (*path, key))

    walk(data, ())
    return out


def _specs_of(file: CompareFile, positions: dict, path: str) -> list[Spec]:
    specs, problems = [], []
    for i, entry in enumerate(file.runs):
        data = merge(file.base, entry)
        try:
            specs.append(Spec.model_validate(data))
        except ValidationError as err:
            found = format_validation_error(err, _entry_positions(positions, i, data), path)
            problems += [Problem(f"runs.{i}" + (f".{p.path}" if p.path else ""), p.line,
                                 p.column, p.message, path) for p in found.problems]
    if problems:
        raise SpecError(problems, path)
    return specs


def load_comparison(paths: Sequence[Path]) -> Comparison:
    """One comparison file (with ``runs``), or several plain spec files, checked and named."""
    if not paths:
        raise ValueError("give a comparison file or at least one spec file")
    loaded = [(Path(p), *_read(p)) for p in paths]
    files = [p for p, data, _ in loaded if "runs" in data]
    if files and len(paths) > 1:
        raise ValueError(f"{files[0]} is a comparison file (it has `runs`); give it alone, "
                         "or give several plain spec files")
    if files:
        path, data, positions = loaded[0]
        file = validate(CompareFile, data, positions, str(path))
        comparison = Comparison(file.name, _specs_of(file, positions, str(path)), file.benchmark)
    else:
        comparison = Comparison("compare", [validate(Spec, data, positions, str(p))
                                            for p, data, positions in loaded], BenchmarkSpec())
    names = [s.name for s in comparison.specs]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"run names must differ (each names its directory): "
                         f"{', '.join(twice)} appears more than once")
    return comparison


def _get(spec: Spec, dotted: str) -> Any:
    value: Any = spec
    for part in dotted.split("."):
        value = getattr(value, part)
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def differences(specs: Sequence[Spec]) -> list[str]:
    """The settings that are not the same across specs (an unfair comparison), one line each."""
    out = []
    for field in SHARED:
        values = [_get(s, field) for s in specs]
        if any(v != values[0] for v in values[1:]):
            shown = ", ".join(f"{s.name}={v}" for s, v in zip(specs, values, strict=True))
            out.append(f"{field} differs: {shown}")
    return out


def timed(call: Callable[[], Any], repeats: int) -> dict:
    """One warm-up call (trace + compile + run), then the median of ``repeats`` timed calls."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"first_call_seconds": first, "seconds": median,
            "compile_seconds": max(first - median, 0.0), "times": times}


def recomputed_decoder(model: Any, window: int,
                       jit_compile: bool = True) -> Callable[[np.ndarray, int], np.ndarray]:
    """Greedy decoding without a cache: the whole model over the last ``window`` ids per char.

    The baseline the conv backbone's cached ``step`` avoids. Prompts need ``>= window`` ids, so
    every window holds real characters and the result equals the cached decoder's.
    """
    import tensorflow as tf

    def run(context: tf.Tensor, length: int) -> tf.Tensor:
        def body(t, ctx, out):
            token = tf.argmax(model(ctx, training=False)[:, -1], axis=-1, output_type=tf.int32)
            return t + 1, tf.concat([ctx[:, 1:], token[:, None]], axis=1), out.write(t, token)

        out = tf.TensorArray(tf.int32, size=length)
        *_, out = tf.while_loop(lambda t, *_: t < length, body, (0, context, out))
        return tf.transpose(out.stack())

    compiled = tf.function(run, jit_compile=jit_compile)

    def decode(prompt_ids: np.ndarray, length: int) -> np.ndarray:
        ids = np.asarray(prompt_ids, np.int32)
        if ids.ndim != 2 or ids.shape[1] < window:
            raise ValueError(f"recomputed decoding needs prompts [batch, >= {window}] ids (the "
                             f"receptive field), got shape {ids.shape}")
        return compiled(tf.constant(ids[:, -window:]), int(length)).numpy()

    return decode


def _speed(timing: dict, chars: int) -> dict:
    return {**timing, "chars_per_second": chars / timing["seconds"]}


def decoding_speed(model: Any, chains: list, prompt_ids: np.ndarray, batch: int, length: int,
                   repeats: int = 3, jit_compile: bool = True) -> dict:
    """Steady-state chars/s of the compiled decoder at ``batch`` rows, settings taking turns."""
    from textgen.generation.engine import Decoder

    decoder = Decoder(model, chains, jit_compile=jit_compile)
    prompt = np.repeat(np.asarray(prompt_ids, np.int32)[None], batch, axis=0)
    setting, seeds = np.arange(batch) % len(chains), np.arange(batch)
    return _speed(timed(lambda: decoder(prompt, setting, seeds, length), repeats), batch * length)


def cached_vs_recomputed(model: Any, prompt_ids: np.ndarray, length: int, repeats: int = 3,
                         jit_compile: bool = True) -> dict:
    """Batch-1 greedy speed of the cached decoder against recomputing each receptive field."""
    from textgen.generation.engine import Decoder
    from textgen.model import parts
    from textgen.spec.schema import build_chain

    window = parts(model)[1].receptive_field
    prompt = np.asarray(prompt_ids, np.int32)[None, -window:]
    decoder = Decoder(model, [build_chain("greedy")], jit_compile=jit_compile)
    recompute = recomputed_decoder(model, window, jit_compile)
    zero = np.zeros(1, np.int32)
    cached = _speed(timed(lambda: decoder(prompt, zero, zero, length), repeats), length)
    full = _speed(timed(lambda: recompute(prompt, length), repeats), length)
    same = np.array_equal(decoder(prompt, zero, zero, length).tokens, recompute(prompt, length))
    return {"window": window, "length": length, "cached": cached, "recomputed": full,
            "speedup": cached["chars_per_second"] / full["chars_per_second"],
            "same_text": bool(same)}


def measure_run(run_dir: Path, bench: BenchmarkSpec, prompt_text: str) -> dict:
    """One row of the comparison: a finished run's metrics, its curve and its decoding speed."""
    import tensorflow as tf

    from textgen.experiment import load_trained
    from textgen.model import parts
    from textgen.training.callbacks import read_history

    spec, model, vocab = load_trained(run_dir)
    metrics = rundir.read_json(run_dir / rundir.METRICS)
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
            "best_val_bpc", "diverged", "settings")
    return {"name": spec.name, "backbone": spec.backbone.type, "describe": backbone.describe(),
            "receptive_field": window, "run_dir": str(run_dir),
            **{k: metrics.get(k) for k in keys}, "generation": speed, "recomputed": recomputed,
            "history": [{k: r.get(k) for k in ("epoch", "elapsed_seconds", "val_bpc")}
                        for r in read_history(run_dir / rundir.HISTORY)]}


def device() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name)
                         for g in gpus)
    return f"CPU ({os.cpu_count()} cores)"


def run_comparison(comparison: Comparison, out_dir: Path, console: Console,
                   reuse: bool = False) -> dict:
    """Train every spec into ``out_dir/<name>/``, benchmark each, write comparison.{json,md,png}."""
    from textgen.experiment import RunError, draw_prompts, prepare_corpus
    from textgen.experiment import run as run_experiment
    from textgen.plugins import registry
    from textgen.report.compare import print_comparison, write_comparison

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
    data = {"name": comparison.name, "created": datetime.now().isoformat(timespec="seconds"),
            "device": device(), "benchmark": comparison.benchmark.model_dump(),
            "differences": unequal, "runs": rows}
    rundir.write_json(out_dir / COMPARISON_JSON, data)
    write_comparison(out_dir, data)
    print_comparison(console, data)
    return data
