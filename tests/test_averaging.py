"""optimizer.ema: each epoch is scored with the weights' moving average, the saved model is that
average, and training goes on from its own weights (a resumed run too: tests/test_resume.py)."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from textgen.cli import cli
from textgen.corpus.prepare import prepare_corpus
from textgen.spec.loader import load_spec
from textgen.spec.schema import Spec, TrainingSpec
from textgen.training.evaluate import held_out_bpc

SPEC = {
    "name": "averaged", "seed": 5,
    "corpus": {"name": "tiny", "max_chars": 8000},
    "backbone": {"type": "lstm", "embedding": 8, "units": 16},
    "training": {"seq_len": 32, "batch_size": 16, "epochs": 3,
                 "optimizer": {"name": "adam", "learning_rate": 1e-2, "ema": 0.9}},
    "evaluation": {"context": 32, "stride": 64},
    "generation": {"length": 10, "num_samples": 1, "samplers": ["greedy"]},
}


def test_the_average_is_scored_checkpointed_and_saved(tmp_path):
    path, out = tmp_path / "spec.yaml", tmp_path / "run"
    path.write_text(yaml.safe_dump(SPEC))
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    spec = load_spec(path, Spec)
    e = spec.evaluation
    saved = keras.models.load_model(out / "model.keras")
    reported = json.loads((out / "metrics.json").read_text())["val_bpc"]
    ids = prepare_corpus(spec).scoring_ids
    assert held_out_bpc(saved, ids, e.context, e.stride, e.batch_size) == pytest.approx(
        reported, abs=1e-6)  # the last epoch's score is the saved model's
    checkpoint = keras.models.load_model(out / "checkpoint.keras")
    weights = [w.numpy() for w in checkpoint.trainable_weights]
    for w, s in zip(weights, saved.trainable_weights, strict=True):
        np.testing.assert_array_equal(w, s.numpy())  # the checkpoint's weights: the average
    own = [v.numpy() for v in checkpoint.optimizer._model_variables_moving_average]
    assert not all(np.allclose(a, b) for a, b in zip(own, weights, strict=True))


@pytest.mark.parametrize("ema", [0.0, 1.0, -0.5])
def test_ema_must_be_a_momentum_between_zero_and_one(ema):
    with pytest.raises(ValidationError, match="ema"):
        TrainingSpec(optimizer={"ema": ema})


def test_ema_stays_on_one_device():
    with pytest.raises(ValidationError, match="optimizer.ema"):
        TrainingSpec(optimizer={"ema": 0.99}, distribute={"strategy": "mirrored"})
