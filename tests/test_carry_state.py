"""carry_state: the text read as streams, each window continuing the state the one before ended
in; reading a sequence window by window is then reading it whole."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from textgen.backbones.conv import ConvBackbone
from textgen.backbones.lstm import LSTMBackbone
from textgen.cli import cli
from textgen.corpus.dataset import stream_dataset, stream_steps
from textgen.model import build_model
from textgen.spec.schema import TrainingSpec
from textgen.training.carry import StateCarrier

VOCAB = 11


def batches(ids, seq_len, batch_size, epochs=1, first_epoch=0, seed=0):
    ds = stream_dataset(ids, seq_len, batch_size, seed=seed, epochs=epochs,
                        first_epoch=first_epoch)
    return [(x.numpy(), y.numpy()) for x, y in ds]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(60, 400), seq_len=st.integers(1, 9), batch_size=st.integers(1, 5),
       seed=st.integers(0, 3))
def test_each_row_continues_where_it_stopped(n, seq_len, batch_size, seed):
    ids = np.arange(n, dtype=np.int32)  # an id is its position: continuity is visible
    if ((n - 1) // batch_size - seq_len) // seq_len < 1:
        with pytest.raises(ValueError, match="too short"):
            stream_steps(n, seq_len, batch_size)
        return
    steps = stream_steps(n, seq_len, batch_size)
    got = batches(ids, seq_len, batch_size, epochs=2, seed=seed)
    assert len(got) == 2 * steps
    for epoch in range(2):
        run = got[epoch * steps:(epoch + 1) * steps]
        for x, y in run:
            assert x.shape == y.shape == (batch_size, seq_len)  # whole batches only
            np.testing.assert_array_equal(y, x + 1)  # the next id at every position
        for (_, y0), (x1, _) in zip(run[:-1], run[1:], strict=True):
            np.testing.assert_array_equal(x1[:, 0], y0[:, -1])  # row i goes on in row i
        starts = run[0][0][:, 0]  # rows read disjoint stretches, in text order
        assert np.all(np.diff(starts) >= steps * seq_len)
    # a resumed run (first_epoch=1) gets exactly epoch 1's batches
    resumed = batches(ids, seq_len, batch_size, epochs=2, first_epoch=1, seed=seed)
    for (x, _), (x1, _) in zip(resumed, got[steps:], strict=True):
        np.testing.assert_array_equal(x, x1)


def test_epochs_start_their_streams_at_different_places():
    ids = np.arange(5000, dtype=np.int32)
    got = batches(ids, 16, 4, epochs=6, seed=1)
    steps = stream_steps(5000, 16, 4)
    firsts = {int(got[e * steps][0][0, 0]) for e in range(6)}
    assert len(firsts) > 1 and max(firsts) < 16


@pytest.mark.parametrize("backbone", [
    lambda: LSTMBackbone(units=8, layers=2, name="backbone"),
    lambda: ConvBackbone(filters=8, kernel_size=2, dilations=[1, 2, 4], repeats=2,
                         activation="gated", name="backbone"),
], ids=["lstm", "conv"])
def test_windows_read_in_turn_are_the_sequence_read_whole(backbone):
    keras.utils.set_random_seed(2)
    net = build_model(VOCAB, backbone(), 4)
    ids = np.random.default_rng(0).integers(0, VOCAB, size=(3, 24)).astype(np.int32)
    whole = net(ids).numpy()
    carrier = StateCarrier(net, batch_size=3)
    parts = [carrier(ids[:, s:s + 5]).numpy() for s in range(0, 24, 5)]  # 5, 5, 5, 5, 4
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-5, atol=1e-5)
    carrier.reset()  # zeroed: the first window again reads as the sequence's start
    np.testing.assert_allclose(carrier(ids[:, :5]).numpy(), whole[:, :5], rtol=1e-5, atol=1e-5)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(carrier))
    assert isinstance(again, StateCarrier) and again.batch_size == 3


def test_settings_that_cannot_carry_a_state_are_refused():
    for bad, word in [({"target": "last"}, "target"), ({"step": 3}, "step"),
                      ({"distribute": {"strategy": "mirrored"}}, "strategy")]:
        with pytest.raises(ValidationError, match=word):
            TrainingSpec(carry_state=True, **bad)
    TrainingSpec(carry_state=True)


@pytest.mark.parametrize("field, section", [
    ("training.carry_state", {"training": {"seq_len": 16, "batch_size": 8, "epochs": 1,
                                           "carry_state": True}}),
    ("evaluation.dynamic.carry_state", {"evaluation": {"dynamic": {"carry_state": True}}})])
def test_a_backbone_without_state_names_the_field(tmp_path, monkeypatch, field, section):
    from textgen.plugins import registry

    class Stateless(ConvBackbone):
        carries_state = False

    corpus = tmp_path / "text.txt"
    corpus.write_text("the will to power " * 300)
    spec = {"name": "nostate", "corpus": {"path": str(corpus)},
            "backbone": {"type": "conv", "filters": 8, "embedding": 4, "dilations": [1, 2]},
            "training": {"seq_len": 16, "batch_size": 8, "epochs": 1}, **section}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    monkeypatch.setattr(registry(), "backbone", lambda name: Stateless)
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert field in result.output and "no state to carry" in result.output
