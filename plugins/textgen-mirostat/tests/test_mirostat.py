"""Mirostat v2 and the repetition penalty: hand-computed steps, compiled loops, NumPy reference."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from textgen.backbones.lstm import LSTMBackbone
from textgen.generation.engine import Decoder
from textgen.model import build_model
from textgen.plugins import load_registry
from textgen.samplers.base import SamplerChain
from textgen.samplers.build import build_chain
from textgen.testing import check_stage
from textgen_mirostat import MirostatSampler, RepetitionPenaltySampler

INF = math.inf


def step(stage, logits, state, token):
    """One warp and update with a chosen token; returns (warped, new state) as NumPy."""
    warped, state = stage.warp(tf.constant(logits, tf.float32), state)
    state = stage.update(state, tf.constant(token, tf.int32), warped)
    return np.asarray(warped), tuple(np.asarray(s) for s in state)


# --- mirostat ---------------------------------------------------------------------------------
P = [0.5, 0.25, 0.125, 0.0625, 0.0625]  # surprises 1, 2, 3, 4, 4 bits


def test_mirostat_hand_computed_step():
    stage = MirostatSampler(tau=1.6)  # mu starts at 3.2 bits: symbols of 4 bits go
    logits = np.log([P, P])
    (mu,) = stage.initial_state(2, 5)
    np.testing.assert_allclose(mu, [3.2, 3.2])
    warped, (mu,) = step(stage, logits, (mu,), [1, 0])
    assert np.isfinite(warped).tolist() == [[True, True, True, False, False]] * 2
    np.testing.assert_allclose(warped[:, :3], logits[:, :3], rtol=1e-6)
    # Renormalised over 0.875: token 1 has 0.25 / 0.875, token 0 has 0.5 / 0.875.
    expected = [3.2 - 0.1 * (math.log2(3.5) - 1.6), 3.2 - 0.1 * (math.log2(1.75) - 1.6)]
    np.testing.assert_allclose(mu, expected, rtol=1e-5)
    assert mu[0] != mu[1]  # rows that drew different symbols now cut differently


def test_mirostat_keeps_the_top_symbol_when_mu_is_below_every_surprise():
    stage = MirostatSampler(tau=0.1, eta=0.5)
    warped, (mu,) = step(stage, np.array([[1.0, 2.0, 2.0, 0.0]]), stage.initial_state(1, 4), [1])
    assert np.isfinite(warped).tolist() == [[False, True, False, False]]
    np.testing.assert_allclose(mu, [0.2 + 0.5 * 0.1], rtol=1e-6)  # surprise 0 under the cut


def test_mirostat_per_row_mu_follows_each_rows_draws():
    stage = MirostatSampler(tau=1.6, eta=0.2)
    logits = np.log([P, P])
    state = stage.initial_state(2, 5)
    for _ in range(3):
        _, state = step(stage, logits, state, [0, 1])  # 0.81 and 1.81 bits after the cut
    mu = state[0]
    assert mu[0] > 3.2 > mu[1]  # too little surprise raises mu, too much lowers it


def test_mirostat_ignores_a_token_outside_its_cut():
    stage = MirostatSampler(tau=1.6)  # the engine may draw a row from another setting
    _, (mu,) = step(stage, np.log([P]), stage.initial_state(1, 5), [4])
    np.testing.assert_allclose(mu, [3.2])


def gumbel_loop(chain, logits, steps, jit):
    """``steps`` rounds of warp, Gumbel-argmax draw and update in one compiled while loop;
    returns the final states and each step's observed surprise (bits) under the last stage."""

    @tf.function(jit_compile=jit, input_signature=[tf.TensorSpec([None, logits.shape[1]])])
    def run(x):
        def body(i, states, surprises):
            final, outputs, states = chain.warp(x, states)
            u = tf.random.stateless_uniform(tf.shape(final), seed=[7, i], minval=1e-20)
            token = tf.argmax(final - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)
            s = -tf.gather(tf.nn.log_softmax(final), token, batch_dims=1) / math.log(2.0)
            return i + 1, chain.update(states, token, outputs), surprises.write(i, s)

        init = (tf.constant(0), chain.initial_state(tf.shape(x)[0], logits.shape[1]),
                tf.TensorArray(tf.float32, steps))
        _, states, surprises = tf.while_loop(lambda i, *_: i < steps, body, init)
        return states, surprises.stack()

    states, surprises = run(tf.constant(logits))
    return tf.nest.map_structure(np.asarray, states), np.asarray(surprises)


@pytest.mark.parametrize("jit", [False, True])
def test_mirostat_drives_mean_surprise_to_tau_in_a_compiled_loop(jit):
    zipf = -1.2 * np.log(np.arange(1, 33))  # 3.75 bits of entropy
    logits = np.tile(zipf, (256, 1)).astype(np.float32)
    stage = MirostatSampler(tau=2.0, eta=0.3)
    ((mu,),), surprises = gumbel_loop(SamplerChain([stage]), logits, 20, jit)
    assert mu.shape == (256,) and np.isfinite(mu).all()
    per_step = surprises.mean(axis=1)
    assert abs(per_step[0] - 2.0) > 0.4  # the first cut at mu = 4 bits overshoots...
    assert abs(per_step[10:].mean() - 2.0) < 0.15  # ...then the feedback settles near tau


