"""The Python API: load a trained run, sample, score and inspect; run an experiment.

``textgen.load(run_dir)`` gives a :class:`TrainedModel` whose ``generate`` returns the same
:class:`~textgen.records.Sample` records as ``textgen generate --json`` (same arguments, same
text); ``textgen.run(spec, overrides=...)`` is ``textgen run`` from Python; and
``textgen.sampler("top_p", p=0.9)`` is one stage, usable alone on NumPy logits. Mistakes raise
the same ``TextgenError`` subclasses, with the same messages, as the command line.
docs/api.md has examples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textgen import rundir
from textgen.errors import PromptError, UsageError
from textgen.records import Sample
from textgen.samplers.base import Sampler, SamplerChain

SamplerLike = str | Mapping[str, Any] | Sampler | SamplerChain | Sequence[Any]
DEFAULT_SAMPLER: dict[str, Any] = {"temperature": 1.0}  # as `textgen generate` without --sampler


def sampler(name: str, **params: Any) -> Sampler:
    """A registered stage by name: ``sampler("top_p", p=0.9)(logits)`` works on NumPy arrays."""
    return _stage({name: params})


def _spec_form(build: Callable[[Any], Any], item: Any) -> Any:
    """``build(item)`` for a stage or setting in spec form; mistakes raise ``TextgenError``
    with the command line's message (an unknown name is an ``UnknownNameError``)."""
    from textgen.plugins import registry

    for one in item if isinstance(item, list) else [item]:
        name = next(iter(one), None) if isinstance(one, Mapping) and len(one) == 1 else one
        if isinstance(name, str) and name not in registry().decoders:
            registry().sampler(name)  # raises UnknownNameError, as the CLI reports it
    return build(item)  # a bad stage raises StageError, a TextgenError


def _stage(item: Any) -> Sampler:
    from textgen.samplers.build import build_stage

    return _spec_form(build_stage, dict(item) if isinstance(item, Mapping) else item)


def as_chain(setting: SamplerLike) -> SamplerChain:
    """Any sampler form -> a chain: what a spec's ``generation.samplers`` takes (a name,
    ``{"top_p": 0.9}``, a list of stages, ``{"beam": {"width": 4}}``), a stage object, a chain,
    or a list mixing stage objects with stages in spec form."""
    from textgen.samplers.build import build_chain

    if isinstance(setting, SamplerChain):
        return setting
    items = list(setting) if isinstance(setting, list | tuple) else [setting]
    if not items:
        raise UsageError("a sampler chain needs at least one stage")
    if not any(isinstance(item, Sampler | SamplerChain) for item in items):
        plain = [dict(i) if isinstance(i, Mapping) else i for i in items]
        return _spec_form(build_chain, plain if isinstance(setting, list | tuple) else plain[0])
    stages: list[Sampler] = []
    for item in items:
        if isinstance(item, SamplerChain):
            stages.extend(item.stages)
        elif isinstance(item, Sampler):
            stages.append(item)
        else:
            stages.append(_stage(item))
    return SamplerChain(stages)


def _key(chain: SamplerChain) -> str:
    """Chains that draw alike share a key: each stage's class and parameters."""
    return json.dumps([[f"{type(s).__module__}.{type(s).__qualname__}", s.get_config()]
                       for s in chain.stages], sort_keys=True, default=str)


@dataclass
class Scored:
    """A text's bits per character and each character's surprise (bits) given all before it.

    ``surprise[i]`` belongs to ``text[i]``; the first character has no context and is NaN.
    """

    text: str
    bpc: float
    surprise: list[float]


@dataclass
class Step:
    """One generated step: the drawn character and the distributions it was drawn through."""

    char: str
    model: np.ndarray               # the model's probabilities (temperature 1), [vocab]
    stages: list[tuple[str, np.ndarray]]  # (stage label, probabilities after that stage)
    model_entropy: float            # bits
    sampling_entropy: float         # bits, of the distribution the character was drawn from

    def top(self, k: int = 5, stage: int = -1) -> list[tuple[int, float]]:
        """The ``k`` most likely symbol ids after ``stage`` (default: the last), with p."""
        probs = self.stages[stage][1]
        order = np.argsort(-probs, kind="stable")[:k]
        return [(int(i), float(probs[i])) for i in order]


