"""The conv backbone: causal, steps equal the full pass, compiles in loops, saves, validates."""

import re
import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from textgen.backbones.conv import ConvBackbone, receptive_field
from textgen.model import build_model, step_logits
from textgen.plugins import load_registry

DOCS = Path(__file__).resolve().parents[1] / "docs" / "backbones.md"
TOL = 1e-4


def stepped(step, first, inputs, cache, jit=False):
    """Run ``step(x_t, cache) -> (y_t, cache)`` over axis 1 of ``inputs`` in one tf.while_loop."""
    steps = int(inputs.shape[1])

    def run(inputs, cache):
        def body(t, out, cache):
            y, cache = step(inputs[:, t], cache)
            return t + 1, out.write(t, y), cache

        out = tf.TensorArray(first.dtype, size=steps)
        _, out, _ = tf.while_loop(lambda t, *_: t < steps, body, (0, out, cache))
        return tf.transpose(out.stack(), [1, 0, 2])

    return tf.function(run, jit_compile=jit)(inputs, cache).numpy()


def backbone_steps(bb, x, jit=False):
    first = tf.zeros((x.shape[0], bb.compute_output_shape(x.shape)[-1]))
    return stepped(bb.step, first, tf.constant(x), bb.initial_cache(x.shape[0]), jit)


def random_inputs(batch, time, dim, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, time, dim)).astype("float32")


@pytest.fixture(scope="module")
def small():
    keras.utils.set_random_seed(1)
    bb = ConvBackbone(filters=8, kernel_size=3, dilations=[1, 2, 4], repeats=2,
                      activation="gated", norm="layer")
    bb(random_inputs(1, 4, 5))
    return bb


@settings(max_examples=15, deadline=None)
@given(t=st.integers(0, 38), seed=st.integers(0, 2**16))
def test_output_at_t_ignores_later_inputs(small, t, seed):
    x = random_inputs(2, 40, 5, seed)
    changed = x.copy()
    changed[:, t + 1:] = random_inputs(2, 40 - t - 1, 5, seed + 1) * 3
    a, b = small(x).numpy(), small(changed).numpy()
    np.testing.assert_allclose(a[:, :t + 1], b[:, :t + 1], atol=1e-6)
    assert not np.allclose(a[:, t + 1:], b[:, t + 1:])  # later outputs do see the change


@pytest.mark.parametrize("activation", ["relu", "gated"])
@pytest.mark.parametrize("kernel_size", [2, 3])
def test_cached_steps_equal_full_pass(activation, kernel_size):
    keras.utils.set_random_seed(2)
    bb = ConvBackbone(filters=8, kernel_size=kernel_size, dilations=[1, 2, 4, 16], repeats=2,
                      activation=activation, norm="layer", dropout=0.2)
    x = random_inputs(3, 300, 5)
    full = bb(x, training=False).numpy()
    assert 300 > bb.receptive_field  # the queues wrap around many times
    np.testing.assert_allclose(backbone_steps(bb, x), full, atol=TOL, rtol=TOL)


def test_cached_steps_compile_with_xla_and_no_norm():
    keras.utils.set_random_seed(3)
    bb = ConvBackbone(filters=6, kernel_size=2, dilations=[1, 3, 8], norm="none")
    x = random_inputs(3, 50, 4)
    np.testing.assert_allclose(backbone_steps(bb, x, jit=True), bb(x).numpy(), atol=TOL)


def test_step_logits_equal_model_logits():
    keras.utils.set_random_seed(4)
    bb = ConvBackbone(filters=8, kernel_size=2, dilations=[1, 2, 4, 8], activation="gated",
                      norm="layer")
    model = build_model(11, bb, embedding_dim=6)
    ids = np.random.default_rng(0).integers(0, 11, size=(3, 300)).astype("int32")
    first = tf.zeros((3, 11))
    got = stepped(lambda i, c: step_logits(model, i, c), first, tf.constant(ids),
                  bb.initial_cache(3))
    np.testing.assert_allclose(got, model(ids).numpy(), atol=TOL, rtol=TOL)


