"""Averaged weights (``optimizer.ema``): score, checkpoint and keep the moving average.

Keras's optimizer keeps the average itself (``use_ema``: after every step, ``average <- ema *
average + (1 - ema) * weights``): Polyak averaging, as AWD-LSTM's averaged SGD, which smooths
the last steps of a run whose learning rate stays high (with the specs' cosine decay to 5% it
gained nothing: docs/performance.md). Around each epoch's end the average is swapped into the
model for the held-out score and the checkpoint, then swapped out again, so training continues
from its own weights. A checkpoint therefore holds the average as the model's weights and the
training weights in the optimizer's slots; a resumed run swaps them back before its first step.
When ``fit`` ends, Keras writes the average into the model: the saved model is the averaged
one.

Keras's ``SwapEMAWeights`` swaps by adding and subtracting (not exact in floating point, so a
resumed run would drift from an uninterrupted one) and leaves the swap in place across the end of
``fit``, where the optimizer then overwrites the average; hence these two small callbacks.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def swap_average(optimizer: keras.optimizers.Optimizer) -> None:
    """Exchange the optimizer's trainable variables with their moving averages, exactly."""
    for weight, average in zip(optimizer._trainable_variables,
                               optimizer._model_variables_moving_average, strict=True):
        held = tf.identity(weight.value)
        weight.assign(average.value)
        average.assign(held)


class ScoreAverage(keras.callbacks.Callback):
    """At each epoch's end, put the average into the model (before scoring and checkpoint)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        swap_average(self.model.optimizer)


class TrainOwnWeights(keras.callbacks.Callback):
    """Swap the training weights back after the checkpoint, and before a resumed run's first
    step (its checkpoint holds the average as the model's weights)."""

    def __init__(self, resumed: bool) -> None:
        super().__init__()
        self.resumed = resumed

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.resumed:
            swap_average(self.model.optimizer)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        swap_average(self.model.optimizer)
