"""Bulk decoding without per-character statistics draws exactly the same text."""

import numpy as np

from textgen.backbones.lstm import LSTMBackbone
from textgen.generation.engine import Decoder
from textgen.samplers.base import SamplerChain
from textgen.samplers.builtin import TemperatureSampler

V = 9


def test_skipping_statistics_keeps_the_tokens_and_returns_nan():
    import keras

    from textgen.model import build_model

    keras.utils.set_random_seed(5)
    model = build_model(V, LSTMBackbone(units=8), None)
    chains = [SamplerChain([TemperatureSampler(temperature=0.8)])]
    prompt = np.random.default_rng(1).integers(0, V, (3, 4))
    args = (prompt, np.zeros(3), np.arange(3), 25)
    full = Decoder(model, chains)(*args)
    bulk = Decoder(model, chains, statistics=False)(*args)
    np.testing.assert_array_equal(bulk.tokens, full.tokens)
    assert bulk.model_entropy.shape == full.model_entropy.shape == (3, 25)
    assert np.isnan(bulk.model_entropy).all() and np.isnan(bulk.token_logprob).all()
    assert np.isfinite(full.model_entropy).all()
