"""The LSTM backbone (and its multiplicative cell): dropout masks are drawn once per sequence,
inference ignores them, and the cached step path agrees with the sequence kernel."""

import keras
import numpy as np
import pytest

from textgen.backbones.lstm import LSTMBackbone, LSTMParams
from textgen.model import build_model


def inputs(batch: int, length: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, length, width)).astype("float32")


def test_output_dropout_drops_the_same_units_at_every_step():
    keras.utils.set_random_seed(1)
    bb = LSTMBackbone(units=32, dropout=0.5)
    out = bb(inputs(4, 20, 3), training=True).numpy()
    dropped = out == 0.0
    assert dropped.any() and not dropped.all()
    # a unit dropped for a sequence is dropped at all of its steps, and only those units are
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped.all(1, keepdims=True),
                                                           dropped.shape))


@pytest.mark.parametrize("multiplicative", [False, True], ids=["lstm", "mlstm"])
@pytest.mark.parametrize("dropout, recurrent", [(0.3, 0.0), (0.0, 0.3), (0.3, 0.3)])
def test_dropout_is_training_only_and_the_step_path_agrees(dropout, recurrent, multiplicative):
    keras.utils.set_random_seed(2)
    bb = LSTMBackbone(units=16, layers=2, dropout=dropout, recurrent_dropout=recurrent,
                      multiplicative=multiplicative)
    x = inputs(3, 25, 5)
    full = bb(x, training=False).numpy()
    np.testing.assert_allclose(bb(x).numpy(), full, atol=1e-6)
    assert not np.allclose(bb(x, training=True).numpy(), full, atol=1e-3)
    cache, steps = bb.initial_cache(3), []
    for t in range(x.shape[1]):
        y, cache = bb.step(x[:, t], cache)
        steps.append(np.asarray(y))
    np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-5)


def test_the_multiplicative_cell_is_krauses_mlstm():
    """h' and c' from the published equations, written out in NumPy."""
    keras.utils.set_random_seed(5)
    bb = LSTMBackbone(units=6, multiplicative=True)
    x = inputs(2, 1, 4)
    h0, c0 = (np.random.default_rng(s).normal(size=(2, 6)).astype("float32") for s in (1, 2))
    got, (h1, c1) = bb.step(x[:, 0], (h0, c0))
    cell = bb.lstms[0].cell
    wx, wh, w, u, b = (v.numpy() for v in (cell.input_multiplier, cell.state_multiplier,
                                            cell.kernel, cell.recurrent_kernel, cell.bias))
    m = (x[:, 0] @ wx) * (h0 @ wh)
    i, f, g, o = np.split(x[:, 0] @ w + m @ u + b, 4, axis=1)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    c = sigmoid(f) * c0 + sigmoid(i) * np.tanh(g)
    np.testing.assert_allclose(np.asarray(c1), c, atol=1e-5)
    np.testing.assert_allclose(np.asarray(h1), sigmoid(o) * np.tanh(c), atol=1e-5)
    np.testing.assert_allclose(np.asarray(got), np.asarray(h1))


@pytest.mark.parametrize("multiplicative", [False, True], ids=["lstm", "mlstm"])
def test_config_round_trip_and_save_load(tmp_path, multiplicative):
    keras.utils.set_random_seed(3)
    bb = LSTMBackbone(units=8, layers=2, dropout=0.2, recurrent_dropout=0.1,
                      multiplicative=multiplicative)
    assert LSTMBackbone.from_config(bb.get_config()).get_config() == bb.get_config()
    model = build_model(7, bb, embedding_dim=4)
    ids = np.random.default_rng(1).integers(0, 7, size=(2, 12)).astype("int32")
    model.save(tmp_path / "lstm.keras")
    loaded = keras.models.load_model(tmp_path / "lstm.keras")
    np.testing.assert_allclose(loaded(ids).numpy(), model(ids).numpy(), atol=1e-6)


def test_params_reject_a_dropout_of_one():
    with pytest.raises(ValueError, match="recurrent_dropout"):
        LSTMParams(recurrent_dropout=1.0)