def test_chained_stateful_stages_keep_their_state_shapes():
    rep, miro = RepetitionPenaltySampler(penalty=1.5), MirostatSampler(tau=2.0)
    logits = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    ((counts,), (mu,)), surprises = gumbel_loop(SamplerChain([rep, miro]), logits, 20, True)
    assert counts.shape == (3, 8) and mu.shape == (3,) and surprises.shape == (20, 3)
    np.testing.assert_array_equal(counts.sum(axis=1), [20, 20, 20])


# --- repetition penalty -----------------------------------------------------------------------
def ref_repetition_penalty(logits, history, penalty):
    """HF's CTRL rule, one row and one symbol at a time."""
    out = np.array(logits, np.float64)
    for row, tokens in enumerate(history):
        for token in set(tokens):
            v = out[row, token]
            out[row, token] = v * penalty if v < 0 else v / penalty
    return out.astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(st.data(), st.floats(1, 5), st.integers(1, 3), st.integers(2, 10))
def test_repetition_penalty_matches_reference(data, penalty, batch, vocab):
    logits = data.draw(hnp.arrays(np.float32, (batch, vocab), elements=st.one_of(
        st.floats(-20, 20, width=32), st.just(-INF))))
    history = data.draw(st.lists(st.lists(st.integers(0, vocab - 1), min_size=4, max_size=4),
                                 min_size=batch, max_size=batch))
    stage = RepetitionPenaltySampler(penalty=penalty)
    state = stage.initial_state(batch, vocab)
    for t in range(4):
        _, state = step(stage, logits, state, [h[t] for h in history])
    warped, _ = stage.warp(tf.constant(logits), state)
    np.testing.assert_allclose(np.asarray(warped), ref_repetition_penalty(logits, history, penalty),
                               rtol=1e-6, atol=1e-30)  # TF flushes denormals to 0
    np.testing.assert_array_equal(state[0].sum(axis=1), [4] * batch)


def test_repetition_penalty_sizes_its_state_from_the_arguments():
    stage = RepetitionPenaltySampler(penalty=2.0)
    (counts,) = stage.initial_state(2, 7)
    assert counts.shape == (2, 7)
    out = stage(np.array([[1.0, -1.0]]))  # on its own: nothing generated yet, the identity
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [[1.0, -1.0]])


def test_the_engine_sizes_and_carries_the_state():
    """Through the real decoding loop: greedy after the penalty follows the NumPy reference."""
    keras.utils.set_random_seed(0)
    model = build_model(7, LSTMBackbone(units=8), 4)
    settings = [build_chain([{"repetition_penalty": 3.0}, "greedy"]),
                build_chain({"mirostat": 1.0})]
    prompt = np.zeros((2, 2), np.int32)
    tokens = Decoder(model, settings)(prompt, [0, 1], np.arange(2), 12).tokens
    full = np.concatenate([prompt, tokens], axis=1)
    logits = np.asarray(model(full[:, :-1]))[0, 1:]  # row 0: the logits before each draw
    for t, row in enumerate(logits):
        expected = ref_repetition_penalty(row[None], [tokens[0, :t].tolist()], 3.0)
        assert tokens[0, t] == np.argmax(expected)


# --- parameters and registration --------------------------------------------------------------
@pytest.mark.parametrize("cls, params", [
    (MirostatSampler, {"tau": 0.0}), (MirostatSampler, {"eta": -0.1}),
    (MirostatSampler, {"tau": math.inf}), (MirostatSampler, {"mu": 3.0}),
    (RepetitionPenaltySampler, {"penalty": 0.9}), (RepetitionPenaltySampler, {}),
])
def test_invalid_params_are_validation_errors(cls, params):
    with pytest.raises(ValidationError):
        cls(**params)


def test_defaults_and_standalone_call():
    stage = MirostatSampler()
    assert stage.get_config() == {"tau": 3.0, "eta": 0.1}
    out = np.asarray(stage(np.log([P])))  # mu = 6 bits: every symbol stays
    assert np.isfinite(out).all()


def test_registers_through_entry_points():
    reg = load_registry()
    for name, cls in [("mirostat", MirostatSampler),
                      ("repetition_penalty", RepetitionPenaltySampler)]:
        assert reg.entry("samplers", name).dist == "textgen-mirostat"
        assert reg.samplers[name] is cls


@pytest.mark.parametrize("cls, params", [
    (MirostatSampler, {"tau": 2.0}), (MirostatSampler, {"tau": 0.5, "eta": 1.0}),
    (RepetitionPenaltySampler, {"penalty": 1.5}),
])
def test_stages_pass_the_conformance_kit(cls, params):
    check_stage(cls, params, steps=5)
