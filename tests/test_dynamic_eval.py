"""Dynamic evaluation: each segment is scored before the weights learn from it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pydantic import ValidationError

from textgen.backbones.conv import ConvBackbone
from textgen.backbones.lstm import LSTMBackbone
from textgen.model import build_model
from textgen.spec.schema import EvaluationSpec
from textgen.training.dynamic import dynamic_bpc, dynamic_scores
from textgen.training.evaluate import held_out_bpc

VOCAB = 12
CONTEXT, SEGMENT = 8, 10


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(5)
    return build_model(VOCAB, LSTMBackbone(units=16), embedding_dim=8)


@pytest.fixture(scope="module")
def train_ids() -> np.ndarray:
    return np.random.default_rng(0).integers(0, VOCAB, size=400).astype(np.int32)


def repetitive(length: int) -> np.ndarray:
    return np.resize(np.array([1, 2, 3, 4, 5, 3, 2], dtype=np.int32), length)


@pytest.mark.parametrize("carry_state", [False, True], ids=["windows", "stream"])
def test_a_segment_is_scored_before_any_update_that_saw_it(model, train_ids, carry_state):
    ids = repetitive(CONTEXT + 6 * SEGMENT)
    changed = ids.copy()
    changed[CONTEXT + 3 * SEGMENT:] = (changed[CONTEXT + 3 * SEGMENT:] + 5) % VOCAB
    settings = dict(segment=SEGMENT, stride=SEGMENT, learning_rate=3e-2, decay=0.0,
                    calibration_windows=4, carry_state=carry_state)
    nats, counts = dynamic_scores(model, ids, train_ids, CONTEXT, **settings)
    nats2, _ = dynamic_scores(model, changed, train_ids, CONTEXT, **settings)
    assert counts.tolist() == [SEGMENT] * 6
    # segments 0..2 are identical texts; what follows them must not change their scores
    np.testing.assert_allclose(nats2[:3], nats[:3], rtol=1e-6)
    assert not np.allclose(nats2[3:], nats[3:])
    # the first segment is scored by the static weights
    static_first = held_out_bpc(model, ids[:CONTEXT + SEGMENT], CONTEXT, SEGMENT, 1)
    assert nats[0] / SEGMENT / np.log(2) == pytest.approx(static_first, rel=1e-5)


def test_segments_of_several_windows_score_every_character_once(model, train_ids) -> None:
    ids = repetitive(CONTEXT + 7 * SEGMENT)
    nats, counts = dynamic_scores(model, ids, train_ids, CONTEXT, segment=3 * SEGMENT,
                                  stride=SEGMENT, learning_rate=1e-6, calibration_windows=2)
    assert counts.tolist() == [3 * SEGMENT, 3 * SEGMENT, SEGMENT]  # the last batch padded
    static = held_out_bpc(model, ids, CONTEXT, SEGMENT, 4)
    assert nats.sum() / counts.sum() / np.log(2) == pytest.approx(static, rel=1e-4)


@pytest.mark.parametrize("backbone", [LSTMBackbone(units=16),
                                      ConvBackbone(filters=8, dilations=[1, 2, 4])],
                         ids=["lstm", "conv"])
def test_a_stream_of_small_steps_is_the_text_read_whole(backbone, train_ids) -> None:
    """With a carried state and (nearly) no learning, every character is scored once, with
    the whole text before it: one window over everything."""
    keras.utils.set_random_seed(2)
    net = build_model(VOCAB, backbone, embedding_dim=4)
    ids = np.random.default_rng(1).integers(0, VOCAB, size=CONTEXT + 47).astype(np.int32)
    nats, counts = dynamic_scores(net, ids, train_ids, CONTEXT, segment=SEGMENT,
                                  learning_rate=1e-9, calibration_windows=2, carry_state=True)
    assert counts.tolist() == [SEGMENT] * 4 + [7]  # the last segment padded
    whole = held_out_bpc(net, ids, CONTEXT, len(ids) - CONTEXT, 1)
    assert nats.sum() / counts.sum() / np.log(2) == pytest.approx(whole, rel=1e-5)


@pytest.mark.parametrize("carry_state", [False, True], ids=["windows", "stream"])
def test_it_beats_static_on_a_repetitive_text_and_restores_the_weights(model, train_ids,
                                                                        carry_state):
    ids = repetitive(CONTEXT + 20 * SEGMENT)
    before = [w.copy() for w in model.get_weights()]
    static = held_out_bpc(model, ids, CONTEXT, SEGMENT, 8)
    dynamic = dynamic_bpc(model, ids, train_ids, CONTEXT, segment=SEGMENT, stride=SEGMENT,
                          learning_rate=3e-2, decay=0.0, calibration_windows=4,
                          carry_state=carry_state)
    assert dynamic < static - 0.5
    for w, w0 in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, w0)
    assert held_out_bpc(model, ids, CONTEXT, SEGMENT, 8) == static


def test_spec_section_is_optional_and_validated() -> None:
    assert EvaluationSpec().dynamic is None
    spec = EvaluationSpec(dynamic={"segment": "100", "learning_rate": "1e-3"})
    assert spec.dynamic is not None and spec.dynamic.segment == 100
    assert spec.dynamic.learning_rate == 1e-3
    for bad in ({"segment": 0}, {"learning_rate": 0}, {"decay": 1.0}, {"lr": 1e-3},
                {"segment": 120, "stride": 50}):
        with pytest.raises(ValidationError):
            EvaluationSpec(dynamic=bad)
    stream = EvaluationSpec(dynamic={"segment": 64, "carry_state": True}).dynamic
    assert stream is not None and stream.carry_state  # no windows: any segment length
    with pytest.raises(ValidationError, match="leave stride out"):
        EvaluationSpec(dynamic={"segment": 50, "stride": 50, "carry_state": True})
