"""The n-gram mixture: the same Kneser-Ney estimate as the reference scorer, one model whether
read whole or step by step, kept by saving, and a spec option that trains, scores and samples."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from textgen.backbones.lstm import LSTMBackbone
from textgen.baselines.mixture import NgramMix, NgramTables
from textgen.baselines.ngram import KneserNey
from textgen.cli import cli
from textgen.model import build_model, initial_cache, network, step_logits

CHARS = " abcde"  # sorted, as KneserNey orders its ids
TEXT = "a bad cab a dead bee " * 20


def ids_of(text: str) -> np.ndarray:
    return np.array([CHARS.index(c) for c in text], dtype=np.int32)


def history_of(context: str, order: int) -> np.ndarray:
    h = np.full(order - 1, -1, np.int32)
    tail = ids_of(context)[-(order - 1):] if context else np.zeros(0, np.int32)
    if len(tail):
        h[-len(tail):] = tail
    return h


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet=CHARS, min_size=1, max_size=80),
       contexts=st.lists(st.text(alphabet=CHARS, max_size=6), min_size=1, max_size=5),
       order=st.integers(2, 5))
def test_the_tensors_give_the_reference_models_distribution(text, contexts, order):
    reference = KneserNey.fit(text, order, CHARS)  # sorted CHARS: its ids are ours
    tables = NgramTables(ids_of(text), len(CHARS), order)
    got = tables.probs(tf.constant(np.stack([history_of(c, order) for c in contexts]))).numpy()
    for row, context in zip(got, contexts, strict=True):
        np.testing.assert_allclose(row, reference.probs(context), rtol=1e-5, atol=1e-6)
        assert abs(row.sum() - 1.0) < 1e-5


def mixed_model(weight: float = 0.6, order: int = 4) -> keras.Model:
    keras.utils.set_random_seed(3)
    mixture = NgramMix(len(CHARS), order, weight, len(TEXT), dtype="float32")
    mixture.set_text(ids_of(TEXT))
    return build_model(len(CHARS), LSTMBackbone(units=8), 4, mixture)


def test_the_output_is_the_weighted_mixture_of_the_two_distributions():
    model = mixed_model(weight=0.6, order=4)
    ids = ids_of("a bad cab a dead")[None]
    mixed = np.exp(model(ids).numpy()[0])
    net = tf.nn.softmax(network(model)(ids)).numpy()[0]
    reference = KneserNey.fit(TEXT, 4, CHARS)
    text = "a bad cab a dead"
    for t in range(len(text)):
        expected = 0.6 * net[t] + 0.4 * reference.probs(text[:t + 1])
        np.testing.assert_allclose(mixed[t], expected, rtol=1e-5, atol=1e-6)


def test_step_by_step_reads_the_same_as_the_whole_sequence():
    model = mixed_model()
    ids = ids_of("dead bee a bad cab")
    whole = model(ids[None]).numpy()[0]
    cache = initial_cache(model, 1)
    for t, i in enumerate(ids):
        logits, cache = step_logits(model, tf.constant([i]), cache)
        np.testing.assert_allclose(logits.numpy()[0], whole[t], rtol=1e-4, atol=1e-5)


def test_a_saved_model_keeps_its_text_and_counts(tmp_path):
    model = mixed_model()
    ids = ids_of("a bad cab a dead bee")[None]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded(ids).numpy(), model(ids).numpy(), rtol=1e-6, atol=1e-6)


def test_bad_mixtures_are_refused_with_what_is_wrong():
    with pytest.raises(ValueError, match="weight"):
        NgramMix(len(CHARS), 3, 1.0, 10)
    with pytest.raises(ValueError, match="order"):
        NgramMix(len(CHARS), 1, 0.5, 10)
    mixture = NgramMix(len(CHARS), 3, 0.5, 10)
    with pytest.raises(ValueError, match="10-character text"):
        mixture.set_text(np.zeros(11, np.int32))


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mix")
    corpus = root / "words.txt"
    rng = np.random.default_rng(0)
    words = ["the", "will", "to", "power", "is", "a", "truth", "and", "of", "spirit"]
    corpus.write_text(" ".join(rng.choice(words, size=2500)))
    spec = {
        "name": "mixed", "seed": 1, "corpus": {"path": str(corpus)},
        "ngram": {"order": 5, "weight": 0.6},
        "backbone": {"type": "lstm", "units": 16, "embedding": 8},
        "training": {"seq_len": 16, "batch_size": 16, "epochs": 1},
        "evaluation": {"context": 10, "stride": 20, "dynamic": {"segment": 20, "stride": 20}},
        "generation": {"length": 30, "samplers": ["greedy", {"temperature": 0.8}]},
    }
    path = root / "mixed.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = root / "run"
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out)],
                                terminal_width=160)
    assert result.exit_code == 0, result.output
    return out


def test_a_mixed_run_scores_the_mixture_and_the_network_alone(mixed_run):
    metrics = json.loads((mixed_run / "metrics.json").read_text())
    # one epoch of a 16-unit LSTM knows little; the 5-gram knows the ten words
    assert metrics["val_bpc"] < metrics["val_bpc_network"] - 0.3
    assert math.isfinite(metrics["val_bpc_dynamic"])
    history = (mixed_run / "history.csv").read_text().splitlines()
    assert "val_bpc_network" in history[0].split(",") and len(history) == 2
    report = (mixed_run / "report.md").read_text()
    assert f"network alone, without its n-gram mixture: {metrics['val_bpc_network']:.4f}" in report


def test_generate_samples_from_the_saved_mixture(mixed_run):
    result = CliRunner().invoke(cli, ["generate", str(mixed_run), "--sampler", "greedy",
                                      "--prompt", "the will ", "--length", "20"])
    assert result.exit_code == 0, result.output
    text = result.output.rstrip("\n")
    assert text.startswith("the will ") and len(text) == len("the will ") + 20, repr(text)


def test_an_order_too_long_for_the_vocabulary_names_the_field(tmp_path):
    corpus = tmp_path / "wide.txt"
    corpus.write_text("".join(chr(0x100 + i) for i in range(300)) * 20)
    spec = {"name": "wide", "corpus": {"path": str(corpus)}, "ngram": {"order": 10},
            "backbone": {"units": 8, "embedding": 4},
            "training": {"seq_len": 16, "batch_size": 8, "epochs": 1}}
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "ngram.order" in result.output and "at most 7" in result.output


def test_held_out_scoring_agrees_with_the_layers_own_distributions():
    from textgen.corpus.dataset import scoring_windows
    from textgen.training.evaluate import held_out_bpc

    model = mixed_model(weight=0.7, order=3)
    ids = ids_of("a dead cab a bad bee a cab " * 3)
    x, y, mask = scoring_windows(ids, 6, 10)
    logp = tf.gather(model(x), y, batch_dims=2).numpy()
    expected = -(logp * mask).sum() / mask.sum() / math.log(2)
    assert held_out_bpc(model, ids, 6, 10, batch_size=3) == pytest.approx(expected, rel=1e-5)


def test_dynamic_evaluation_of_a_mixture_scores_its_first_segment_as_static():
    from textgen.training.dynamic import dynamic_scores
    from textgen.training.evaluate import held_out_bpc

    model = mixed_model(weight=0.7, order=3)
    ids = ids_of("a dead cab a bad bee a cab " * 4)
    nats, counts = dynamic_scores(model, ids, ids_of(TEXT), 6, segment=10, stride=10,
                                  calibration_windows=2)
    first = held_out_bpc(model, ids[:6 + 10], 6, 10, batch_size=1)
    assert nats[0] / counts[0] / math.log(2) == pytest.approx(first, rel=1e-5)
    assert model(ids[None]).shape == (1, len(ids), len(CHARS))  # weights restored, still mixed


def test_a_mixture_without_its_text_says_so():
    mixture = NgramMix(len(CHARS), 3, 0.5, 10)
    with pytest.raises(ValueError, match="no training text"):
        mixture.next_probs(ids_of("abc"), 1)


def test_long_inputs_are_mixed_in_chunks_with_the_same_result(monkeypatch):
    import textgen.baselines.mixture as mixture_module

    model = mixed_model()
    ids = np.stack([ids_of("a bad cab a dead bee"), ids_of("dead bee a bad cab a")])
    whole = model(ids).numpy()
    monkeypatch.setattr(mixture_module, "CHUNK", 7)  # 40 rows: 5 whole chunks and a part
    np.testing.assert_allclose(model(ids).numpy(), whole, rtol=1e-6, atol=1e-6)
    traced = tf.function(lambda x: model(x))  # shapes unknown while tracing
    np.testing.assert_allclose(traced.get_concrete_function(
        tf.TensorSpec([None, None], tf.int32))(tf.constant(ids)).numpy(), whole,
        rtol=1e-6, atol=1e-6)


def test_dynamic_evaluation_also_adapts_the_ngram_to_what_it_has_read():
    from textgen.training.dynamic import dynamic_scores

    model = mixed_model(weight=0.5, order=4)
    ids = ids_of("e dec deed " * 12)  # words the training text never had
    settings = dict(segment=10, stride=10, learning_rate=1e-9, calibration_windows=2)
    fixed, counts = dynamic_scores(model, ids, ids_of(TEXT), 6, ngram_recount=0, **settings)
    adapted, _ = dynamic_scores(model, ids, ids_of(TEXT), 6, ngram_recount=10, **settings)
    assert adapted[0] == pytest.approx(fixed[0], rel=1e-6)  # nothing read before segment 0
    assert adapted.sum() < 0.8 * fixed.sum()
