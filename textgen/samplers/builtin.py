"""The four built-in stages: greedy, multinomial, temperature, uniform."""

from __future__ import annotations

from typing import Any, ClassVar

from keras import ops
from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import Sampler, keep_mask


class GreedySampler(Sampler):
    """Keep only the most likely symbol (the first on ties), so the draw is the argmax."""

    name = "greedy"

    def transform(self, logits: Any) -> Any:
        best = ops.argmax(logits, axis=-1)
        return keep_mask(logits, ops.one_hot(best, ops.shape(logits)[-1]) > 0)


class MultinomialSampler(Sampler):
    """Draw from the model's own distribution, unchanged (temperature 1)."""

    name = "multinomial"


class TemperatureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(gt=0, allow_inf_nan=False,
                               description="T in p_i^(1/T); T -> 0 tends to greedy")


class TemperatureSampler(Sampler):
    """Reweight the distribution to ``p_i^(1/T)``, renormalised: divide logits by T."""

    name = "temperature"
    primary: ClassVar[str | None] = "temperature"
    Params = TemperatureParams

    def transform(self, logits: Any) -> Any:
        # Shift so the largest logit is 0: dividing by a tiny T cannot overflow to inf.
        shifted = logits - ops.max(logits, axis=-1, keepdims=True)
        return shifted / self.params.temperature


class UniformSampler(Sampler):
    """Every symbol still allowed is equally likely: the model's preferences are ignored."""

    name = "uniform"

    def transform(self, logits: Any) -> Any:
        return keep_mask(ops.zeros_like(logits), logits > float("-inf"))
