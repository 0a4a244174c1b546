"""Keras callbacks of a training run: held-out score, time budget, divergence, checkpoints."""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from textgen import rundir
from textgen.training.evaluate import held_out_scores


class HeldOutBpc(keras.callbacks.Callback):
    """Adds ``val_bpc`` (and a mixture's ``val_bpc_network``) to each epoch's logs, before the
    callbacks that record them."""

    def __init__(self, scored_model: keras.Model, ids: np.ndarray, context: int, stride: int,
                 batch_size: int) -> None:
        super().__init__()
        self.scored_model, self.ids = scored_model, ids
        self.context, self.stride, self.batch_size = context, stride, batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            start = time.perf_counter()
            logs.update(held_out_scores(self.scored_model, self.ids, self.context, self.stride,
                                        self.batch_size))
            logs["eval_seconds"] = time.perf_counter() - start


class InterruptBetweenBatches(keras.callbacks.Callback):
    """Ctrl-C during training raises KeyboardInterrupt at the next batch end, in Python.

    A SIGINT that lands inside a native call (a tf.data fetch) can otherwise surface as the end
    of the data, and the run would go on as if the epochs were done.
    """

    def __init__(self) -> None:
        super().__init__()
        self.interrupted = False
        self.previous: Any = None  # the SIGINT handler to restore

    def _note(self, signum, frame) -> None:
        self.interrupted = True

    def on_train_begin(self, logs: dict | None = None) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._note)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.interrupted:
            self._restore()
            raise KeyboardInterrupt

    def on_train_end(self, logs: dict | None = None) -> None:
        self._restore()
        if self.interrupted:
            raise KeyboardInterrupt

    def _restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None


class TimeBudget(keras.callbacks.Callback):
    """Stops training once ``seconds`` of wall-clock (counting earlier, resumed time) are spent."""

    def __init__(self, seconds: float | None, already: float = 0.0) -> None:
        super().__init__()
        self.seconds, self.already = seconds, already
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.seconds and self.already + time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True


class StopOnDivergence(keras.callbacks.Callback):
    """Stops at a NaN/inf loss, or one above ``limit`` bits per char, and says so clearly."""

    def __init__(self, limit_nats: float) -> None:
        super().__init__()
        self.limit = limit_nats
        self.epoch = 0
        self.problem: str | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss) or loss > self.limit:
            self.problem = (f"training diverged in epoch {self.epoch + 1} (batch {batch + 1}): "
                            f"the loss became {loss:.4g}")
            self.model.stop_training = True


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the training model with its optimizer, the history and the elapsed
    time, each written atomically, so a killed run resumes from its last completed epoch."""

    def __init__(self, run_dir: Path, history: list[dict], elapsed_before: float,
                 chars_before: int, chars_per_batch: int,
                 divergence: StopOnDivergence | None = None, trained_before: float = 0.0) -> None:
        super().__init__()
        self.trained = trained_before  # seconds spent in training steps alone (no scoring)
        self.run_dir, self.history = Path(run_dir), history
        self.divergence = divergence  # an epoch it stopped is not a good one, finite or not
        self.elapsed_before, self.chars, self.chars_per_batch = (elapsed_before, chars_before,
                                                                 chars_per_batch)
        self.start = time.perf_counter()
        self.epoch_start = self.start

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.chars += self.chars_per_batch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        logs = logs or {}
        self.trained += now - self.epoch_start - float(logs.get("eval_seconds", 0.0))
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()},
               "epoch_seconds": now - self.epoch_start,
               "elapsed_seconds": self.elapsed_before + now - self.start,
               "train_seconds": self.trained,
               "chars": float(self.chars)}
        diverged = self.divergence is not None and self.divergence.problem
        if diverged or not all(math.isfinite(v) for v in row.values()):
            return  # never checkpoint a diverged state
        self.history.append(row)
        state = {"epochs_done": epoch + 1, "elapsed_seconds": row["elapsed_seconds"],
                 "train_seconds": self.trained, "chars": self.chars}
        # History first (rows past the checkpoint's epoch are dropped on resume), then the
        # checkpoint with its state inside: that rename is the one commit point of an epoch.
        write_history(self.run_dir / rundir.HISTORY, self.history)
        rundir.atomic_write(self.run_dir / rundir.CHECKPOINT,
                            lambda tmp: save_checkpoint(self.model, tmp, state))
        rundir.write_json(self.run_dir / rundir.STATE, state)


CHECKPOINT_STATE = "textgen_state.json"  # inside checkpoint.keras, a zip archive


def _seed_states(model: keras.Model) -> list:
    return [v for v in model.variables if v.name == "seed_generator_state"]


def save_checkpoint(model: keras.Model, path: Path, state: dict) -> None:
    """Save the training model with ``state`` in the same archive, so the two always agree.

    The state also records where each of the model's random streams (its dropout masks) has
    got to: Keras does not save these, and a resumed run must draw the masks the uninterrupted
    one would have (:func:`load_checkpoint` puts them back)."""
    model.save(path)
    random = [[int(x) for x in v.numpy()] for v in _seed_states(model)]
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(CHECKPOINT_STATE, json.dumps({**state, "random": random}))


def load_checkpoint(path: Path, state: dict) -> keras.Model:
    """The training model of :func:`save_checkpoint`, its random streams where ``state`` (the
    checkpoint's own, :func:`read_state`) says they had got to; an older checkpoint records
    none, and its streams start afresh."""
    model = keras.models.load_model(path)
    for variable, value in zip(_seed_states(model), state.get("random", []), strict=False):
        variable.assign(np.asarray(value, variable.dtype))
    return model


def read_state(run_dir: Path) -> dict:
    """Where a resumed run starts: the checkpoint's own state, else state.json, else nothing.

    A crash between the checkpoint's rename and state.json's leaves state.json one epoch
    behind the weights; the checkpoint's copy cannot be.
    """
    try:
        with zipfile.ZipFile(Path(run_dir) / rundir.CHECKPOINT) as archive:
            return json.loads(archive.read(CHECKPOINT_STATE))
    except (OSError, KeyError, zipfile.BadZipFile):  # no checkpoint yet, or an older one
        path = Path(run_dir) / rundir.STATE
        return rundir.read_json(path) if path.is_file() else {}


def write_history(path: Path, history: list[dict]) -> None:
    columns = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(history)
    rundir.write_text(path, buffer.getvalue())


def read_history(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: int(float(v)) if k == "epoch" else float(v) for k, v in row.items()}
                for row in csv.DictReader(f)]
