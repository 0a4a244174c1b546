"""The experiment spec: plain data, validated by pydantic, unknown keys rejected.

A spec names its backbone and sampler stages by registered name; their own fields are
validated by the plugin's ``Params`` model, so a plugin's options are checked like the core's.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from textgen.samplers.base import SamplerChain
from textgen.samplers.build import SamplerSetting, StageError, build_chain
from textgen.spec.report import ReportSpec


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusSpec(Section):
    """Which text to train on, and how to prepare it."""

    name: str | None = Field(None, description="a manifest in corpora/, e.g. nietzsche")
    path: str | list[str] | None = Field(
        None, description="a text file, or a list of files and folders (every file in a folder, "
                          "sorted) read in order as one text; overrides the manifest's lookup")
    lowercase: bool | None = Field(None, description="default: the manifest's (true for nietzsche)")
    fold_newlines: bool | None = Field(None, description="default: the manifest's")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="the last fraction is held out")
    max_chars: int | None = Field(None, ge=2, description="use only the first N characters")

    @model_validator(mode="after")
    def _named(self) -> CorpusSpec:
        if not self.name and not self.path:
            raise ValueError("give the corpus a manifest `name` or a file `path`")
        if isinstance(self.path, list) and not all(self.path):
            raise ValueError("corpus.path lists an empty path")
        return self


class BackboneSpec(BaseModel):
    """``type`` picks a registered backbone; the other fields are that backbone's own."""

    model_config = ConfigDict(extra="allow")
    type: str = Field("lstm", description="a registered backbone name (see `textgen plugins`)")
    embedding: int | Literal["onehot"] = Field(
        "onehot", description="embedding width, or onehot as in the seed")

    @field_validator("embedding")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("embedding must be a positive width or 'onehot'")
        return value

    @property
    def params(self) -> dict[str, Any]:
        """The backbone's own fields (everything but ``type`` and ``embedding``)."""
        return dict(self.model_extra or {})

    @property
    def embedding_dim(self) -> int | None:
        return None if self.embedding == "onehot" else int(self.embedding)


class NgramSpec(Section):
    """Interpolate the network with a Kneser-Ney n-gram of the training text (the model then
    samples and scores ``weight * p_network + (1 - weight) * p_ngram``; training fits the
    network alone)."""

    order: int = Field(7, ge=2, le=10, description="characters per n-gram (context order - 1)")
    weight: float = Field(0.75, gt=0, lt=1, allow_inf_nan=False,
                          description="the network's share of the mixture")


class OptimizerSpec(Section):
    name: Literal["rmsprop", "adam", "adamw", "sgd"] = "adam"
    learning_rate: float = Field(2e-3, gt=0, allow_inf_nan=False)
    clipnorm: float | None = Field(None, gt=0, description="clip each gradient's norm")
    decay_to: float | None = Field(
        None, gt=0, le=1, description="cosine-decay the rate to this fraction by the last epoch")
    ema: float | None = Field(
        None, gt=0, lt=1, description="score, checkpoint and save the weights' moving average "
                                      "with this momentum per step (Polyak averaging)")


class DistributeSpec(Section):
    """Where training runs: this process's default device, every local GPU, or several workers."""

    strategy: Literal["default", "mirrored", "multi_worker"] = Field(
        "default", description="tf.distribute strategy (see docs/scaling.md)")
    devices: list[str] | None = Field(
        None, min_length=1, description="mirrored only: these devices (default: every GPU)")
    workers: list[str] | None = Field(
        None, min_length=1, description="multi_worker only: host:port of every worker "
                                        "(default: TF_CONFIG)")
    task_index: int | None = Field(None, ge=0, description="multi_worker: this worker's index "
                                                           "in workers; 0 is the chief")

    @model_validator(mode="after")
    def _consistent(self) -> DistributeSpec:
        if self.devices is not None and self.strategy != "mirrored":
            raise ValueError("devices is only for strategy: mirrored")
        if (self.workers, self.task_index) != (None, None) and self.strategy != "multi_worker":
            raise ValueError("workers and task_index are only for strategy: multi_worker")
        if (self.workers is None) != (self.task_index is None):
            raise ValueError("give workers and task_index together (or neither, and set "
                             "TF_CONFIG)")
        bad = [w for w in self.workers or [] if not re.fullmatch(r"[^\s:]+:\d+", w)]
        if bad:
            raise ValueError(f"workers must be host:port, got {bad[0]!r}")
        if self.workers and self.task_index is not None and self.task_index >= len(self.workers):
            raise ValueError(f"task_index {self.task_index} is not an index into the "
                             f"{len(self.workers)} workers")
        return self


