"""The four built-in stages: greedy, multinomial, temperature, uniform."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from textgen.samplers.base import FLOAT32_TINY, Sampler, keep_mask
from textgen.samplers.ops import ops


class GreedySampler(Sampler):
    """Keep only the most likely symbol (the first on ties), so the draw is the argmax."""

    def transform(self, logits: Any) -> Any:
        best = ops.argmax(logits, axis=-1)
        return keep_mask(logits, ops.one_hot(best, ops.shape(logits)[-1]) > 0)


class MultinomialSampler(Sampler):
    """Draw from the model's own distribution, unchanged (temperature 1)."""


class TemperatureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(gt=0, allow_inf_nan=False,
                               description="T in p_i^(1/T); T -> 0 tends to greedy")

    @field_validator("temperature")
    @classmethod
    def _normal_in_float32(cls, value: float) -> float:
        if value < FLOAT32_TINY:  # 0 in the float32 loop (XLA flushes subnormals): 0 / 0
            raise ValueError(f"{value:g} is 0 in float32; use at least 1.2e-38 "
                             "(or the greedy stage)")
        return value


class TemperatureSampler(Sampler):
    """Reweight the distribution to ``p_i^(1/T)``, renormalised: divide logits by T."""

    primary: ClassVar[str | None] = "temperature"
    Params = TemperatureParams

    def transform(self, logits: Any) -> Any:
        # Shift so the largest logit is 0: dividing by a tiny T cannot overflow to inf. A row
        # with no finite logit is not shifted (-inf - -inf is NaN): it stays -inf, as a plain
        # division would leave it.
        top = ops.max(logits, axis=-1, keepdims=True)
        top = ops.where(ops.isfinite(top), top, ops.zeros_like(top))
        return (logits - top) / self.params.temperature


class UniformSampler(Sampler):
    """Every symbol still allowed is equally likely: the model's preferences are ignored."""

    def transform(self, logits: Any) -> Any:
        return keep_mask(ops.zeros_like(logits), logits > float("-inf"))