@dataclass
class Distributions:
    """What :meth:`TrainedModel.distributions` saw: the prompt, the vocabulary, each step."""

    prompt: str
    sampler: str
    seed: int
    vocab: list[str]
    steps: list[Step] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(step.char for step in self.steps)

    @classmethod
    def from_traced(cls, traced: Any, row: int, prompt: str, chain: SamplerChain, seed: int,
                    vocab: Sequence[str], steps: int | None = None) -> Distributions:
        """Row ``row`` of a ``StageTracer``'s output (its first ``steps`` steps) as steps, up
        to the step where the row ended (a stage accepted the text), as ``generate``'s."""
        labels = [stage.label() for stage in chain.stages]
        out = cls(prompt, chain.label(), seed, list(vocab))
        for t in range(traced.tokens.shape[1] if steps is None else steps):
            out.steps.append(Step(
                char=vocab[int(traced.tokens[row, t])], model=traced.model_probs[row, t],
                stages=[(label, traced.stage_probs[row, t, k]) for k, label in enumerate(labels)],
                model_entropy=max(float(traced.model_entropy[row, t]), 0.0),
                sampling_entropy=max(float(traced.sampling_entropy[row, t]), 0.0)))
            if traced.finish[row, t]:
                break
        return out

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        """Plain data; with ``top``, each stage keeps only its ``top`` most likely symbols."""
        def probs(p: np.ndarray) -> Any:
            if top is None:
                return [float(x) for x in p]
            return {self.vocab[i]: float(p[i]) for i in np.argsort(-p, kind="stable")[:top]}

        return {"prompt": self.prompt, "sampler": self.sampler, "seed": self.seed,
                "vocab": self.vocab, "text": self.text,
                "steps": [{"char": s.char, "model": probs(s.model),
                           "stages": [{"stage": label, "probs": probs(p)}
                                      for label, p in s.stages],
                           "model_entropy": s.model_entropy,
                           "sampling_entropy": s.sampling_entropy} for s in self.steps]}


class TrainedModel:
    """A finished run's model, vocabulary and spec, with its compiled decoders kept per chain."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self.spec, self.model, self.vocab = rundir.load_trained(self.run_dir)
        self._decoders: dict[str, Any] = {}
        self._tracers: dict[str, Any] = {}

    def __repr__(self) -> str:
        return (f"TrainedModel({str(self.run_dir)!r}: {self.spec.backbone.type}, "
                f"{len(self.vocab)} symbols)")

    # --- prompts ---------------------------------------------------------------------------
    def prompt(self, prompt: str | None = None) -> str:
        """``prompt`` prepared as the corpus was (lowercased if it was), checked against the
        vocabulary; ``None`` is the run's own first prompt, as ``textgen generate`` uses."""
        from textgen.corpus.prepare import prepare_prompt

        if prompt is None:
            previous = rundir.load_samples(self.run_dir)
            prompt = previous[0].prompt if previous else self.spec.generation.prompt
            if not prompt:
                raise PromptError("give a --prompt: this run has no saved prompt to reuse")
        if prompt == "":
            raise PromptError("the prompt is empty: give at least one character")
        prompt = prepare_prompt(self.spec, prompt)
        missing = self.vocab.missing(prompt)
        if missing and self.spec.generation.unknown_chars == "error":
            raise PromptError(f"the prompt has characters the model never saw: "
                              f"{', '.join(map(repr, missing))}. Remove them, or set "
                              "generation.unknown_chars: skip in the run's spec.")
        return prompt

    def _ids(self, prompt: str) -> np.ndarray:
        ids = self.vocab.encode(prompt, unknown=self.spec.generation.unknown_chars)
        if len(ids) == 0:
            raise PromptError(f"the prompt {prompt!r} has no characters the model knows")
        return np.asarray(ids, np.int32)

    # --- sampling ----------------------------------------------------------------------------
    def decoder(self, chain: SamplerChain) -> Any:
        """The compiled decoding loop for ``chain``: built once, reused by every later call."""
        from textgen.generation.engine import Decoder
        from textgen.generation.sampling import bind_vocabulary

        key = _key(chain)
        if key not in self._decoders:
            bind_vocabulary([chain], self.vocab)  # before the Decoder checks the chain
            self._decoders[key] = Decoder(self.model, [chain])
        return self._decoders[key]

    def tracer(self, chain: SamplerChain) -> Any:
        """The compiled recording loop for ``chain`` (see ``distributions``): built once,
        reused; batched callers (the server) call it with many rows at once."""
        from textgen.generation.inspection import StageTracer
        from textgen.generation.sampling import bind_vocabulary

        if not chain.stages:
            raise UsageError(f"{chain.label()} is a decoding strategy, not a chain of stages: "
                             "it has no per-stage distributions to show")
        key = _key(chain)
        if key not in self._tracers:
            bind_vocabulary([chain], self.vocab)  # stages that name characters need it
            self._tracers[key] = StageTracer(self.model, chain)
        return self._tracers[key]

    def generate(self, prompt: str | None = None, sampler: SamplerLike = DEFAULT_SAMPLER,
                 length: int = 400, n: int = 1, seed: int = 0, batch_size: int = 64,
                 stop: Sequence[str] = ()) -> list[Sample]:
        """``n`` continuations of ``prompt``; sample ``i`` uses ``seed + i``; a sample ends
        early before the first of the ``stop`` strings.

        The same arguments as ``textgen generate --prompt P --sampler ... --length L
        --num-samples N --seed S [--stop X]`` give the same texts.
        """
        from textgen.corpus.prepare import prepare_prompt
        from textgen.generation.sampling import check_length, generate, plan_rows
        from textgen.generation.stops import stop_automaton

        check_length(length)
        for name, value in (("n", n), ("batch_size", batch_size)):
            if value < 1:
                raise UsageError(f"{name} must be at least 1, got {value}")
        chain = as_chain(sampler)
        prompt = self.prompt(prompt)
        stops = [prepare_prompt(self.spec, s) for s in stop]  # prepared as prompts are
        if stops:
            stop_automaton(stops, self.vocab, field="stop")  # raises naming a bad one
        decoder = self.decoder(chain)
        samples: list[Sample] = []
        for start in range(0, n, batch_size):
            rows = plan_rows([prompt], 1, min(batch_size, n - start), seed + start, coupled=True)
            samples += generate(self.model, self.vocab, [chain], rows, length, batch_size,
                                self.spec.generation.unknown_chars, decoder=decoder,
                                stop=stops)
        return samples

    def distributions(self, prompt: str | None = None, sampler: SamplerLike = DEFAULT_SAMPLER,
                      steps: int = 20, seed: int = 0) -> Distributions:
        """Generate ``steps`` characters (as ``generate`` with ``n=1`` does: the same text),
        recording the model's probabilities and those after every stage of the chain."""
        if steps < 1:
            raise UsageError(f"steps must be at least 1, got {steps}")
        chain = as_chain(sampler)
        tracer = self.tracer(chain)
        prompt = self.prompt(prompt)
        traced = tracer(self._ids(prompt)[None, :], np.array([seed]), steps)
        return Distributions.from_traced(traced, 0, prompt, chain, seed, self.vocab.chars)

    # --- scoring -----------------------------------------------------------------------------
    def score(self, text: str | Sequence[str]) -> Scored | list[Scored]:
        """Bits per character of ``text`` under the model, and each character's surprise.

        A list of texts is scored as one batch and gives a list. Characters the model never saw
        cannot be scored: they raise a ``PromptError`` naming them.
        """
        from textgen.corpus.prepare import prepare_prompt
        from textgen.generation.reading import surprise_bits

        texts = [text] if isinstance(text, str) else list(text)
        prepared = [prepare_prompt(self.spec, t) for t in texts]
        for t in prepared:
            if len(t) < 2:
                raise PromptError(f"cannot score {t!r}: the first character has no context, so "
                                  "a text needs at least two characters")
            missing = self.vocab.missing(t)
            if missing:
                raise PromptError(f"the text has characters the model never saw: "
                                  f"{', '.join(map(repr, missing))}; they cannot be scored")
        bits = surprise_bits(self.model, [np.asarray(self.vocab.encode(t), np.int32)
                                          for t in prepared])
        scored = [Scored(t, float(np.mean(b)), [math.nan, *map(float, b)])
                  for t, b in zip(prepared, bits, strict=True)]
        return scored[0] if isinstance(text, str) else scored


