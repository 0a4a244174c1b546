"""A broken stage is stopped with a message naming it and its plugin (issue 14): NaN or an
emptied row inside the compiled loop, errors at trace time, wrong shapes, changing states, and
every chain is checked before decoding starts."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from pydantic import BaseModel, ConfigDict, Field

from textgen.backbones.lstm import LSTMBackbone
from textgen.errors import TextgenError
from textgen.generation.engine import Decoder
from textgen.model import build_model
from textgen.samplers.base import SamplerChain, StageFailure
from textgen.samplers.build import StageError, build_chain
from textgen.samplers.builtin import GreedySampler, TemperatureSampler
from textgen.samplers.ops import ops

V = 6


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model(V, LSTMBackbone(units=8), 4)


def decode(model, *stages, length=6, rows=8):
    decoder = Decoder(model, [SamplerChain(list(stages))])
    return decoder(np.zeros((rows, 2), np.int32), np.zeros(rows), np.arange(rows), length)


class EmptiesLater:
    """After ``after`` steps, every row of the output is -inf (a stage removing everything)."""


class EmptyAfterThree(GreedySampler):
    plugin = "test_plugin, tg-test 1.0"

    def initial_state(self, batch_size, vocab_size):
        return (ops.zeros((batch_size,), dtype="int32"),)

    def warp(self, logits, state, *, noise=None):
        late = ops.expand_dims(state[0] >= 3, -1)
        return ops.where(late, ops.full_like(logits, float("-inf")), logits), state

    def update(self, state, token, warped):
        return (state[0] + 1,)


class NaNStage(GreedySampler):
    def transform(self, logits):
        return logits * float("nan")


class Wider(GreedySampler):
    def transform(self, logits):
        return ops.concatenate([logits, logits[:, :1]], axis=1)


class IteratesOverLogits(GreedySampler):
    """Works eagerly, fails when traced: "Iterating over a symbolic tf.Tensor"."""

    def transform(self, logits):
        return tf.stack([row for row in logits])


class ForgetsTheState(GreedySampler):
    def warp(self, logits, state, *, noise=None):
        return logits


class GrowingState(GreedySampler):
    def initial_state(self, batch_size, vocab_size):
        return (ops.zeros((batch_size, 1)),)

    def update(self, state, token, warped):
        return (ops.concatenate([state[0], state[0]], axis=1),)


def test_an_emptied_row_inside_the_loop_stops_decoding_naming_stage_plugin_and_step(model):
    with pytest.raises(StageFailure) as info:
        decode(model, EmptyAfterThree())
    message = str(info.value)
    assert "EmptyAfterThree" in message and "test_plugin, tg-test 1.0" in message
    assert "step 3" in message and "removed every symbol" in message
    assert isinstance(info.value, TextgenError)  # the CLI: one paragraph, exit 2


@pytest.mark.parametrize("stage, says", [
    (NaNStage(), "output NaN"),
    (Wider(), "shape"),
    (GrowingState(), "changed the state"),
    (ForgetsTheState(), r"not a \(logits, state\) pair"),
])
def test_every_chain_is_checked_before_decoding(model, stage, says):
    with pytest.raises(StageFailure, match=says) as info:
        Decoder(model, [build_chain("greedy"), SamplerChain([TemperatureSampler(
            temperature=1.0), stage])])
    assert type(stage).__name__ in str(info.value)


def test_an_error_only_raised_when_traced_names_the_stage(model):
    with pytest.raises(StageFailure) as info:
        decode(model, IteratesOverLogits())
    message = str(info.value)
    assert "IteratesOverLogits" in message and "failed in warp" in message
    assert "check_stage" in message


def test_a_healthy_chain_decodes_as_before(model):
    out = decode(model, TemperatureSampler(temperature=0.7))
    assert out.tokens.shape == (8, 6) and (out.tokens < V).all()


class TwoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: float = Field(0.5, allow_inf_nan=False)
    b: float = Field(1.0, allow_inf_nan=False)


def test_a_bare_value_for_a_stage_without_primary_gets_the_mapping_advice():
    from textgen.plugins import load_registry

    class NoPrimary(GreedySampler):
        Params = TwoParams

    reg = load_registry()
    reg.samplers["no_primary"] = NoPrimary
    with pytest.raises(StageError, match=r"no primary parameter.*\{no_primary: \{a: \.\.\., "
                                         r"b: \.\.\.\}\}"):
        build_chain({"no_primary": 0.3}, reg)
    with pytest.raises(StageError, match="takes no value"):
        build_chain({"greedy": 0.3}, reg)


def test_a_decoder_that_refuses_its_parameters_raises_a_stage_error():
    from textgen.errors import TextgenError
    from textgen.generation.decoders import BeamSearch
    from textgen.plugins import load_registry

    class Picky(BeamSearch):
        primary = None

        def __init__(self, **params):
            super().__init__(**params)
            if self.params.width == 3:
                raise ValueError("width 3 is unlucky")

    reg = load_registry()
    reg.decoders["picky"] = Picky
    with pytest.raises(StageError, match="decoder 'picky': width 3 is unlucky") as info:
        build_chain({"picky": {"width": 3}}, reg)
    assert isinstance(info.value, TextgenError) and info.value.where == ("picky",)
    with pytest.raises(StageError, match="no primary parameter"):
        build_chain({"picky": 3}, reg)


@pytest.mark.parametrize("value", [1e308, 4e38])
def test_parameters_must_be_finite_in_float32(value):
    with pytest.raises(StageError, match="temperature.*float32"):
        build_chain({"temperature": value})


def test_temperature_keeps_a_row_without_finite_logits_at_minus_inf():
    out = TemperatureSampler(temperature=0.5)(np.array([[-np.inf, -np.inf], [1.0, 3.0]]))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out[0], [-np.inf, -np.inf])
    np.testing.assert_allclose(out[1], [-4.0, 0.0])


def test_the_cli_refuses_a_temperature_float32_cannot_hold(tmp_path):
    from click.testing import CliRunner

    from textgen.cli import cli

    result = CliRunner().invoke(cli, ["generate", str(tmp_path), "--temperature", "1e308"])
    assert result.exit_code == 2
    assert "temperature" in result.output and "float32" in result.output
