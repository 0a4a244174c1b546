"""The records a run writes and everything downstream reads: one ``Sample`` per generated text
(``samples.jsonl``, ``generate --json``), ``RunMetrics`` (``metrics.json``) and
``ComparisonRecord`` (``textgen compare``'s ``comparison.json``).

They sit below generation, metrics and report so that each of those can use them without
stacking on another. Plain data: no TensorFlow here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

METRICS_VERSION = 1
Interval = list[float | None]  # [mean, low, high]; JSON has no NaN, so NaN is written as null
StageConfig = dict[str, dict[str, Any]]  # {stage name: its parameters}, as a spec writes it


@dataclass
class Sample:
    """One continuation with the per-character statistics of the compiled generation loop.

    ``text`` is the continuation only (without ``prompt``). The lists hold one value per
    generated character: ``model_entropy`` and ``sampling_entropy`` in bits, ``token_logprob``
    the natural-log probability of the drawn character under the model at temperature 1.
    ``sampler_config`` is the chain that drew it, stage by stage: with the run's model, the
    prompt, the seed and ``len(text)`` it reproduces the sample.
    """

    text: str
    prompt: str = ""
    sampler: str = ""   # the setting's label, e.g. "top_k(20) -> temperature(0.7)"
    seed: int = 0
    model_entropy: list[float] = field(default_factory=list)
    sampling_entropy: list[float] = field(default_factory=list)
    token_logprob: list[float] = field(default_factory=list)
    setting: int = 0    # index of the setting in its sweep
    sampler_config: list[StageConfig] = field(default_factory=list)
    end: str = "length"  # why the text ended: "length", "stop" (a stop string), "accept" (regex)
    score: float | None = None  # a decoder's ranking score (beam: normalised total log-prob)

    def to_json(self) -> dict[str, Any]:
        """The record written to samples.jsonl and printed by ``generate --json``."""
        return {**asdict(self), "length": len(self.text)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sample:
        """Read a record; older files (no ``sampler_config``) read with an empty chain."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class SettingSummary(BaseModel):
    """One sampler setting's row: its chain, how many samples, each metric's interval."""

    model_config = ConfigDict(extra="allow")

    sampler: str
    sampler_config: list[StageConfig] | None = None  # None in files written before version 1
    samples: int = 0
    metrics: dict[str, Interval] = Field(default_factory=dict)
    invented_examples: list[str] = Field(default_factory=list)


class PairedComparison(BaseModel):
    """One pair of ``report.compare`` (issue 19): ``setting - baseline`` per metric over the
    samples both drew with the same prompt and seed, as [mean, low, high] with the paired t
    interval, and the unpaired (Welch) interval of the same samples for comparison."""

    setting: str
    baseline: str
    setting_index: int
    baseline_index: int
    pairs: int = 0
    difference: dict[str, Interval] = Field(default_factory=dict)
    unpaired: dict[str, Interval] = Field(default_factory=dict)


class RunMetrics(BaseModel):
    """metrics.json: a finished run's figures, read and written by ``textgen.rundir``.

    New figures are added as optional fields; files without ``version`` predate it and read
    the same (the fields then were those of version 1).
    """

    model_config = ConfigDict(extra="allow")

    version: int = METRICS_VERSION
    name: str
    val_bpc: float | None = None
    best_val_bpc: float | None = None
    epochs: int = 0
    train_seconds: float = 0.0
    train_wall_seconds: float | None = None
    train_chars_per_second: float | None = None
    trained_in: str | None = None
    parameters: int = 0
    vocab_size: int = 0
    corpus_chars: int = 0
    generation_seconds: float | None = None
    generation_chars_per_second: float | None = None
    generation_compile_seconds: float | None = None  # issue 17
    val_bpc_dynamic: float | None = None             # issue 15
    val_bpc_network: float | None = None  # issue 15: the network alone, when ngram mixes it
    diverged: str | None = None
    settings: list[SettingSummary] = Field(default_factory=list)
    corpus_char_entropy: dict[str, float | None] | None = None
    corpus_window_char_entropy: dict[str, Any] | None = None
    reference: SettingSummary | None = None  # issue 19: held-out text scored like a setting
    comparisons: list[PairedComparison] = Field(default_factory=list)  # issue 19
    metrics_seconds: float | None = None  # issue 19: every sample metric, the index included
    metrics_timing: dict[str, float] | None = None  # issue 19: those seconds, part by part


COMPARISON_VERSION = 1


class CurvePoint(BaseModel):
    """One epoch of a compared run's learning curve (history.csv)."""

    epoch: int | None = None
    elapsed_seconds: float | None = None
    val_bpc: float | None = None


class ComparedRun(BaseModel):
    """One model of comparison.json: its run's figures (as metrics.json has them), its
    learning curve, and its decoding speed per batch size."""

    model_config = ConfigDict(extra="allow")

    name: str
    backbone: str
    describe: str = ""
    receptive_field: int | None = None
    run_dir: str
    parameters: int = 0
    epochs: int = 0
    train_seconds: float = 0.0
    train_chars_per_second: float | None = None
    val_bpc: float | None = None
    best_val_bpc: float | None = None
    val_bpc_dynamic: float | None = None
    val_bpc_network: float | None = None
    diverged: str | None = None
    settings: list[SettingSummary] = Field(default_factory=list)
    # batch size (as text) -> {seconds, chars_per_second, compile_seconds, ...}
    generation: dict[str, dict[str, Any]] = Field(default_factory=dict)
    recomputed: dict[str, Any] | None = None  # conv: cached against recomputed decoding
    history: list[CurvePoint] = Field(default_factory=list)


class ComparisonRecord(BaseModel):
    """comparison.json, written by ``textgen compare``; the report renders from it alone."""

    model_config = ConfigDict(extra="allow")

    version: int = COMPARISON_VERSION
    name: str
    created: str
    device: str
    benchmark: dict[str, Any]  # the comparison file's benchmark section, as validated
    differences: list[str] = Field(default_factory=list)  # settings that are not like for like
    runs: list[ComparedRun] = Field(default_factory=list)
