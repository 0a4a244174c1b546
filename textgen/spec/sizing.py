"""A spec for any text and time budget, for ``textgen train PATH...`` (no spec to write).

The rule is :func:`size_model`, a pure function of the text's length and the minutes given;
:func:`train_spec` wraps its choice in a whole spec (as YAML data) that is saved with the run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIN_CHARS = 1_000      # below this there is too little text to hold out and learn from
MIN_EPOCHS = 8         # a size is only chosen if the budget lets it see the text this often
MAX_EPOCHS = 50        # beyond this a small text is learnt by heart, not modelled
VAL_FRACTION = 0.1
# Training chars/s of each LSTM width on the reference machine (2 cores, docs/performance.md):
# 128 at 32 x 32 in graph mode (nietzsche_lstm), 256 and 512 at 32 x 64 under XLA with
# variational dropout (budget_sweep, nietzsche_fast); 64 runs ~2x the chars/s of 128.
TRAIN_RATE = {512: 10_700, 256: 35_000, 128: 91_000, 64: 180_000}


@dataclass(frozen=True)
class Size:
    """The chosen model and schedule."""

    units: int
    seq_len: int
    epochs: int
    learning_rate: float
    dropout: float
    recurrent_dropout: float
    jit_compile: bool


def parameters(units: int, embedding: int = 32, vocab: int = 80) -> int:
    """Weights of the one-layer LSTM model (embedding, gates, head), for a typical vocabulary."""
    return vocab * embedding + 4 * units * (units + embedding + 1) + (units + 1) * vocab


def size_model(chars: int, minutes: float) -> Size:
    """The widest LSTM that the text can feed and the budget can train, with its schedule.

    Reasons, from the Nietzsche runs (docs/performance.md):

    - Per character seen, wider LSTMs learn faster, but only with enough text and passes over
      it. A width qualifies when its parameters are at most twice the text's characters
      (LSTM 512, 1.16M parameters, on Nietzsche's 600k characters needed dropout 0.25 to stop
      overfitting; more parameters per character overfits sooner) and the budget gives it at
      least ``MIN_EPOCHS`` epochs at its measured speed (``TRAIN_RATE``; nietzsche_fast's 15
      epochs of LSTM 512 fit 15 minutes; with fewer passes a narrower model wins).
    - 85% of the budget trains; held-out scoring, generation and the report take the rest.
      ``training.max_seconds`` is the budget itself, so a slower machine stops in time.
    - Widths from 256 up take nietzsche_fast's recipe (64-char windows under XLA, lr 3e-3,
      variational dropout 0.25 / 0.1); narrower ones nietzsche_lstm's (32-char windows in
      graph mode, where XLA is no faster, lr 1e-2, no dropout). Both decay the rate to 5%.
    - Epochs fill the budget, at most ``MAX_EPOCHS``; 15 minutes of Nietzsche gives exactly
      nietzsche_fast (LSTM 512, 15 epochs), 2 minutes nietzsche_lstm's LSTM 128.
    """
    train_chars = max(chars * (1 - VAL_FRACTION), 1.0)
    seconds = max(minutes, 0.0) * 60 * 0.85
    fits = [u for u, rate in TRAIN_RATE.items()
            if parameters(u) <= 2 * chars and rate * seconds / train_chars >= MIN_EPOCHS]
    units = max(fits, default=min(TRAIN_RATE))
    epochs = int(min(max(TRAIN_RATE[units] * seconds / train_chars, 1), MAX_EPOCHS))
    wide = units >= 256
    seq_len = min(64 if wide else 32, max(int(train_chars) // 20, 8))
    return Size(units=units, seq_len=seq_len, epochs=epochs,
                learning_rate=3e-3 if wide else 1e-2, dropout=0.25 if wide else 0.0,
                recurrent_dropout=0.1 if wide else 0.0, jit_compile=wide)


def run_name(paths: Sequence[str | Path]) -> str:
    """``train-<first file's stem>``, in the characters a spec's name allows."""
    stem = Path(paths[0]).resolve().stem or "text"
    return "train-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "text")


def train_spec(paths: Sequence[str | Path], chars: int, minutes: float) -> dict[str, Any]:
    """The whole spec (YAML data) for ``textgen train``: the text as given (case and newlines
    kept), the model :func:`size_model` picks, and three samplers to compare."""
    size = size_model(chars, minutes)
    backbone: dict[str, Any] = {"type": "lstm", "embedding": 32, "units": size.units, "layers": 1}
    if size.dropout:
        backbone |= {"dropout": size.dropout, "recurrent_dropout": size.recurrent_dropout}
    return {
        "name": run_name(paths),
        "corpus": {"path": [str(Path(p).resolve()) for p in paths], "lowercase": False,
                   "fold_newlines": False, "val_fraction": VAL_FRACTION},
        "backbone": backbone,
        "training": {"seq_len": size.seq_len, "batch_size": 32, "epochs": size.epochs,
                     "max_seconds": round(minutes * 60, 1), "jit_compile": size.jit_compile,
                     "optimizer": {"name": "adam", "learning_rate": size.learning_rate,
                                   "clipnorm": 1.0, "decay_to": 0.05}},
        "evaluation": {"context": min(60, size.seq_len * 2), "stride": 200, "batch_size": 256},
        "generation": {"length": 400, "num_samples": 1, "prompt_length": 40,
                       "samplers": ["greedy", {"temperature": 0.5}, {"temperature": 1.0}]},
    }
