"""One experiment, end to end: corpus -> model -> training -> generation -> metrics -> report.

Every stage writes its results into the run directory as it finishes, atomically, so what a
run leaves behind is always complete; ``textgen report`` re-renders from those files alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from rich.console import Console

from textgen import rundir
from textgen import spec as specs
from textgen.corpus.dataset import split, with_context
from textgen.corpus.manifest import CorpusError, load_manifest
from textgen.corpus.resolve import load_text
from textgen.corpus.vocab import CharVocab
from textgen.generation.sample import Sample
from textgen.generation.sampling import generate, plan_rows
from textgen.metrics import complete_words, invented_words, setting_metrics, word_vocabulary
from textgen.model import build_model, parts
from textgen.plugins import registry
from textgen.report.markdown import write_report
from textgen.report.reference import corpus_reference
from textgen.report.tables import print_run
from textgen.spec.schema import Spec
from textgen.training.callbacks import read_history
from textgen.training.distribute import in_float32, is_chief, make_strategy, precision
from textgen.training.progress import make_progress
from textgen.training.trainer import TrainResult, train


class RunError(RuntimeError):
    """A run cannot go on (the message says why and what to do)."""


@dataclass
class Corpus:
    """The prepared text: vocabulary from the training split, ids for training and scoring."""

    text: str
    train_text: str
    val_text: str
    vocab: CharVocab
    train_ids: np.ndarray
    scoring_ids: np.ndarray


def prepare_corpus(spec: Spec) -> Corpus:
    c = spec.corpus
    text = load_text(c.name, c.path, c.lowercase, c.fold_newlines)
    if c.max_chars:
        text = text[:c.max_chars]
    train_text, val_text = split(text, c.val_fraction)
    need = max(spec.training.seq_len, spec.evaluation.context) + 1
    if len(train_text) < need:
        raise RunError(f"the corpus {c.path or c.name} is too short: its training part has "
                       f"{len(train_text)} characters, but windows of "
                       f"seq_len={spec.training.seq_len} need at least {need}. Use a longer "
                       "text or a smaller training.seq_len.")
    vocab = CharVocab.from_text(train_text)
    train_ids = vocab.encode(train_text)
    val_ids = vocab.encode(val_text, unknown="skip")  # unseen chars cannot be scored
    if len(val_ids) == 0:
        raise RunError("the held-out part of the corpus is empty; raise corpus.val_fraction")
    scoring = with_context(train_ids, val_ids, spec.evaluation.context)
    return Corpus(text, train_text, val_text, vocab, train_ids, scoring)


def prepare_prompt(spec: Spec, prompt: str) -> str:
    """A user's prompt as the corpus was prepared: lowercased when the training text was."""
    lowercase = spec.corpus.lowercase
    if lowercase is None and spec.corpus.name and not spec.corpus.path:
        try:
            lowercase = load_manifest(spec.corpus.name).preprocess.lowercase
        except CorpusError:
            lowercase = False  # the manifest is gone; the vocabulary check still guards
    return prompt.lower() if lowercase else prompt


def build(spec: Spec, vocab_size: int) -> keras.Model:
    backbone_cls = registry().backbone(spec.backbone.type)
    backbone = backbone_cls.from_params(spec.backbone.params, name="backbone")
    return build_model(vocab_size, backbone, spec.backbone.embedding_dim)


def draw_prompts(text: str, count: int, length: int, seed: int) -> list[str]:
    """``count`` prompts of ``length`` chars from ``text``, each starting at a word."""
    rng = np.random.default_rng(seed)
    starts = [i + 1 for i in range(len(text) - length - 1) if text[i] in " \n"] or [0]
    return [text[s:s + length] for s in rng.choice(starts, size=count)]


