"""The compiled decoding loop: the incremental path agrees with the full model, draws follow the
seed alone, and rows of different settings do not leak into each other."""

import numpy as np
import pytest

from textgen.backbones.lstm import LSTMBackbone
from textgen.generation.engine import Decoder
from textgen.samplers.base import SamplerChain
from textgen.samplers.builtin import GreedySampler, MultinomialSampler, TemperatureSampler

V = 11


@pytest.fixture(scope="module")
def model():
    import keras

    from textgen.model import build_model

    keras.utils.set_random_seed(3)
    return build_model(V, LSTMBackbone(units=16, layers=2), 8)


def chains(*stages):
    return [SamplerChain([s]) for s in stages]


@pytest.mark.parametrize("jit", [True, False])
def test_generated_log_probs_match_the_full_model(model, jit):
    prompt = np.random.default_rng(0).integers(0, V, (3, 5))
    out = Decoder(model, chains(MultinomialSampler()), jit_compile=jit)(
        prompt, np.zeros(3), np.arange(3), 40)
    full = np.concatenate([prompt, out.tokens], axis=1)
    logits = np.asarray(model(full[:, :-1]), np.float64)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    scored = np.take_along_axis(logp[:, 4:], out.tokens[..., None], -1)[..., 0]
    np.testing.assert_allclose(out.token_logprob, scored, atol=1e-4)
    entropy = -(np.exp(logp) * logp).sum(-1) / np.log(2)
    np.testing.assert_allclose(out.model_entropy, entropy[:, 4:], atol=1e-4)
    np.testing.assert_allclose(out.sampling_entropy, out.model_entropy, atol=1e-4)


def test_greedy_follows_the_argmax(model):
    prompt = np.ones((2, 3), np.int32)
    out = Decoder(model, chains(GreedySampler()))(prompt, np.zeros(2), [5, 9], 20)
    full = np.concatenate([prompt, out.tokens], axis=1)
    expected = np.argmax(np.asarray(model(full[:, :-1]))[:, 2:], axis=-1)
    np.testing.assert_array_equal(out.tokens, expected)
    assert (out.tokens[0] == out.tokens[1]).all()  # greedy ignores the seed
    assert out.sampling_entropy.max() == 0.0


def test_a_row_depends_on_its_own_seed_not_its_neighbours(model):
    decoder = Decoder(model, chains(GreedySampler(), TemperatureSampler(temperature=1.5)))
    prompt = np.full((4, 2), 3)
    a = decoder(prompt, [1, 1, 0, 1], [10, 11, 12, 13], 30).tokens
    b = decoder(prompt, [0, 1, 1, 1], [99, 13, 11, 10], 30).tokens
    np.testing.assert_array_equal(a[0], b[3])
    np.testing.assert_array_equal(a[1], b[2])
    np.testing.assert_array_equal(a[3], b[1])
    assert not (a[0] == a[1]).all()  # other seeds, other text


def test_empty_prompt_is_refused(model):
    with pytest.raises(ValueError, match="empty"):
        Decoder(model, chains(GreedySampler()))(np.zeros((1, 0)), [0], [0], 5)


def test_recording_every_stage_draws_the_same_ids_in_shards_or_not(model):
    from textgen.samplers.build import build_chain

    chain = build_chain([{"top_k": 4}, {"temperature": 0.7}])
    prompt = np.random.default_rng(1).integers(0, V, (16, 3))
    seeds, setting = np.arange(16), np.zeros(16)
    plain = Decoder(model, [chain])(prompt, setting, seeds, 12)
    one = Decoder(model, [chain], record_stages=True, threads=1)(prompt, setting, seeds, 12)
    two = Decoder(model, [chain], record_stages=True, threads=2)(prompt, setting, seeds, 12)
    np.testing.assert_array_equal(one.tokens, plain.tokens)
    assert one.model_probs.shape == (16, 12, V) and one.stage_probs.shape == (16, 12, 2, V)
    drawn = np.take_along_axis(one.model_probs, one.tokens[..., None], -1)[..., 0]
    np.testing.assert_allclose(drawn, np.exp(plain.token_logprob), rtol=1e-4)
    assert (np.count_nonzero(one.stage_probs[:, :, 0], axis=-1) <= 4).all()
    for name in ("tokens", "model_probs", "stage_probs"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    assert plain.model_probs is None
    with pytest.raises(ValueError, match="exactly one setting"):
        Decoder(model, [chain, chain], record_stages=True)