class TrainingSpec(Section):
    """How to train. The defaults are the project's fast recipe; the seed's is in seed_replica."""

    seq_len: int = Field(100, ge=1, description="characters per training window")
    step: int | None = Field(None, ge=1, description="window stride; default seq_len (target all)")
    target: Literal["all", "last"] = Field(
        "all", description="predict every position (char-rnn) or only the last (the seed)")
    batch_size: int = Field(64, ge=1, description="windows per step: the global batch, "
                                                "split across replicas and workers")
    epochs: int = Field(10, ge=1)
    max_seconds: float | None = Field(None, gt=0, description="stop after this wall-clock budget")
    carry_state: bool = Field(False, description="read the text as batch_size streams in "
                              "order and start each window from the state the one before "
                              "ended in (truncated backpropagation through time); a backbone "
                              "with state, target all, one device")
    optimizer: OptimizerSpec = OptimizerSpec()
    jit_compile: bool | Literal["auto"] = "auto"
    distribute: DistributeSpec = DistributeSpec()
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = Field(
        "float32", description="Keras dtype policy; the head and the loss stay float32")

    @model_validator(mode="after")
    def _carry(self) -> TrainingSpec:
        if self.carry_state:
            if self.target != "all":
                raise ValueError("carry_state trains every position (target: all); the seed's "
                                 "target: last has no windows to continue")
            if self.step is not None:
                raise ValueError("carry_state reads the text in order; leave step unset")
            if self.distribute.strategy != "default":
                raise ValueError("carry_state keeps one state per batch row on one device; use "
                                 "distribute.strategy: default")
        if self.optimizer.ema is not None and self.distribute.strategy != "default":
            raise ValueError("optimizer.ema swaps the averaged weights in on one device; use "
                             "distribute.strategy: default")
        return self


class DynamicSpec(Section):
    """Dynamic evaluation (textgen/training/dynamic.py): score each held-out segment, then
    adapt the weights on it; reported as ``val_bpc_dynamic`` beside the static ``val_bpc``."""

    segment: int = Field(50, ge=1, description="characters scored before each weight "
                                                "update (a multiple of stride)")
    stride: int = Field(50, ge=1, description="characters scored per window; each has "
                                              "evaluation.context characters before it")
    learning_rate: float = Field(2e-3, gt=0, allow_inf_nan=False,
                                 description="step size of the RMS-normalised update")
    decay: float = Field(0.01, ge=0, lt=1, allow_inf_nan=False,
                         description="pull back towards the static weights at each update")
    calibration_windows: int = Field(64, ge=1, description="training segments that measure "
                                                           "the gradients' mean square")
    ngram_recount: int = Field(500, ge=0, description="with an ngram mixture: held-out "
                               "characters between recounts of the n-gram, which also counts "
                               "the text read so far, as a compressor does (0: never)")
    carry_state: bool = Field(False, description="read the held-out text as one stream, each "
                              "segment starting from the state the last ended in (no windows, "
                              "so no stride); needs a backbone that carries state")

    @model_validator(mode="after")
    def _whole_windows(self) -> DynamicSpec:
        if self.carry_state:
            if "stride" in self.model_fields_set:
                raise ValueError("stride cuts the text into windows, and with carry_state it "
                                 "is read as one stream: leave stride out")
        elif self.segment % self.stride:
            raise ValueError(f"segment ({self.segment}) must be a multiple of stride "
                             f"({self.stride})")
        return self