def run(spec: Spec, run_dir: Path, console: Console, resume: bool = False,
        trained: Path | None = None) -> dict:
    """Train and generate as the spec says; returns the metrics written to metrics.json.

    ``trained`` names a finished run whose model is reused instead of training (a new sampler
    sweep on the same model). In a multi-worker cluster only the chief writes ``run_dir``;
    other workers return ``{}``.
    """
    strategy = make_strategy(spec.training.distribute)  # first: a cluster's precedes any op
    keras.utils.set_random_seed(spec.seed)
    corpus = prepare_corpus(spec)  # before writing anything: a bad corpus leaves no trace
    reused = reuse_trained(trained, corpus.vocab) if trained else None
    chief = is_chief(strategy)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_text(run_dir / rundir.SPEC, specs.dump(spec))
        rundir.atomic_write(run_dir / rundir.VOCAB, corpus.vocab.save)
    if reused is not None:
        result = reused
    else:
        with strategy.scope(), precision(spec.training.precision):
            model = build(spec, len(corpus.vocab))
        short = parts(model)[1].warn_if_short(spec.training.seq_len)
        if short:
            console.print(f"[yellow]warning:[/] {short}")
        with make_progress(console) as progress:
            result = train(spec, model, corpus.train_ids, corpus.scoring_ids, run_dir,
                           progress, resume=resume, strategy=strategy)
    if result.diverged and not result.history:
        raise RunError(f"{result.diverged}, before any epoch finished, so there is no good "
                       "checkpoint. Lower training.optimizer.learning_rate or set clipnorm.")
    if result.diverged:
        console.print(f"[yellow]{result.diverged}. Kept the last good checkpoint, from epoch "
                      f"{result.epochs} ({run_dir / rundir.CHECKPOINT}).[/]")
    if not chief:
        console.print(f"Worker trained {result.epochs} epochs; the chief writes {run_dir}.")
        return {}
    model = in_float32(result.model, lambda: build(spec, len(corpus.vocab)))  # to generate
    rundir.atomic_write(run_dir / rundir.MODEL, model.save)

    g = spec.generation
    if g.prompt:
        prompts = [prepare_prompt(spec, g.prompt)]
    else:
        prompts = draw_prompts(corpus.val_text, g.prompts, g.prompt_length, spec.seed)
    chains = g.chains()
    rows = plan_rows(prompts, len(chains), g.num_samples, spec.seed, g.coupled)
    start = time.perf_counter()
    with make_progress(console) as progress:
        task = progress.add_task("generate", total=len(rows), info="")
        samples = generate(model, corpus.vocab, chains, rows, g.length, g.batch_size,
                           g.unknown_chars,
                           on_batch=lambda batch: progress.advance(task, len(batch)))
    gen_seconds = time.perf_counter() - start
    rundir.write_jsonl(run_dir / rundir.SAMPLES, [s.to_json() for s in samples])

    last = result.history[-1] if result.history else {}
    metrics = {
        "name": spec.name,
        "val_bpc": last.get("val_bpc"),
        "best_val_bpc": min((r["val_bpc"] for r in result.history), default=None),
        "epochs": result.epochs,
        "train_seconds": result.seconds,
        "train_wall_seconds": result.wall_seconds,
        "train_chars_per_second": result.chars_per_second,
        "trained_in": str(trained) if trained else None,
        "parameters": int(model.count_params()),
        "vocab_size": len(corpus.vocab),
        "corpus_chars": len(corpus.text),
        "generation_seconds": gen_seconds,
        "generation_chars_per_second": len(samples) * g.length / gen_seconds,
        "diverged": result.diverged,
        "settings": summarize(samples, [c.label() for c in chains],
                              word_vocabulary(corpus.train_text)),
        **corpus_reference(corpus.train_text, g.length),
    }
    rundir.write_json(run_dir / rundir.METRICS, metrics)
    write_report(run_dir, metrics, samples, spec)
    print_run(console, metrics, samples, spec)
    return metrics


def summarize(samples: list[Sample], labels: list[str], words: frozenset[str],
              examples: int = 12) -> list[dict]:
    """Per sampler setting: its label, each metric's (mean, low, high), and the first
    ``examples`` invented words (words of its samples not in the training text)."""
    plugin_metrics = {name: entry.obj for name, entry in registry().metrics.items()}
    rows = []
    for k, label in enumerate(labels):
        own = [s for s in samples if s.setting == k]
        stats = setting_metrics(own, words, extra=plugin_metrics)
        invented = dict.fromkeys(w for s in own
                                 for w in invented_words(complete_words(s.text, s.prompt), words))
        rows.append({"sampler": label, "samples": len(own),
                     "metrics": {name: list(v) for name, v in stats.items()},
                     "invented_examples": list(invented)[:examples]})
    return rows


def reuse_trained(source: Path, vocab: CharVocab) -> TrainResult:
    """A finished run's model and training record, checked to fit this corpus's vocabulary."""
    _, model, saved_vocab = load_trained(source)
    if saved_vocab != vocab:
        raise RunError(f"{source} was trained on another vocabulary ({len(saved_vocab)} "
                       f"symbols, this corpus has {len(vocab)}); its model cannot be reused.")
    return TrainResult.from_history(model, read_history(Path(source) / rundir.HISTORY))


def require_run(run_dir: Path) -> None:
    """Raise a ``RunError`` unless ``run_dir`` is a textgen run directory (it has a spec)."""
    if not rundir.is_run(run_dir):
        raise RunError(f"{run_dir} is not a textgen run directory (it has no {rundir.SPEC}).")


def load_trained(run_dir: Path) -> tuple[Spec, keras.Model, CharVocab]:
    """The spec, model and vocabulary of a finished run, checked against each other."""
    run_dir = Path(run_dir)
    require_run(run_dir)
    for name in (rundir.MODEL, rundir.VOCAB):
        if not (run_dir / name).is_file():
            raise RunError(f"{run_dir} has no {name}: its training did not finish. Resume it "
                           f"with `textgen resume {run_dir}`.")
    spec = specs.load(run_dir / rundir.SPEC)
    vocab = CharVocab.load(run_dir / rundir.VOCAB)
    try:
        model = keras.models.load_model(run_dir / rundir.MODEL)
    except Exception as err:  # keras raises several kinds for a damaged archive
        raise RunError(f"{run_dir / rundir.MODEL} cannot be loaded as a Keras model ({err}); "
                       "the file is damaged or not from textgen.") from err
    if int(model.output_shape[-1]) != len(vocab):
        raise RunError(f"{run_dir}: the model predicts {model.output_shape[-1]} symbols but "
                       f"{rundir.VOCAB} lists {len(vocab)}; they come from different runs.")
    return spec, model, vocab


def load_samples(run_dir: Path) -> list[Sample]:
    import json

    path = Path(run_dir) / rundir.SAMPLES
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return [Sample.from_json(json.loads(line)) for line in lines if line.strip()]