def load(run_dir: str | Path) -> TrainedModel:
    """A finished run, ready to sample, score and inspect: ``textgen.load("runs/smoke-...")``."""
    return TrainedModel(run_dir)


@dataclass
class RunResult:
    """What :func:`run` produced: where it wrote, the metrics and samples it wrote there."""

    run_dir: Path
    metrics: Any   # textgen.records.RunMetrics
    samples: list[Sample]
    spec: Any      # textgen.spec.Spec, resolved

    def load(self) -> TrainedModel:
        return TrainedModel(self.run_dir)


def run(spec: Any, overrides: Sequence[str] | Mapping[str, Any] = (),
        output_dir: str | Path | None = None, quiet: bool = True) -> RunResult:
    """Run an experiment as ``textgen run`` does and return its results.

    ``spec`` is a spec file's path, a mapping (the YAML's data) or a ``Spec``; ``overrides``
    are ``--set`` strings (``["training.epochs=2"]``) or a mapping of dotted keys to values.
    The run goes to ``output_dir``, or ``<spec.output_dir>/<name>-<timestamp>/``.
    """
    from datetime import datetime

    from rich.console import Console

    from textgen.experiment import run as run_experiment
    from textgen.spec.overrides import load_with_overrides

    resolved = load_with_overrides(spec, overrides)
    if output_dir is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        output_dir = Path(resolved.output_dir) / f"{resolved.name}-{stamp}"
    target = Path(output_dir)
    if rundir.is_run(target):
        from textgen.errors import RunError

        raise RunError(f"{target} already holds a run. Give another output_dir.")
    console = Console(quiet=quiet)
    run_experiment(resolved, target, console)
    return RunResult(target, rundir.load_metrics(target), rundir.load_samples(target), resolved)
