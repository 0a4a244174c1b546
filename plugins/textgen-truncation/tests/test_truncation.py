"""The truncation stages against loop-based NumPy references written from the HF definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from textgen.plugins import load_registry
from textgen.samplers.base import SamplerChain
from textgen.samplers.builtin import TemperatureSampler
from textgen.testing import check_stage
from textgen_truncation import MinPSampler, TopKSampler, TopPSampler, TypicalSampler

INF = math.inf
# A one-symbol vocabulary is a fair edge case; keras warns about softmax over it.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")


# --- references: one row at a time, float64, straight from the definitions ------------------
def softmax(row: np.ndarray) -> np.ndarray:
    finite = row[np.isfinite(row)]
    e = np.exp(row - finite.max())
    return e / e.sum()


def likely_first(row: np.ndarray) -> list[int]:
    """Ids from most to least likely, lower id first among equals."""
    return sorted(range(len(row)), key=lambda i: (-row[i], i))


def apply_rows(fn, logits, **kw):
    """Run a one-row reference on every row; returns (masked logits, smallest margin)."""
    x = np.asarray(logits, np.float32).astype(np.float64)
    out, margins = [], []
    for row in x:
        keep, margin = fn(row, **kw)
        out.append(np.where(keep, row, -INF))
        margins.append(margin)
    return np.array(out, np.float32), min(margins)


def ref_top_k(row, k, min_keep=1):
    k = min(max(k, min_keep), len(row))
    kth = sorted(row, reverse=True)[k - 1]
    return np.array([v >= kth for v in row]), INF


def ref_top_p(row, p, min_keep=1):
    probs = softmax(row)
    ascending = likely_first(row)[::-1]
    keep, running, margin = np.ones(len(row), bool), 0.0, INF
    for pos, i in enumerate(ascending):
        running += probs[i]
        margin = min(margin, abs(running - (1 - p)))
        if running <= 1 - p and pos < len(row) - min_keep:
            keep[i] = False
    return keep, margin


def ref_min_p(row, p, min_keep=1):
    probs = softmax(row)
    top = probs.max()
    keep, margin = np.ones(len(row), bool), INF
    for pos, i in enumerate(likely_first(row)):
        if probs[i] < p * top and pos >= min_keep:
            keep[i] = False
        if 0 < probs[i] < top:
            margin = min(margin, abs(probs[i] - p * top) / max(probs[i], p * top))
    return keep, margin


def ref_typical(row, mass, min_keep=1):
    probs = softmax(row)
    logp = [math.log(q) if q > 0 else -INF for q in probs]
    entropy = -sum(q * lq for q, lq in zip(probs, logp, strict=True) if q > 0)
    score = [abs(-lq - entropy) for lq in logp]
    order = sorted(range(len(row)), key=lambda i: (score[i], i))
    running, boundary, margin = 0.0, score[order[-1]], INF
    for i in order:
        running += probs[i]
        margin = min(margin, abs(running - mass))
        if running >= mass:
            boundary = score[i]
            break
    keep = np.array([score[i] <= boundary for i in range(len(row))])
    for i in order[:min_keep]:
        keep[i] = True
    # Scores of different logits that nearly coincide could sort either way in float32.
    for i in range(len(row)):
        for j in range(len(row)):
            if row[i] != row[j] and math.isfinite(score[i]) and math.isfinite(score[j]):
                margin = min(margin, abs(score[i] - score[j]) * 1e-2)
    return keep, margin


def run(stage, logits) -> np.ndarray:
    return np.asarray(stage(np.asarray(logits, np.float32)))


# --- hand-made distributions ----------------------------------------------------------------
TIES = [[1.0, 3.0, 3.0, 2.0, -INF, 0.0]]


@pytest.mark.parametrize("k, kept",
                         [(1, [1, 2]), (2, [1, 2]), (3, [1, 2, 3]), (99, [0, 1, 2, 3, 5])])
def test_top_k_keeps_everything_tied_with_the_kth(k, kept):
    out = run(TopKSampler(k=k), TIES)
    assert list(np.flatnonzero(np.isfinite(out[0]))) == kept
    assert np.all(out[0][kept] == np.asarray(TIES[0])[kept])


def test_top_k_min_keep_raises_k():
    out = run(TopKSampler(k=1, min_keep=3), [[0.0, 1.0, 2.0, 3.0]])
    assert list(np.flatnonzero(np.isfinite(out[0]))) == [1, 2, 3]


def test_top_p_prefers_lower_ids_among_equals():
    out = run(TopPSampler(p=0.5), [[0.0, 0.0, 0.0, 0.0]])
    assert list(np.isfinite(out[0])) == [True, True, False, False]


def test_top_p_zero_keeps_exactly_min_keep_and_one_keeps_all():
    logits = np.log([[0.1, 0.4, 0.2, 0.3]])
    assert np.isfinite(run(TopPSampler(p=0.0), logits)).sum() == 1
    out = run(TopPSampler(p=0.0, min_keep=2), logits)
    assert list(np.flatnonzero(np.isfinite(out[0]))) == [1, 3]
    np.testing.assert_array_equal(run(TopPSampler(p=1.0), logits), logits.astype(np.float32))


def test_min_p_cuts_relative_to_the_top():
    logits = np.log([[0.5, 0.3, 0.1, 0.06, 0.04]])
    out = run(MinPSampler(p=0.19), logits)  # cut below 0.095
    assert list(np.isfinite(out[0])) == [True, True, True, False, False]
    assert np.isfinite(run(MinPSampler(p=1.0, min_keep=2), logits)).sum() == 2
    assert np.isfinite(run(MinPSampler(p=0.0), logits)).all()


def test_typical_can_drop_the_most_likely_symbol():
    out = run(TypicalSampler(mass=0.5), np.log([[0.4, 0.3, 0.3]]))
    assert list(np.isfinite(out[0])) == [False, True, True]


def test_typical_min_keep_follows_the_typicality_order():
    logits = np.log([[0.2, 0.5, 0.14, 0.1, 0.06]])  # scores order ids 0, 2, 1, 3, 4
    assert list(np.flatnonzero(np.isfinite(run(TypicalSampler(mass=0.1), logits)[0]))) == [0]
    out = run(TypicalSampler(mass=0.1, min_keep=2), logits)
    assert list(np.flatnonzero(np.isfinite(out[0]))) == [0, 2]


def test_all_equal_logits_keep_what_the_definitions_say():
    flat = np.zeros((2, 5), np.float32)
    assert np.isfinite(run(TypicalSampler(mass=0.1), flat)).all()  # every score ties
    assert np.isfinite(run(MinPSampler(p=1.0), flat)).all()
    assert np.isfinite(run(TopKSampler(k=2), flat)).all()
    assert np.isfinite(run(TopPSampler(p=0.3), flat)).sum(axis=1).tolist() == [2, 2]


STAGES = [TopKSampler(k=2), TopPSampler(p=0.7), MinPSampler(p=0.3), TypicalSampler(mass=0.6),
          TopKSampler(k=3, min_keep=4), TopPSampler(p=0.2, min_keep=3),
          MinPSampler(p=0.9, min_keep=2), TypicalSampler(mass=0.2, min_keep=3)]
REFS = {"top_k": ref_top_k, "top_p": ref_top_p, "min_p": ref_min_p, "typical": ref_typical}


@pytest.mark.parametrize("stage", STAGES, ids=repr)
def test_incoming_minus_inf_stays_and_gives_no_nan(stage):
    logits = np.array([[-INF, 2.0, -INF, 1.0, 1.0, 0.5], [-INF, -INF, -INF, -INF, 0.0, -INF]])
    out = run(stage, logits)
    assert not np.isnan(out).any()
    assert np.all(out[np.isinf(logits)] == -INF)
    expected, _ = apply_rows(REFS[stage.name], logits, **stage.get_config())
    np.testing.assert_array_equal(out, expected)


# --- random logits (with ties and -inf) against the references -------------------------------
@st.composite
def logits_batches(draw):
    """Rows drawn from a few distinct levels (so ties are common), some entries -inf."""
    vocab = draw(st.integers(1, 12))
    level = st.floats(-12, 12, width=32, allow_subnormal=False)  # TF flushes denormals to 0
    levels = draw(st.lists(level, min_size=1, max_size=6, unique=True))
    rows = draw(st.lists(st.lists(st.sampled_from([*levels, -INF]), min_size=vocab,
                                  max_size=vocab), min_size=1, max_size=3))
    for row in rows:
        row[draw(st.integers(0, vocab - 1))] = levels[0]  # every row keeps a finite entry
    return np.array(rows, np.float32)


PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
min_keeps = st.integers(1, 4)


def check(stage, logits, tolerance):
    expected, margin = apply_rows(REFS[stage.name], logits, **stage.get_config())
    assume(margin > tolerance)  # float32 and float64 may round a knife-edge case apart
    np.testing.assert_array_equal(run(stage, logits), expected)


@PROPERTY
@given(logits_batches(), st.integers(1, 14), min_keeps)
def test_top_k_matches_reference(logits, k, min_keep):
    check(TopKSampler(k=k, min_keep=min_keep), logits, 0)


@PROPERTY
@given(logits_batches(), st.floats(0, 1), min_keeps)
def test_top_p_matches_reference(logits, p, min_keep):
    check(TopPSampler(p=p, min_keep=min_keep), logits, 1e-5)


@PROPERTY
@given(logits_batches(), st.floats(0, 1), min_keeps)
def test_min_p_matches_reference(logits, p, min_keep):
    check(MinPSampler(p=p, min_keep=min_keep), logits, 1e-4)


@PROPERTY
@given(logits_batches(), st.floats(0.01, 0.99), min_keeps)
def test_typical_matches_reference(logits, mass, min_keep):
    check(TypicalSampler(mass=mass, min_keep=min_keep), logits, 1e-5)


# --- parameters, compilation, chaining, registration ------------------------------------------
@pytest.mark.parametrize("cls, params", [
    (TopKSampler, {"k": 0}), (TopKSampler, {"k": 2, "min_keep": 0}), (TopKSampler, {}),
    (TopPSampler, {"p": -0.1}), (TopPSampler, {"p": 1.5}), (TopPSampler, {"p": math.nan}),
    (MinPSampler, {"p": 1.01}), (MinPSampler, {"p": 0.1, "top": 2}),
    (TypicalSampler, {"mass": 0.0}), (TypicalSampler, {"mass": 1.0}),
])
def test_invalid_params_are_validation_errors(cls, params):
    with pytest.raises(ValidationError):
        cls(**params)


@pytest.mark.parametrize("jit", [False, True])
def test_stages_compile_with_a_dynamic_batch(jit):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 16)).astype(np.float32)
    logits[:, ::5] = -INF
    for stage in STAGES:
        fn = tf.function(stage.transform, jit_compile=jit,
                         input_signature=[tf.TensorSpec([None, 16], tf.float32)])
        np.testing.assert_array_equal(fn(logits).numpy(), run(stage, logits))


def test_chains_with_the_builtin_temperature():
    logits = np.array([[1.0, 4.0, 2.0, 3.0]], np.float32)
    out = np.asarray(SamplerChain([TopKSampler(k=2), TemperatureSampler(temperature=0.5)])(logits))
    np.testing.assert_allclose(out, [[-INF, 0.0, -INF, -2.0]])


def test_labels_name_min_keep_only_when_set():
    assert TopKSampler(k=20).label() == "top_k(20)"
    assert TopPSampler(p=0.9, min_keep=2).label() == "top_p(0.9, min_keep=2)"


def test_registers_through_entry_points():
    reg = load_registry()
    for name, cls in [("top_k", TopKSampler), ("top_p", TopPSampler), ("min_p", MinPSampler),
                      ("typical", TypicalSampler)]:
        assert reg.entry("samplers", name).dist == "textgen-truncation"
        assert reg.samplers[name] is cls
        assert cls.primary in cls.Params.model_fields


@pytest.mark.parametrize("cls, params", [
    (TopKSampler, {"k": 3}), (TopPSampler, {"p": 0.8}), (MinPSampler, {"p": 0.2}),
    (TypicalSampler, {"mass": 0.6}), (TopPSampler, {"p": 0.3, "min_keep": 2}),
])
def test_stages_pass_the_conformance_kit(cls, params):
    check_stage(cls, params)
