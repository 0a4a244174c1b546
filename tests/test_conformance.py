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


class BoundStage(Sampler):
    """Adds 1 to the logit of "a": needs the model's characters, refuses another width."""

    chars: tuple[str, ...] = ()

    def bind(self, vocab):
        self.chars = tuple(vocab)

    def transform(self, logits):
        if logits.shape[-1] != len(self.chars):
            raise ValueError(f"bound to {len(self.chars)} characters, got {logits.shape[-1]}")
        return logits + np.float32([c == "a" for c in self.chars])


class EndsAtA(Sampler):
    """Ends a row once it draws "a" (id 0), and removes everything after: a row it declares
    finished is no longer drawn from."""

    def initial_state(self, batch_size, vocab_size):
        return (ops.zeros([batch_size], "bool"),)

    def warp(self, logits, state, *, noise=None):
        (done,) = state
        return ops.where(done[:, None], ops.full_like(logits, -np.inf), logits), state

    def update(self, state, token, warped):
        return (state[0] | (token == 0),)

    def finished(self, state):
        return state[0]


class NeverSaysFinished(EndsAtA):
    def finished(self, state):
        return None


def test_a_stage_bound_to_a_vocabulary_is_checked_at_its_width():
    check_stage(BoundStage, vocab="abcd")
    with pytest.raises(AssertionError, match="bound to 0 characters"):
        check_stage(BoundStage)


def test_rows_a_stage_declares_finished_are_not_checked_after():
    check_stage(EndsAtA, vocab_sizes=(3,), steps=4)
    with pytest.raises(AssertionError, match="no finite logit left"):
        check_stage(NeverSaysFinished, vocab_sizes=(3,), steps=4)