def test_cache_shapes_are_one_queue_per_block():
    bb = ConvBackbone(filters=4, kernel_size=3, dilations=[1, 5], repeats=2)
    assert [tuple(q.shape) for q in bb.initial_cache(7)] == [(7, 2, 4), (7, 10, 4)] * 2
    with pytest.raises(ValueError, match="expected one per block"):
        bb.step(tf.zeros((7, 3)), bb.initial_cache(7)[:3])


def test_receptive_field_and_short_window_warning():
    bb = ConvBackbone(filters=4, kernel_size=3, dilations=[1, 2, 4], repeats=2)
    assert bb.receptive_field == 1 + 2 * (2 * 1 + 2 * 2 + 2 * 4) == 29
    assert ConvBackbone().receptive_field == 64 == receptive_field(2, [1, 2, 4, 8, 16, 32])
    assert bb.warn_if_short(29) is None
    warning = bb.warn_if_short(10)
    assert "10" in warning and "29" in warning
    assert "29" in bb.describe()


def test_receptive_field_bounds_what_an_output_sees(small):
    rf = small.receptive_field
    x = random_inputs(1, rf + 5, 5)
    changed = x.copy()
    changed[:, :5] += 10.0  # positions 0..4 are outside the last output's field
    np.testing.assert_allclose(small(x)[:, -1], small(changed)[:, -1], atol=1e-5)
    changed[:, 5] += 10.0  # position 5 is exactly rf - 1 back from the last
    assert not np.allclose(small(x)[:, -1], small(changed)[:, -1])


def test_config_round_trip_and_keras_save_load(tmp_path):
    keras.utils.set_random_seed(5)
    bb = ConvBackbone(filters=6, kernel_size=3, dilations=[1, 2], repeats=2, activation="gated",
                      dropout=0.1, norm="layer")
    again = ConvBackbone.from_config(bb.get_config())
    assert again.get_config() == bb.get_config()
    model = build_model(9, bb, embedding_dim=4)
    ids = np.random.default_rng(1).integers(0, 9, size=(2, 20)).astype("int32")
    path = tmp_path / "conv.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(ids).numpy(), model(ids).numpy(), atol=1e-6)
    loaded_bb = next(layer for layer in loaded.layers if isinstance(layer, ConvBackbone))
    assert loaded_bb.receptive_field == bb.receptive_field


def test_from_params_uses_spec_defaults():
    bb = ConvBackbone.from_params({"filters": 16, "activation": "gated"})
    assert bb.params.filters == 16 and bb.get_config()["dilations"] == [1, 2, 4, 8, 16, 32]


@pytest.mark.parametrize("field, value", [
    ("filters", 0), ("kernel_size", 1), ("dilations", []), ("dilations", [1, 0]),
    ("repeats", 0), ("activation", "tanh"), ("dropout", 1.0), ("norm", "batch"),
    ("filter", 64),
])
def test_invalid_params_are_refused_by_name(field, value):
    with pytest.raises(ValidationError, match=field):
        ConvBackbone.from_params({field: value})
    if field != "filter":
        with pytest.raises(ValidationError, match=field):
            ConvBackbone(**{field: value})


def test_the_documented_gru_plugin_works(monkeypatch):
    """The worked example in docs/backbones.md registers and steps like its full pass."""
    code = re.search(r'```python\n("""textgen_gru.*?)```', DOCS.read_text(), re.S).group(1)
    module = types.ModuleType("textgen_gru")
    monkeypatch.setitem(sys.modules, "textgen_gru", module)
    exec(compile(code, str(DOCS), "exec"), module.__dict__)
    reg = load_registry(extra=[("gru_example", module)], entry_points=False)
    assert not reg.failures
    gru_cls = reg.backbone("gru")
    keras.utils.set_random_seed(6)
    bb = gru_cls.from_params({"units": 5})
    x = random_inputs(3, 40, 4)
    np.testing.assert_allclose(backbone_steps(bb, x), bb(x).numpy(), atol=TOL, rtol=TOL)
