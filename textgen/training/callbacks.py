"""Keras callbacks of a training run: held-out score, time budget, divergence, checkpoints."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import keras
import numpy as np

from textgen import rundir
from textgen.training.evaluate import held_out_bpc


class HeldOutBpc(keras.callbacks.Callback):
    """Adds ``val_bpc`` to each epoch's logs, before the callbacks that record them."""

    def __init__(self, scored_model: keras.Model, ids: np.ndarray, context: int, stride: int,
                 batch_size: int) -> None:
        super().__init__()
        self.scored_model, self.ids = scored_model, ids
        self.context, self.stride, self.batch_size = context, stride, batch_size

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["val_bpc"] = held_out_bpc(self.scored_model, self.ids, self.context,
                                           self.stride, self.batch_size)


class TimeBudget(keras.callbacks.Callback):
    """Stops training once ``seconds`` of wall-clock (counting earlier, resumed time) are spent."""

    def __init__(self, seconds: float | None, already: float = 0.0) -> None:
        super().__init__()
        self.seconds, self.already = seconds, already
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.seconds and self.already + time.perf_counter() - self.start >= self.seconds:
            self.model.stop_training = True


class DivergenceError(RuntimeError):
    """Training produced a NaN or exploding loss."""


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
                 chars_before: int, chars_per_batch: int) -> None:
        super().__init__()
        self.run_dir, self.history = Path(run_dir), history
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
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()},
               "epoch_seconds": now - self.epoch_start,
               "elapsed_seconds": self.elapsed_before + now - self.start,
               "chars": float(self.chars)}
        if not all(math.isfinite(v) for v in row.values()):
            return  # never checkpoint a diverged state
        self.history.append(row)
        rundir.atomic_write(self.run_dir / rundir.CHECKPOINT, self.model.save)
        write_history(self.run_dir / rundir.HISTORY, self.history)
        rundir.write_json(self.run_dir / rundir.STATE,
                          {"epochs_done": epoch + 1, "elapsed_seconds": row["elapsed_seconds"],
                           "chars": self.chars})


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
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
