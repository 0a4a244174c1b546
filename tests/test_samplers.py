"""Built-in sampler stages: what each does to a batch of logits, and how chains compose."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from textgen.samplers.base import SamplerChain, entropy_bits
from textgen.samplers.build import build_chain
from textgen.samplers.builtin import (
    GreedySampler,
    MultinomialSampler,
    TemperatureSampler,
    UniformSampler,
)

LOGITS = np.array([[2.0, 1.0, 0.5, -1.0], [0.0, 3.0, 3.0, 1.0]], np.float32)


def test_greedy_keeps_only_the_first_argmax():
    out = np.asarray(GreedySampler()(LOGITS))
    assert np.isfinite(out).sum(axis=1).tolist() == [1, 1]
    assert np.argmax(out, axis=1).tolist() == [0, 1]  # ties go to the lower id
    assert np.asarray(entropy_bits(out)).tolist() == [0.0, 0.0]


def test_multinomial_leaves_the_model_distribution_alone():
    np.testing.assert_allclose(MultinomialSampler()(LOGITS), LOGITS)


def test_uniform_ignores_the_model():
    out = np.asarray(UniformSampler()(LOGITS))
    np.testing.assert_allclose(out, np.zeros_like(LOGITS))
    np.testing.assert_allclose(entropy_bits(out), [2.0, 2.0], atol=1e-6)


def test_uniform_after_a_truncation_spreads_over_what_is_left():
    chain = SamplerChain([GreedySampler(), UniformSampler()])
    assert np.isfinite(np.asarray(chain(LOGITS))).sum(axis=1).tolist() == [1, 1]


def test_temperature_is_p_to_the_one_over_t_renormalised():
    t = 0.5
    out = np.asarray(TemperatureSampler(temperature=t)(LOGITS), np.float64)
    p = np.exp(LOGITS.astype(np.float64))
    p /= p.sum(axis=1, keepdims=True)
    expected = p ** (1 / t) / (p ** (1 / t)).sum(axis=1, keepdims=True)
    got = np.exp(out) / np.exp(out).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_entropy_grows_with_temperature_and_tiny_t_is_greedy():
    entropies = [float(entropy_bits(TemperatureSampler(temperature=t)(LOGITS))[0])
                 for t in (0.01, 0.2, 0.5, 1.0, 1.2, 5.0)]
    assert entropies == sorted(entropies)
    assert entropies[0] < 1e-6
    assert entropies[-1] < math.log2(4)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_temperature_must_be_positive_and_finite(bad):
    with pytest.raises(ValidationError):
        TemperatureSampler(temperature=bad)


def test_extreme_logits_give_no_nan():
    extreme = np.array([[1e30, -1e30, 0.0, 1e30], [-1e30] * 4], np.float32)
    for stage in (GreedySampler(), MultinomialSampler(), UniformSampler(),
                  TemperatureSampler(temperature=0.01), TemperatureSampler(temperature=100)):
        out = np.asarray(stage(extreme))
        assert not np.isnan(out).any(), stage
        assert not np.isnan(np.asarray(entropy_bits(out))).any(), stage


def test_spec_syntax_builds_chains_and_labels():
    chain = build_chain([{"temperature": 0.7}, "greedy"])
    assert chain.label() == "temperature(0.7) -> greedy"
    assert chain.get_config() == [{"temperature": {"temperature": 0.7}}, {"greedy": {}}]
    assert build_chain({"temperature": {"temperature": 2}}).label() == "temperature(2)"


def test_config_round_trip():
    stage = TemperatureSampler(temperature=0.3)
    again = TemperatureSampler.from_config(stage.get_config())
    np.testing.assert_allclose(again(LOGITS), stage(LOGITS))


@pytest.mark.parametrize("setting, message", [
    ("greedyy", "Did you mean 'greedy'"),
    ({"temperature": -1}, "greater than 0"),
    ({"greedy": 3}, "takes no value"),
    ({"a": 1, "b": 2}, "one-key mapping"),
])
def test_bad_settings_say_what_is_wrong(setting, message):
    with pytest.raises(ValueError, match=message):
        build_chain(setting)
