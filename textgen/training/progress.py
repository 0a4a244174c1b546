"""A live rich progress bar for Keras training: epoch, loss, chars/s and time remaining."""

from __future__ import annotations

import time

import keras
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def make_progress(console: Console) -> Progress:
    """The bar shared by training and generation (``transient``: it leaves the tables clean)."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=console, transient=True)


class RichProgress(keras.callbacks.Callback):
    """Advances one bar per batch; ``chars_per_batch`` turns batches into chars/s."""

    def __init__(self, progress: Progress, epochs: int, steps: int, chars_per_batch: int,
                 initial_epoch: int = 0) -> None:
        super().__init__()
        self.progress, self.epochs, self.steps = progress, epochs, steps
        self.chars_per_batch = chars_per_batch
        self.task = progress.add_task("train", total=(epochs - initial_epoch) * steps, info="")
        self.start = time.perf_counter()
        self.batches = 0
        self.epoch = initial_epoch
        self.last = ""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.batches += 1
        rate = self.batches * self.chars_per_batch / max(time.perf_counter() - self.start, 1e-9)
        loss = (logs or {}).get("loss")
        info = f"loss {float(loss):.3f}  {rate:,.0f} chars/s{self.last}" if loss is not None else ""
        self.progress.update(self.task, advance=1, info=info,
                             description=f"epoch {self.epoch + 1}/{self.epochs}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs and "val_bpc" in logs:
            self.last = f"  val {float(logs['val_bpc']):.3f} bpc"

    def on_train_end(self, logs: dict | None = None) -> None:
        self.progress.remove_task(self.task)
