"""The spec's ``report`` section: what the tables show and which settings to compare in pairs.

``compare`` names settings of ``generation.samplers`` by index (0-based), by label as the tables
print it (``temperature(0.8)``, ``top_k(20) -> temperature(0.8)``) or as the spec writes the
setting (``{temperature: 0.8}``). Paired differences need coupled noise, which the whole spec
checks (see ``Spec``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

SettingRef = int | str | dict[str, Any] | list[str | dict[str, Any]]


class CompareSpec(BaseModel):
    """Either ``baseline`` (every other setting against it) or ``pairs`` ([setting, baseline])."""

    model_config = ConfigDict(extra="forbid")

    baseline: SettingRef | None = Field(None, description="compare every setting with this one")
    pairs: list[tuple[SettingRef, SettingRef]] = Field(
        default_factory=list, description="[setting, baseline] pairs: setting - baseline")

    @model_validator(mode="after")
    def _one(self) -> CompareSpec:
        if (self.baseline is None) == (not self.pairs):
            raise ValueError("give either baseline (every setting against one) or pairs "
                             "([setting, baseline] lists), not both or neither")
        return self

    def resolve(self, labels: Sequence[str], label_of: Callable[[Any], str]) -> list[
            tuple[int, int]]:
        """(setting, baseline) index pairs; a reference that names no setting is an error
        naming the field, the reference and the settings there are."""
        if self.baseline is not None:
            base = _find(self.baseline, labels, label_of, "report.compare.baseline")
            return [(k, base) for k in range(len(labels)) if k != base]
        return [(_find(a, labels, label_of, f"report.compare.pairs.{i}.0"),
                 _find(b, labels, label_of, f"report.compare.pairs.{i}.1"))
                for i, (a, b) in enumerate(self.pairs)]


def _find(ref: SettingRef, labels: Sequence[str], label_of: Callable[[Any], str],
          where: str) -> int:
    if isinstance(ref, bool):
        raise ValueError(f"{where}: {ref!r} is not a setting index, label or sampler setting")
    if isinstance(ref, int):
        if 0 <= ref < len(labels):
            return ref
        raise ValueError(f"{where}: index {ref} is out of range; generation.samplers has "
                         f"{len(labels)} settings, indices 0 to {len(labels) - 1}")
    if isinstance(ref, str) and ref in labels:
        return labels.index(ref)
    try:
        label = label_of(ref)
    except Exception:  # not a valid setting either: the message below says what is known
        label = None
    if label in labels:
        return labels.index(label)
    raise ValueError(f"{where}: {ref!r} is not one of the settings of generation.samplers "
                     f"({', '.join(labels)}); name one by label, by index (0 to "
                     f"{len(labels) - 1}) or as the spec writes it")


class ReportSpec(BaseModel):
    """Report options: excerpts, the metrics' knobs, paired comparisons."""

    model_config = ConfigDict(extra="forbid")

    excerpt_chars: int = Field(100, ge=10, description="sample excerpt shown in tables")
    copy_window: int = Field(16, ge=2, le=1000,
                             description="characters a copied window must match verbatim")
    judge_order: int = Field(7, ge=1, le=10, description="n-gram order of the Kneser-Ney judge")
    self_bleu_samples: int = Field(50, ge=2, description="samples per setting in self-BLEU")
    reference_pieces: int = Field(
        64, ge=0, description="held-out pieces in the reference row (0: no row)")
    compare: CompareSpec | None = Field(
        None, description="paired differences between settings (needs generation.coupled)")
    tensorboard: bool = Field(False, description="write TensorBoard logs into the run "
                                                 "directory (tensorboard --logdir runs/)")
