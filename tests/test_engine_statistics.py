"""Bulk decoding (no per-character statistics, batches split across threads) draws exactly
the same text as the plain decoder."""

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


def test_a_batch_split_across_threads_decodes_the_same_rows():
    import keras

    from textgen.model import build_model

    keras.utils.set_random_seed(6)
    model = build_model(V, LSTMBackbone(units=8), 4)
    chains = [SamplerChain([TemperatureSampler(temperature=1.0)])]
    prompt = np.random.default_rng(2).integers(0, V, (16, 3))
    args = (prompt, np.zeros(16), np.arange(16) * 7, 20)
    one = Decoder(model, chains, threads=1)(*args)
    two = Decoder(model, chains, threads=2)
    assert two._shards(16) == 2
    np.testing.assert_array_equal(two(*args).tokens, one.tokens)
    np.testing.assert_allclose(two(*args).token_logprob, one.token_logprob, atol=1e-6)
