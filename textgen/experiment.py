"""One experiment, end to end: corpus -> model -> training -> generation -> metrics -> report.

Every stage writes its results into the run directory as it finishes, atomically, so what a
run leaves behind is always complete; ``textgen report`` re-renders from those files alone.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from typing import cast

import keras
import numpy as np
from rich.console import Console

from textgen import rundir
from textgen import spec as specs
from textgen.baselines.mixture import NgramMix
from textgen.baselines.ngram import max_order
from textgen.corpus.prepare import Corpus, draw_prompts, prepare_corpus, prepare_prompt
from textgen.corpus.vocab import CharVocab
from textgen.errors import RunError
from textgen.generation.engine import Decoder, release_freed_memory
from textgen.generation.reading import forget_reader, read_texts
from textgen.generation.sampling import bind_vocabulary, generate, plan_rows
from textgen.generation.timing import CompileTimer
from textgen.metrics import TrainingIndex
from textgen.metrics.sweep import summarize_sweep
from textgen.model import build_model, parts
from textgen.plugins import registry
from textgen.records import RunMetrics, Sample
from textgen.report import tensorboard
from textgen.report.markdown import write_report
from textgen.report.reference import corpus_reference, held_out_pieces
from textgen.report.tables import print_run
from textgen.samplers.base import SamplerChain
from textgen.spec.errors import SpecError
from textgen.spec.schema import Spec
from textgen.training.callbacks import read_history
from textgen.training.distribute import in_float32, is_chief, make_strategy, precision
from textgen.training.dynamic import spec_dynamic_bpc
from textgen.training.memory import check_fits
from textgen.training.progress import make_progress
from textgen.training.trainer import TrainResult, train


def build(spec: Spec, vocab_size: int, train_ids: np.ndarray | None = None) -> keras.Model:
    """The spec's model; with ``spec.ngram`` it needs the training text's ``train_ids``."""
    backbone_cls = registry().backbone(spec.backbone.type)
    backbone = backbone_cls.from_params(spec.backbone.params, name="backbone")
    dynamic = spec.evaluation.dynamic
    carried = {"training.carry_state": ("training window", spec.training.carry_state),
               "evaluation.dynamic.carry_state": ("held-out segment",
                                                  dynamic is not None and dynamic.carry_state)}
    for path, (piece, wanted) in carried.items():
        if wanted and not backbone.carries_state:
            raise SpecError.one(f"the {spec.backbone.type} backbone has no state to carry from "
                                f"one {piece} to the next; use carry_state: false or a backbone "
                                f"that can carry one (lstm, conv)", path=path)
    mixture = None
    if spec.ngram is not None:
        if train_ids is None:
            raise ValueError("a model with an n-gram mixture needs the training text's ids")
        if spec.ngram.order > max_order(vocab_size):
            raise SpecError.one(f"{spec.ngram.order} is too long for this corpus's "
                                f"{vocab_size} symbols (n-gram codes must fit in 64 bits); "
                                f"use at most {max_order(vocab_size)}", path="ngram.order")
        mixture = NgramMix(vocab_size, spec.ngram.order, spec.ngram.weight, len(train_ids),
                           name="ngram", dtype="float32")
        mixture.set_text(train_ids)
    return build_model(vocab_size, backbone, spec.backbone.embedding_dim, mixture)


def run(spec: Spec, run_dir: Path, console: Console, resume: bool = False,
        trained: Path | None = None) -> RunMetrics | None:
    """Train and generate as the spec says; returns the metrics written to metrics.json.

    ``trained`` names a finished run whose model is reused instead of training (a new sampler
    sweep on the same model). In a multi-worker cluster only the chief writes ``run_dir``;
    other workers return None.
    """
    strategy = make_strategy(spec.training.distribute)  # first: a cluster's precedes any op
    keras.utils.set_random_seed(spec.seed)
    corpus = prepare_corpus(spec)  # before writing anything: a bad corpus leaves no trace
    reused = reuse_trained(trained, corpus.vocab) if trained else None
    if reused is None:
        check_fits(spec, len(corpus.vocab))  # before building: a model too large is refused
    chief = is_chief(strategy)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_text(run_dir / rundir.SPEC, specs.dump(spec))
        rundir.atomic_write(run_dir / rundir.VOCAB, corpus.vocab.save)
    if reused is not None:
        result = reused
    else:
        with strategy.scope(), precision(spec.training.precision):
            model = build(spec, len(corpus.vocab), corpus.train_ids)
        short = parts(model)[1].warn_if_short(spec.training.seq_len)
        if short and not spec.training.carry_state:  # carried queues fill the field with text
            console.print(f"[yellow]warning:[/] {short}")
        logs = tensorboard.for_run(spec, model, corpus, run_dir) if (
            spec.report.tensorboard and chief) else []
        with make_progress(console) as progress:
            result = train(spec, model, corpus.train_ids, corpus.scoring_ids, run_dir,
                           progress, resume=resume, strategy=strategy, extra_callbacks=logs)
    if result.diverged and not result.history:
        raise RunError(f"{result.diverged}, before any epoch finished, so there is no good "
                       "checkpoint. Lower training.optimizer.learning_rate or set clipnorm.")
    if result.diverged:
        console.print(f"[yellow]{result.diverged}. Kept the last good checkpoint, from epoch "
                      f"{result.epochs} ({run_dir / rundir.CHECKPOINT}).[/]")
    if not chief:
        console.print(f"Worker trained {result.epochs} epochs; the chief writes {run_dir}.")
        return None
    model = in_float32(result.model,  # to generate
                       lambda: build(spec, len(corpus.vocab), corpus.train_ids))
    for trained_model in {id(m): m for m in (result.model, model)}.values():
        trained_model.train_function = trained_model.test_function = None  # compiled steps
    gc.collect()
    release_freed_memory()  # training's freed pages: each later stage's peak stacks on the rest
    rundir.atomic_write(run_dir / rundir.MODEL, model.save)
    val_bpc_dynamic = spec_dynamic_bpc(model, corpus.train_ids, corpus.scoring_ids,
                                       spec.evaluation, spec.seed)  # weights restored after
    gc.collect()  # its traced steps, before generation compiles
    release_freed_memory()

    g = spec.generation
    if g.prompt:
        prompts = [prepare_prompt(spec, g.prompt)]
    else:
        prompts = draw_prompts(corpus.val_text, g.prompts, g.prompt_length, spec.seed)
    chains = g.chains()
    rows = plan_rows(prompts, len(chains), g.num_samples, spec.seed, g.coupled)
    bind_vocabulary(chains, corpus.vocab)  # before the Decoder checks each chain
    timer = CompileTimer(Decoder(model, chains, jit_compile=g.jit_compile))
    start = time.perf_counter()
    with make_progress(console) as progress:
        task = progress.add_task("generate", total=len(rows), info="")
        samples = generate(model, corpus.vocab, chains, rows, g.length, g.batch_size,
                           g.unknown_chars, decoder=cast(Decoder, timer),  # a timed one
                           on_batch=lambda batch: progress.advance(task, len(batch)),
                           stop=[prepare_prompt(spec, s) for s in g.stop])  # cased as prompts
    gen_seconds = time.perf_counter() - start
    compile_seconds = min(timer.compile_seconds(), gen_seconds)
    del timer  # the Decoder and its traced loops are not needed after this
    gc.collect()  # the Decoder's tf.functions hold it in reference cycles
    release_freed_memory()
    rundir.write_samples(run_dir, samples)

    last = result.history[-1] if result.history else {}
    metrics = RunMetrics(
        name=spec.name,
        val_bpc=last.get("val_bpc"),
        val_bpc_dynamic=val_bpc_dynamic,
        val_bpc_network=last.get("val_bpc_network"),
        best_val_bpc=min((r["val_bpc"] for r in result.history), default=None),
        epochs=result.epochs,
        train_seconds=result.seconds,
        train_wall_seconds=result.wall_seconds,
        train_chars_per_second=result.chars_per_second,
        trained_in=str(trained) if trained else None,
        parameters=int(model.count_params()),
        vocab_size=len(corpus.vocab),
        corpus_chars=len(corpus.text),
        generation_seconds=gen_seconds,
        generation_compile_seconds=compile_seconds,
        generation_chars_per_second=sum(len(s.text) for s in samples) / max(
            gen_seconds - compile_seconds, 1e-9),  # steady state; stop strings end some early
        diverged=result.diverged,
        **sample_report(spec, model, corpus, samples, chains),
        **corpus_reference(corpus.train_text, g.length),
    )
    rundir.write_metrics(run_dir, metrics)
    if spec.report.tensorboard:
        tensorboard.log_final(run_dir, max(result.epochs - 1, 0), {
            "held_out/val_bpc_dynamic": metrics.val_bpc_dynamic,
            "generation/chars_per_second": metrics.generation_chars_per_second,
            "generation/compile_seconds": metrics.generation_compile_seconds})
    write_report(run_dir, metrics, samples, spec)
    print_run(console, metrics, samples, spec)
    return metrics


def reuse_trained(source: Path, vocab: CharVocab) -> TrainResult:
    """A finished run's model and training record, checked to fit this corpus's vocabulary."""
    _, model, _ = rundir.load_trained(source, vocab)
    return TrainResult.from_history(model, read_history(Path(source) / rundir.HISTORY))


def sample_report(spec: Spec, model: keras.Model, corpus: Corpus, samples: list[Sample],
                  chains: list[SamplerChain]) -> dict:
    """metrics.json's per-setting summaries, held-out row and paired comparisons, and the
    seconds they took (the training text is indexed once, here, for every metric)."""
    r, g = spec.report, spec.generation
    start = time.perf_counter()
    pieces = held_out_pieces(corpus.val_text, r.reference_pieces, g.prompt_length, g.length,
                             corpus.vocab)
    reference = read_texts(model, corpus.vocab, pieces)  # one traced forward pass
    forget_reader(model)  # the index below reuses its memory
    gc.collect()
    release_freed_memory()  # the trace's temporaries, before the n-gram counting's stack on them
    read = time.perf_counter()
    index = TrainingIndex.build(corpus.train_text, r.copy_window, r.judge_order,
                                "".join(corpus.vocab.chars), r.self_bleu_samples)
    release_freed_memory()
    indexed = time.perf_counter()
    out = summarize_sweep(samples, [(c.label(), c.get_config()) for c in chains], index,
                          reference=reference, compare=spec.compare_pairs(),
                          extra=dict(registry().metrics))
    end = time.perf_counter()
    return {**out, "metrics_seconds": end - start,
            "metrics_timing": {"training_text_index": indexed - read,
                               "held_out_read_by_model": read - start,
                               "rows_summaries_comparisons": end - indexed}}
