"""textgen.testing.check_stage: passes the built-in stages and names what a broken stage does."""

from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from textgen.samplers.base import Sampler
from textgen.samplers.builtin import (
    GreedySampler,
    MultinomialSampler,
    TemperatureSampler,
    UniformSampler,
)
from textgen.samplers.ops import ops
from textgen.testing import check_stage


@pytest.mark.parametrize("cls, params", [
    (GreedySampler, {}), (MultinomialSampler, {}), (UniformSampler, {}),
    (TemperatureSampler, {"temperature": 0.05}), (TemperatureSampler, {"temperature": 3.0}),
])
def test_the_builtin_stages_conform(cls, params):
    check_stage(cls, params)


class NaNStage(Sampler):
    def transform(self, logits):
        return logits * np.float32("nan")


class EmptyingStage(Sampler):
    def transform(self, logits):
        return ops.full_like(logits, float("-inf"))


class GrowingState(Sampler):
    def initial_state(self, batch_size, vocab_size):
        return (ops.zeros((batch_size, 1)),)

    def update(self, state, token, warped):
        return (ops.concatenate([state[0], state[0]], axis=1),)


class DriftingState(Sampler):
    """Returns a float64 state: the compiled loop's dtypes no longer match."""

    def initial_state(self, batch_size, vocab_size):
        return (ops.zeros((batch_size,), dtype="float32"),)

    def update(self, state, token, warped):
        return (ops.cast(state[0], "float64") + 1.0,)


class ListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, allow_inf_nan=False)


class UnstableConfig(Sampler):
    primary: ClassVar[str | None] = "scale"
    Params = ListParams

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.params.scale, "extra": object()}


@pytest.mark.parametrize("cls, message", [
    (NaNStage, "NaN in the output"),
    (EmptyingStage, "no finite logit left in rows"),
    (GrowingState, "state"),
    (DriftingState, "state"),
    (UnstableConfig, "get_config"),
])
def test_broken_stages_are_named_with_what_is_wrong(cls, message):
    with pytest.raises(AssertionError, match=message) as info:
        check_stage(cls, vocab_sizes=(5,), steps=2)
    assert cls.__name__ in str(info.value)


def test_a_stage_that_differs_when_compiled_is_caught():
    class EagerOnly(Sampler):
        def transform(self, logits):
            import tensorflow as tf

            return logits + (0.0 if tf.executing_eagerly() else 1.0)

    with pytest.raises(AssertionError, match="compiled loop gives"):
        check_stage(EagerOnly, vocab_sizes=(4,), steps=1)


def test_extra_cases_and_instances():
    check_stage(TemperatureSampler(temperature=0.7), cases={"mine": [[0.0, 1.0, 2.0]]})
    with pytest.raises(TypeError):
        check_stage(TemperatureSampler(temperature=0.7), {"temperature": 1.0})
