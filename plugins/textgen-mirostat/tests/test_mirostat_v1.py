"""Mirostat v1 against a loop-based NumPy reference of llama.cpp's
``llama_sampler_mirostat_apply``, stepped over real draws, and through the decoding loop."""

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
from textgen.samplers.builtin import GreedySampler
from textgen.testing import check_stage, logit_arrays
from textgen_mirostat import MirostatV1Sampler

INF = math.inf

F = np.float32


def ref_cut(row, mu, m):
    """llama.cpp's k for one row, in float32 as there; returns (ids kept, float k)."""
    cand = sorted(((i, float(v)) for i, v in enumerate(row) if v > -INF),
                  key=lambda c: (-c[1], c[0]))
    if not cand:
        return [], math.nan
    top = cand[0][1]
    e = [math.exp(v - top) for _, v in cand]
    p = [F(x / sum(e)) for x in e]
    sum_tb, sum_tt = F(0), F(0)
    with np.errstate(all="ignore"):
        for i in range(min(m - 1, len(cand) - 1)):
            t = F(math.log((i + 2) / (i + 1)))
            b = F(np.log(F(p[i] / p[i + 1]))) if p[i + 1] > 0 else F(INF)
            if p[i] == 0:
                b = F(np.nan)
            sum_tb, sum_tt = F(sum_tb + t * b), F(sum_tt + t * t)
        s_hat = F(sum_tb / sum_tt) if sum_tt > 0 else F(np.nan)
        e_hat = F(s_hat - 1)
        k = F(np.power(F(e_hat * np.power(F(2), F(mu))) / F(1 - np.power(F(len(row)), -e_hat)),
                       F(1) / s_hat))
    if math.isnan(k) or k < 1:
        kept = 1
    elif k >= 2.0 ** 31:
        kept = len(cand)
    else:
        kept = min(int(k), len(cand))
    return [i for i, _ in cand[:kept]], float(k)


def near_integer(k):
    return math.isfinite(k) and abs(k - round(k)) <= 1e-3 * max(1.0, abs(k))


@settings(max_examples=150, deadline=None)
@given(logit_arrays(), st.sampled_from([0.5, 2.0, 3.0, 6.0, 12.0]), st.sampled_from([2, 3, 100]))
def test_cut_matches_llama_cpp(logits, mu, m):
    stage = MirostatV1Sampler(tau=1.0, m=m)
    batch = len(logits)
    out, _ = stage.warp(tf.constant(logits), (tf.fill([batch], F(mu)),))
    out = np.asarray(out)
    for b, row in enumerate(logits):
        kept, k = ref_cut(row, mu, m)
        if near_integer(k):
            continue  # float32 rounding may put k on either side of the integer
        assert np.flatnonzero(np.isfinite(out[b])).tolist() == sorted(kept), (b, k)
        np.testing.assert_array_equal(out[b][kept], row[kept])


@settings(max_examples=40, deadline=None)
@given(st.data(), st.integers(2, 20), st.sampled_from([1.0, 2.5]), st.sampled_from([0.1, 0.5]))
def test_mu_follows_the_draws_as_llama_cpp(data, vocab, tau, eta):
    """Stepped over 12 draws: each step's cut and the mu update match the reference."""
    stage = MirostatV1Sampler(tau=tau, eta=eta)
    logits = data.draw(hnp.arrays(np.float32, (2, vocab),
                                  elements=st.floats(-8, 8, width=32, allow_subnormal=False)))
    state = stage.initial_state(2, vocab)
    mu = [2 * tau, 2 * tau]
    for _ in range(12):
        warped, state = stage.warp(tf.constant(logits), state)
        w = np.asarray(warped)
        tokens = []
        for b in range(2):
            kept, k = ref_cut(logits[b], mu[b], 100)
            if near_integer(k):
                return
            assert np.flatnonzero(np.isfinite(w[b])).tolist() == sorted(kept)
            token = data.draw(st.sampled_from(kept))
            q = np.exp(logits[b][kept].astype(np.float64) - logits[b][kept].max())
            surprise = -math.log2(q[kept.index(token)] / q.sum())
            mu[b] -= eta * (surprise - tau)
            tokens.append(token)
        state = stage.update(state, tf.constant(tokens, tf.int32), warped)
        np.testing.assert_allclose(np.asarray(state[0]), mu, rtol=1e-4, atol=1e-4)


def test_hand_computed_zipf_cut():
    """A Zipf law p_i ~ (i+1)^-2 over 50 symbols: every b_i = 2 t_i, so s = 2, e = 1 and
    k = (2^mu / (1 - 50^-1))^(1/2) = 8.08 at mu = 6: eight symbols stay."""
    p = np.array([(i + 1) ** -2.0 for i in range(50)])
    logits = np.log(p / p.sum()).astype(np.float32)[None]
    stage = MirostatV1Sampler(tau=3.0)
    out, _ = stage.warp(tf.constant(logits), (tf.constant([6.0]),))
    k = int((2 ** 6 / (1 - 50 ** -1.0)) ** 0.5)  # 8
    assert np.isfinite(np.asarray(out)).sum() == k == 8


def test_runs_inside_the_decoding_loop_and_cuts():
    """Through textgen's compiled Decoder on a tiny model: state carried, the tail cut."""
    keras.utils.set_random_seed(0)
    model = build_model(30, LSTMBackbone(units=16), 8)
    stage = MirostatV1Sampler(tau=2.0, eta=0.3)
    decoder = Decoder(model, [SamplerChain([stage])])
    prompt = np.zeros((8, 3), np.int32)
    out = decoder(prompt, np.zeros(8, np.int32), np.arange(8), 200)
    assert out.tokens.shape == (8, 200)
    assert np.isfinite(out.token_logprob).all()
    assert out.sampling_entropy.mean() < out.model_entropy.mean()  # the cut drew from less


def test_greedy_after_v1_is_plain_greedy():
    keras.utils.set_random_seed(1)
    model = build_model(9, LSTMBackbone(units=8), 4)
    prompt = np.zeros((2, 2), np.int32)
    a = Decoder(model, [SamplerChain([MirostatV1Sampler(), GreedySampler()])])(
        prompt, [0, 0], [1, 2], 15).tokens
    b = Decoder(model, [SamplerChain([GreedySampler()])])(prompt, [0, 0], [1, 2], 15).tokens
    np.testing.assert_array_equal(a, b)  # the cut never drops the most likely symbol


@pytest.mark.parametrize("params, field", [({"tau": 0.0}, "tau"), ({"eta": -1.0}, "eta"),
                                           ({"m": 1}, "m")])
def test_out_of_range_parameters_name_the_field(params, field):
    with pytest.raises(ValidationError, match=field):
        MirostatV1Sampler(**params)


def test_registered_through_the_entry_point():
    entry = load_registry().samplers["mirostat_v1"]
    assert getattr(entry, "obj", entry) is MirostatV1Sampler


@pytest.mark.parametrize("params", [{"tau": 3.0}, {"tau": 0.5, "eta": 1.0, "m": 2}])
def test_conformance_kit(params):
    check_stage(MirostatV1Sampler, params, steps=5)
