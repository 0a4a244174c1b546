"""XTC and dynamic temperature against loop-based NumPy references of llama.cpp's
``llama_sample_xtc_apply`` and ``llama_sampler_temp_ext_apply``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from textgen.plugins import load_registry
from textgen.samplers.base import SamplerChain
from textgen.testing import check_stage, logit_arrays
from textgen_llamacpp import DynatempSampler, XTCSampler

INF = math.inf


def candidates(row):
    """llama.cpp's candidate list: the finite logits as (id, logit), most likely first (equal
    logits in id order), with their softmax probabilities in float64."""
    cand = sorted(((i, float(v)) for i, v in enumerate(row) if v > -INF),
                  key=lambda c: (-c[1], c[0]))
    if not cand:
        return [], []
    e = [math.exp(v - cand[0][1]) for _, v in cand]
    return cand, [x / sum(e) for x in e]


def ref_xtc(logits, coins, probability, threshold, min_keep):
    """Returns (output, rows whose outcome sits on the threshold and may differ)."""
    out = logits.copy()
    edge = np.zeros(len(logits), bool)
    for b, row in enumerate(logits):
        cand, p = candidates(row)
        if probability <= 0 or threshold > 0.5 or len(cand) < 2:
            continue
        if coins[b] > probability:
            continue
        pos_last = 0
        for i, q in enumerate(p):
            edge[b] |= abs(q - threshold) <= 1e-5
            if q >= threshold:
                pos_last = i
            else:
                break
        if len(cand) - pos_last >= min_keep and pos_last > 0:
            for i, _ in cand[:pos_last]:
                out[b, i] = -INF
    return out, edge


def ref_dynatemp(logits, temp, delta, exponent):
    """Returns (output, rows whose temperature is too close to 0 to tell greedy from not).

    In float64: the formula llama.cpp's code states. Its own float32 arithmetic (``logf`` of a
    top probability rounded to 0.99999964) is off by 0.5% in T for ``[0, 15]`` at 0 +- 0.3."""
    out = logits.astype(np.float64)
    edge = np.zeros(len(logits), bool)
    for b, row in enumerate(logits):
        cand, p = candidates(row)
        if delta > 0:
            if len(cand) <= 1:
                continue
            low, high = max(0.0, temp - delta), temp + delta
            entropy = -sum(q * math.log(q) for q in p if q > 0)
            t = low + (high - low) * (entropy / math.log(len(cand))) ** exponent
        else:
            t = temp
        edge[b] = 0 < abs(t) < 1e-4
        if t <= 0:  # greedy on the (sorted) candidates: the first largest stays
            best = cand[0][0] if cand else 0
            out[b] = [v if i == best else -INF for i, v in enumerate(row)]
        else:
            out[b] = row.astype(np.float64) / t
    return out, edge


@settings(max_examples=150, deadline=None)
@given(logit_arrays(), st.sampled_from([0.0, 0.3, 0.5, 1.0]), st.sampled_from([0.0, 0.05, 0.1,
                                                                              0.3, 0.5]),
       st.integers(1, 4), st.data())
def test_xtc_matches_llama_cpp(logits, probability, threshold, min_keep, data):
    coins = np.asarray(data.draw(hnp.arrays(np.float32, (len(logits), 1),
                                            elements=st.floats(0.0625, 0.9375, width=32))))
    stage = XTCSampler(probability=probability, threshold=threshold, min_keep=min_keep)
    out, _ = stage.warp(tf.constant(logits), (), noise=tf.constant(coins))
    expected, edge = ref_xtc(logits, coins[:, 0], probability, threshold, min_keep)
    out = np.asarray(out)
    np.testing.assert_array_equal(out[~edge], expected[~edge])
    assert np.isfinite(out[(logits > -INF).any(axis=1)]).any(axis=1).all()


@settings(max_examples=150, deadline=None)
@given(logit_arrays(), st.sampled_from([0.0, 0.5, 1.0, 1.5]), st.sampled_from([0.0, 0.3, 1.0]),
       st.sampled_from([0.5, 1.0, 2.0]))
@example(np.float32([[0, 0], [0, 15]]), 0.0, 0.3, 0.5)  # a tiny entropy: log1p, not log
@example(np.float32([[0, 0, 0], [0, 0, 15]]), 0.0, 0.3, 0.5)
def test_dynatemp_matches_llama_cpp(logits, temp, delta, exponent):
    stage = DynatempSampler(temperature=temp, range=delta, exponent=exponent)
    out = stage(logits)
    expected, edge = ref_dynatemp(logits, temp, delta, exponent)
    sure = ~edge
    np.testing.assert_array_equal(np.isfinite(out)[sure], np.isfinite(expected)[sure])
    finite = np.isfinite(expected) & sure[:, None]
    np.testing.assert_allclose(out[finite], expected[finite], rtol=2e-4, atol=1e-30)


def test_xtc_hand_computed():
    p = np.log([[0.4, 0.3, 0.2, 0.1]]).astype(np.float32)
    stage = XTCSampler(probability=0.5, threshold=0.15)
    fired, _ = stage.warp(tf.constant(p), (), noise=tf.constant([[0.4]]))
    assert np.isfinite(np.asarray(fired)).tolist() == [[False, False, True, True]]
    kept, _ = stage.warp(tf.constant(p), (), noise=tf.constant([[0.6]]))  # coin above 0.5
    np.testing.assert_array_equal(np.asarray(kept), p)
    strict = XTCSampler(probability=1.0, threshold=0.15, min_keep=3)  # would leave only 2
    np.testing.assert_array_equal(np.asarray(strict.warp(tf.constant(p), (),
                                                         noise=tf.constant([[0.1]]))[0]), p)


def test_xtc_coins_follow_the_row_seed():
    """On its own the stage draws the coin of row seed ``seed`` at step 0: the same seed gives
    the same outcome, and some seeds fire while others do not."""
    logits = np.log([[0.4, 0.3, 0.2, 0.1]] * 2).astype(np.float32)
    stage = XTCSampler(probability=0.5, threshold=0.15)
    outcomes = {s: np.isfinite(stage(logits, seed=s))[0, 0] for s in range(20)}
    assert set(outcomes.values()) == {True, False}
    for s in range(20):
        again = stage(logits, seed=s)
        assert np.isfinite(again)[0, 0] == outcomes[s]
        assert (np.isfinite(again)[0] == np.isfinite(again)[1]).all()  # coupled rows


def test_dynatemp_hand_computed():
    uniform = np.zeros((1, 4), np.float32)  # H = ln 4: normalised 1 -> the top temperature
    stage = DynatempSampler(temperature=1.0, range=0.5)
    np.testing.assert_allclose(stage(uniform + 3.0), [[2.0] * 4], rtol=1e-6)
    peaked = np.array([[0.0, -1e30, -1e30, -1e30]], np.float32)  # H = 0 -> 0.5
    np.testing.assert_allclose(stage(peaked)[0, 0], 0.0)
    greedy = DynatempSampler(temperature=0.0)  # range 0: plain temperature 0 is the argmax
    assert np.isfinite(greedy(np.array([[1.0, 3.0, 3.0]], np.float32))).tolist() == [
        [False, True, False]]


@pytest.mark.parametrize("jit", [False, True])
def test_compiled_with_noise_equals_eager(jit):
    logits = np.random.default_rng(5).normal(size=(6, 20)).astype(np.float32) * 2
    coins = np.linspace(0.05, 0.95, 6, dtype=np.float32)[:, None]
    chain = SamplerChain([DynatempSampler(temperature=0.8, range=0.4),
                          XTCSampler(probability=0.5, threshold=0.1)])

    @tf.function(jit_compile=jit)
    def run(x, u):
        return chain.warp(x, chain.initial_state(tf.shape(x)[0], 20),
                          lambda position, k: u)[0]

    eager = chain.warp(tf.constant(logits), chain.initial_state(6, 20),
                       lambda position, k: tf.constant(coins))[0]
    np.testing.assert_allclose(np.asarray(run(logits, coins)), np.asarray(eager), rtol=1e-6)


@pytest.mark.parametrize("cls, params, field", [
    (XTCSampler, {"threshold": 0.6}, "threshold"), (XTCSampler, {"probability": 1.5},
                                                    "probability"),
    (XTCSampler, {"min_keep": 0}, "min_keep"), (DynatempSampler, {"range": -0.1}, "range"),
    (DynatempSampler, {"exponent": 0.0}, "exponent"),
    (DynatempSampler, {"temperature": -1.0}, "temperature"),
])
def test_out_of_range_parameters_name_the_field(cls, params, field):
    with pytest.raises(ValidationError, match=field):
        cls(**params)


def test_registered_through_the_entry_point():
    samplers = load_registry().samplers
    for name, cls in [("xtc", XTCSampler), ("dynatemp", DynatempSampler)]:
        entry = samplers[name]
        assert getattr(entry, "obj", entry) is cls


@pytest.mark.parametrize("cls, params", [
    (XTCSampler, {"probability": 0.7, "threshold": 0.05}), (XTCSampler, {"min_keep": 3}),
    (DynatempSampler, {"temperature": 0.8, "range": 0.5, "exponent": 2.0}),
    (DynatempSampler, {"temperature": 0.2, "range": 0.4}),
])
def test_conformance_kit(cls, params):
    check_stage(cls, params)
