"""Train a character model with Keras ``fit``: the spec's optimizer, data and callbacks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textgen import rundir
from textgen.corpus.dataset import (
    steps_per_epoch,
    stream_dataset,
    stream_steps,
    training_dataset,
)
from textgen.model import mixture_of, network, training_model, with_mixture
from textgen.spec.schema import OptimizerSpec, Spec
from textgen.training import distribute
from textgen.training.averaging import ScoreAverage, TrainOwnWeights
from textgen.training.callbacks import (
    EpochCheckpoint,
    HeldOutBpc,
    InterruptBetweenBatches,
    StopOnDivergence,
    TimeBudget,
    load_checkpoint,
    read_history,
    read_state,
)
from textgen.training.carry import ResetState, StateCarrier
from textgen.training.progress import RichProgress

OPTIMIZERS = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
              "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}


@dataclass
class TrainResult:
    """What a training run did: its history rows, and the problem that stopped it, if any."""

    model: keras.Model
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0       # in training steps (what chars/s divides by)
    wall_seconds: float = 0.0  # including held-out scoring and checkpoints
    epochs: int = 0
    chars: int = 0
    diverged: str | None = None

    @classmethod
    def from_history(cls, model: keras.Model, history: list[dict], elapsed: float = 0.0,
                     chars: int = 0, diverged: str | None = None) -> TrainResult:
        """Totals from the last history row; ``elapsed`` and ``chars`` stand in without one."""
        last = history[-1] if history else {}
        return cls(model=model, history=history, epochs=len(history),
                   seconds=last.get("train_seconds", 0.0),
                   wall_seconds=last.get("elapsed_seconds", elapsed),
                   chars=int(last.get("chars", chars)), diverged=diverged)

    @property
    def chars_per_second(self) -> float:
        return self.chars / self.seconds if self.seconds else 0.0


def make_optimizer(spec: OptimizerSpec, total_steps: int) -> keras.optimizers.Optimizer:
    rate: float | keras.optimizers.schedules.LearningRateSchedule = spec.learning_rate
    if spec.decay_to is not None:
        rate = keras.optimizers.schedules.CosineDecay(spec.learning_rate, max(total_steps, 1),
                                                      alpha=spec.decay_to)
    averaged = {} if spec.ema is None else {"use_ema": True, "ema_momentum": spec.ema}
    return OPTIMIZERS[spec.name](learning_rate=rate, clipnorm=spec.clipnorm, **averaged)


def chars_per_window(spec: Spec) -> int:
    """Training characters predicted per window: every position, or only the last (the seed)."""
    return spec.training.seq_len if spec.training.target == "all" else 1


def train(spec: Spec, model: keras.Model, train_ids: np.ndarray, scoring_ids: np.ndarray,
          run_dir: Path, progress=None, resume: bool = False,
          strategy: tf.distribute.Strategy | None = None,
          extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> TrainResult:
    """Fit ``model`` (resuming from the run's checkpoint if asked) and return what happened.

    Under a ``strategy``, ``model`` must come from its scope; only the chief writes ``run_dir``.
    ``extra_callbacks`` run after the built-in ones, so their logs hold ``val_bpc``.
    """
    t = spec.training
    strategy = strategy or tf.distribute.get_strategy()
    out = distribute.output_dir(run_dir, strategy)
    history = read_history(run_dir / rundir.HISTORY) if resume else []
    state = read_state(run_dir) if resume else {}
    done, elapsed = int(state.get("epochs_done", 0)), float(state.get("elapsed_seconds", 0.0))
    chars_before = int(state.get("chars", 0))
    history = history[:done]
    dataset, steps = _training_data(spec, train_ids, first_epoch=done)

    with strategy.scope():
        if resume and done:
            fitted = load_checkpoint(run_dir / rundir.CHECKPOINT, state)
            net = _network_of(fitted, t.target)
            mixture = mixture_of(model)
            model = net if mixture is None else with_mixture(net, mixture)
        else:
            fitted = (StateCarrier(network(model), t.batch_size) if t.carry_state else
                      training_model(model, t.target))
            fitted.compile(optimizer=make_optimizer(t.optimizer, steps * t.epochs),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                           jit_compile=t.jit_compile)

    chars_per_batch = t.batch_size * chars_per_window(spec)
    divergence = StopOnDivergence(limit_nats=4 * math.log(model.output_shape[-1]))
    averaged = t.optimizer.ema is not None  # scored and checkpointed: see training.averaging
    callbacks: list[keras.callbacks.Callback] = [
        ResetState(),
        InterruptBetweenBatches(),
        divergence,
        *([ScoreAverage()] if averaged else []),
        HeldOutBpc(model, scoring_ids, spec.evaluation.context, spec.evaluation.stride,
                   spec.evaluation.batch_size),
        TimeBudget(t.max_seconds, already=elapsed),
        EpochCheckpoint(out, history, elapsed, chars_before, chars_per_batch, divergence,
                        trained_before=float(state.get("train_seconds", 0.0))),
        *([TrainOwnWeights(resumed=bool(resume and done))] if averaged else []),
    ]
    if progress is not None:
        callbacks.append(RichProgress(progress, t.epochs, steps, chars_per_batch, done))
    callbacks += extra_callbacks
    if done < t.epochs and not (t.max_seconds and elapsed >= t.max_seconds):
        if distribute.needs_own_loop(strategy):  # Keras fit fails there (keras#20585)
            distribute.fit(strategy, fitted, dataset, t.epochs, done, steps, callbacks)
        else:
            fitted.fit(dataset, epochs=t.epochs, initial_epoch=done, steps_per_epoch=steps,
                       callbacks=callbacks, verbose=0, shuffle=False)  # the dataset shuffles
    result = TrainResult.from_history(model, history, elapsed, chars_before, divergence.problem)
    if divergence.problem and history:
        # Roll back to the last good epoch: its checkpoint is complete by construction.
        good = keras.models.load_model(out / rundir.CHECKPOINT)
        network(result.model).set_weights(_network_of(good, t.target).get_weights())
    return result


def _training_data(spec: Spec, train_ids: np.ndarray,
                   first_epoch: int) -> tuple[tf.data.Dataset, int]:
    """The batches of epochs ``first_epoch`` onwards, and the batches in an epoch: streams read
    in order with ``carry_state``, shuffled windows otherwise."""
    t = spec.training
    if t.carry_state:
        return (stream_dataset(train_ids, t.seq_len, t.batch_size, seed=spec.seed,
                               epochs=t.epochs, first_epoch=first_epoch),
                stream_steps(len(train_ids), t.seq_len, t.batch_size))
    return (training_dataset(train_ids, t.seq_len, t.batch_size, t.step, t.target, shuffle=True,
                             seed=spec.seed, epochs=t.epochs, first_epoch=first_epoch),
            steps_per_epoch(len(train_ids), t.seq_len, t.batch_size, t.step, t.target))


def _network_of(fitted: keras.Model, target: str) -> keras.Model:
    """The network (ids -> logits at every position) inside a training model."""
    if isinstance(fitted, StateCarrier):
        return fitted.network
    if target == "all":
        return fitted
    return keras.Model(fitted.input, fitted.get_layer("head").output)  # the seed's last-only