class EvaluationSpec(Section):
    """Held-out bits per character: every held-out char, each with >= ``context`` chars before."""

    context: int = Field(60, ge=1, description="characters of context before each scored one")
    stride: int = Field(200, ge=1, description="characters scored per window")
    batch_size: int = Field(128, ge=1)
    dynamic: DynamicSpec | None = Field(None, description="also score with dynamic evaluation "
                                                          "after training (off by default)")




class GenerationSpec(Section):
    length: int = Field(400, ge=1, description="characters generated per sample")
    num_samples: int = Field(1, ge=1, description="samples per prompt and sampler setting")
    prompts: int = Field(1, ge=1, description="prompts drawn from the held-out text")
    prompt_length: int = Field(60, ge=1, description="characters per drawn prompt")
    prompt: str | None = Field(None, description="use this prompt instead of drawing them")
    unknown_chars: Literal["error", "skip"] = "error"
    coupled: bool = Field(False, description="every setting shares each sample's random stream")
    batch_size: int = Field(64, ge=1, description="rows decoded at once")
    jit_compile: bool = Field(True, description="compile the decoding loop with XLA: the "
                              "fastest per character, but a ~2 s compile and ~100 MB more "
                              "memory at its peak; false suits a few short samples")
    samplers: list[SamplerSetting] = Field(
        default_factory=lambda: [  # type: ignore[arg-type]  # pydantic checks them"greedy", {"temperature": 0.2}, {"temperature": 0.5},
                                 {"temperature": 1.0}, {"temperature": 1.2}])
    stop: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="end a sample at the first of these strings (the "
                                          "text is cut before it)")

    @model_validator(mode="after")
    def _decoders_fit(self) -> GenerationSpec:
        for k, setting in enumerate(self.samplers):
            try:
                chain = build_chain(setting)
            except StageError:  # reported with its line by the second pass (spec/names.py)
                continue
            most = getattr(chain, "max_samples", lambda: None)()
            if most is not None and self.num_samples > most:
                raise ValueError(f"samplers[{k}] returns at most {most} samples per prompt "
                                 f"(its width), but num_samples is {self.num_samples}: widen "
                                 "the beam or ask for fewer samples")
        return self

    @field_validator("prompt")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("the prompt is empty: give at least one character or leave it out")
        return value

    @field_validator("samplers")
    @classmethod
    def _some(cls, value: list[SamplerSetting]) -> list[SamplerSetting]:
        if not value:
            raise ValueError("list at least one sampler setting")
        return value

    def chains(self) -> list[SamplerChain]:
        return [build_chain(setting) for setting in self.samplers]


class Spec(Section):
    """A whole experiment: corpus -> backbone -> training -> generation -> report."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="names the run directory")
    seed: int = Field(1337, ge=0, description="seeds weights, shuffling, prompts and samples")
    corpus: CorpusSpec
    backbone: BackboneSpec = BackboneSpec()
    ngram: NgramSpec | None = Field(None, description="mix the network with an n-gram "
                                                      "(off by default)")
    training: TrainingSpec = TrainingSpec()
    evaluation: EvaluationSpec = EvaluationSpec()
    generation: GenerationSpec = GenerationSpec()
    report: ReportSpec = ReportSpec()
    output_dir: str = Field("runs", description="runs go to <output_dir>/<name>-<timestamp>/")

    @model_validator(mode="after")
    def _comparable(self) -> Spec:
        if self.report.compare is not None:
            if not self.generation.coupled:
                raise ValueError("report.compare needs generation.coupled: true: paired "
                                 "differences pair samples with the same prompt and seed")
            self.compare_pairs()  # every named setting exists
        return self

    def compare_pairs(self) -> list[tuple[int, int]]:
        """``report.compare`` as (setting, baseline) indices into ``generation.samplers``."""
        if self.report.compare is None:
            return []
        try:
            labels = [chain.label() for chain in self.generation.chains()]
        except StageError:  # reported with its line by the second pass (spec/names.py)
            return []
        return self.report.compare.resolve(labels, lambda ref: build_chain(ref).label())
