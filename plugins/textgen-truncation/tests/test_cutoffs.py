"""Epsilon, eta, top-H and top-n-sigma against loop-based NumPy references of their sources.

The references are written from transformers' ``EpsilonLogitsWarper``, ``EtaLogitsWarper``,
``TopHLogitsWarper`` and llama.cpp's ``llama_sampler_top_n_sigma_apply``, one row and one symbol
at a time. Float32 and float64 can disagree on a symbol that sits on the cut; the references
flag such symbols (``edge``) and only they may differ.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from textgen.plugins import load_registry
from textgen.samplers.base import SamplerChain
from textgen.testing import check_stage, logit_arrays
from textgen_truncation.cutoffs import EpsilonSampler, EtaSampler, TopHSampler, TopNSigmaSampler

INF = math.inf


def softmax64(row):
    """Probabilities of one row in float64; ``-inf`` is 0, an all ``-inf`` row is all NaN."""
    row = np.asarray(row, np.float64)
    top = max(row)
    if top == -INF:
        return np.full(len(row), np.nan)
    e = [math.exp(v - top) for v in row]
    return np.array(e) / sum(e)


def order_of(row):
    """Ids from the largest logit down; equal logits in id order."""
    return sorted(range(len(row)), key=lambda i: (-row[i], i))


def check(stage, logits, keep, edge):
    """The stage keeps exactly ``keep`` (surviving logits unchanged), except on ``edge``."""
    out = stage(logits)
    assert out.shape == logits.shape and out.dtype == np.float32
    finite = np.isfinite(out)
    sure = ~edge
    np.testing.assert_array_equal(finite[sure], (keep & (logits > -INF))[sure])
    np.testing.assert_array_equal(out[finite], logits[finite])
    rows_with_any = (logits > -INF).any(axis=1)
    assert finite[rows_with_any].any(axis=1).all()  # never a row emptied by the stage


# --- references ----------------------------------------------------------------------------
def ref_epsilon(logits, epsilon, min_keep, eta=False):
    keep = np.zeros(logits.shape, bool)
    edge = np.zeros(logits.shape, bool)
    for b, row in enumerate(logits):
        p = softmax64(row)
        cut = epsilon
        if eta:
            entropy = -sum(q * math.log(q) for q in p if q > 0)
            cut = min(epsilon, math.sqrt(epsilon) * math.exp(-entropy))
        kth = sorted(row, reverse=True)[min(min_keep, len(row)) - 1]
        for i, v in enumerate(row):
            remove = p[i] < cut and v < kth
            keep[b, i] = not remove
            edge[b, i] = abs(p[i] - cut) <= 1e-4 * cut
    return keep, edge


def ref_top_h(logits, top_h):
    keep = np.zeros(logits.shape, bool)
    edge = np.zeros(logits.shape, bool)
    for b, row in enumerate(logits):
        head = order_of(row)[:min(100, len(row))]
        p = softmax64([row[i] for i in head])
        if np.isnan(p).any():
            continue
        tau = -sum(q * math.log(q) for q in p if q > 0) * top_h
        running = 0.0
        for j, i in enumerate(head):
            if p[j] == 0:  # 0 * log 0 is NaN in torch: this and every later one go
                break
            running += -p[j] * math.log(p[j])
            keep[b, i] = j == 0 or running <= tau
            edge[b, i] = abs(running - tau) <= 1e-4 * (1 + tau) or p[j] < 1e-30
        for j in range(len(head)):  # float32 rounds tiny probabilities to 0: either is right
            if p[j] < 1e-30:
                edge[b, head[j]] = True
    return keep, edge


def ref_top_n_sigma(logits, n):
    """llama.cpp's loop, in float32 as there (sums in float, squares in double)."""
    keep = np.ones(logits.shape, bool)
    edge = np.zeros(logits.shape, bool)
    f32 = np.float32
    for b, row in enumerate(logits):
        if len(row) <= 1:
            continue
        top, total, count = row[0], f32(0), 0
        for v in row:
            if v != -INF:
                top = max(top, v)
                total = f32(total + v)
                count += 1
        mean = f32(total / count) if count else f32(0)
        acc = f32(0)
        for v in row:
            if v != -INF:
                acc = f32(float(acc) + float(f32(v - mean)) ** 2)
        std = f32(math.sqrt(acc / count)) if count else f32(0)
        threshold = f32(top - f32(n) * std)
        for i, v in enumerate(row):
            keep[b, i] = not v < threshold
            scale = abs(float(top)) + abs(float(n) * float(std)) + 1.0
            edge[b, i] = abs(float(v) - float(threshold)) <= 1e-4 * scale
    return keep, edge


# --- the stages against the references -------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(logit_arrays(), st.sampled_from([1e-4, 0.01, 0.1, 0.3, 0.9]), st.integers(1, 4))
def test_epsilon_matches_transformers(logits, epsilon, min_keep):
    check(EpsilonSampler(epsilon=epsilon, min_keep=min_keep), logits,
          *ref_epsilon(logits, epsilon, min_keep))


@settings(max_examples=150, deadline=None)
@given(logit_arrays(), st.sampled_from([1e-4, 0.004, 0.1, 0.5, 0.9]), st.integers(1, 4))
def test_eta_matches_transformers(logits, epsilon, min_keep):
    check(EtaSampler(epsilon=epsilon, min_keep=min_keep), logits,
          *ref_epsilon(logits, epsilon, min_keep, eta=True))


@settings(max_examples=150, deadline=None)
@given(logit_arrays(vocab=(1, 120)), st.sampled_from([0.05, 0.3, 0.5, 0.8, 1.0]))
def test_top_h_matches_transformers(logits, top_h):
    check(TopHSampler(top_h=top_h), logits, *ref_top_h(logits, top_h))


@settings(max_examples=150, deadline=None)
@given(logit_arrays(), st.sampled_from([0.1, 0.5, 1.0, 2.0, 5.0]))
def test_top_n_sigma_matches_llama_cpp(logits, n):
    check(TopNSigmaSampler(n=n), logits, *ref_top_n_sigma(logits, n))


def test_hand_computed_cuts():
    p = np.log([[0.5, 0.3, 0.15, 0.05]]).astype(np.float32)
    assert np.isfinite(EpsilonSampler(epsilon=0.1)(p)).tolist() == [[True, True, True, False]]
    # eta: H = 1.142 nats, sqrt(0.3) * exp(-H) = 0.175 < 0.3: keeps p >= 0.175
    assert np.isfinite(EtaSampler(epsilon=0.3)(p)).tolist() == [[True, True, False, False]]
    # top-H 0.5: H = 1.142, running -p ln p: 0.347, 0.708 > 0.571 -> one symbol
    assert np.isfinite(TopHSampler(top_h=0.5)(p)).tolist() == [[True, False, False, False]]
    logits = np.array([[4.0, 3.0, 1.0, 0.0]], np.float32)  # mean 2, std sqrt(2.5) = 1.58
    assert np.isfinite(TopNSigmaSampler(n=1.0)(logits)).tolist() == [[True, True, False, False]]


def test_min_keep_keeps_the_most_likely_even_below_the_cut():
    near_flat = np.arange(50, dtype=np.float32)[None] * 0.01  # every p is about 0.02
    assert np.isfinite(EpsilonSampler(epsilon=0.5)(near_flat)).sum() == 1
    assert np.isfinite(EpsilonSampler(epsilon=0.5, min_keep=3)(near_flat)).sum() == 3
    eta = np.isfinite(EtaSampler(epsilon=0.9)(near_flat)).sum()  # 28: p >= 0.95 / e^H
    assert np.isfinite(EtaSampler(epsilon=0.9, min_keep=eta + 5)(near_flat)).sum() == eta + 5
    # symbols tied with the min_keep-th all stay (HF keeps scores >= the k-th largest)
    assert np.isfinite(EpsilonSampler(epsilon=0.5)(np.zeros((1, 50), np.float32))).all()


@pytest.mark.parametrize("jit", [False, True])
def test_compiled_chain_equals_eager(jit):
    logits = np.random.default_rng(3).normal(size=(4, 30)).astype(np.float32) * 3
    chain = SamplerChain([TopNSigmaSampler(n=1.5), TopHSampler(top_h=0.7),
                          EtaSampler(epsilon=0.01), EpsilonSampler(epsilon=0.02)])

    @tf.function(jit_compile=jit, input_signature=[tf.TensorSpec([None, 30])])
    def run(x):
        return chain.warp(x, chain.initial_state(tf.shape(x)[0], 30))[0]

    np.testing.assert_array_equal(np.asarray(run(logits)), chain(logits))


@pytest.mark.parametrize("cls, params, field", [
    (TopNSigmaSampler, {"n": 0.0}, "n"), (TopNSigmaSampler, {"n": -1.0}, "n"),
    (EpsilonSampler, {"epsilon": 1.0}, "epsilon"), (EtaSampler, {"epsilon": 0.0}, "epsilon"),
    (TopHSampler, {"top_h": 1.5}, "top_h"), (TopHSampler, {"top_h": 0.0}, "top_h"),
    (EpsilonSampler, {"epsilon": 0.1, "min_keep": 0}, "min_keep"),
])
def test_out_of_range_parameters_name_the_field(cls, params, field):
    with pytest.raises(ValidationError, match=field):
        cls(**params)


def test_registered_through_the_entry_point():
    samplers = load_registry().samplers
    for name, cls in [("epsilon", EpsilonSampler), ("eta", EtaSampler), ("top_h", TopHSampler),
                      ("top_n_sigma", TopNSigmaSampler)]:
        entry = samplers[name]
        assert getattr(entry, "obj", entry) is cls


@pytest.mark.parametrize("cls, params", [
    (EpsilonSampler, {"epsilon": 0.05, "min_keep": 2}), (EtaSampler, {"epsilon": 0.02}),
    (TopHSampler, {"top_h": 0.4}), (TopNSigmaSampler, {"n": 1.0}),
])
def test_conformance_kit(cls, params):
    check_stage(cls, params)
