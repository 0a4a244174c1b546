"""TensorBoard logs of a run (``report.tensorboard: true``), in ``<run>/tensorboard/``.

Keras' own ``TensorBoard`` callback writes the training loss (``train/epoch_loss``) and the
graph; :class:`EpochSummaries` adds, per epoch, held-out bits per character, the learning rate
and a short sample from each sampler setting as text. Look at them with
``tensorboard --logdir runs/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from textgen.corpus.vocab import CharVocab
from textgen.errors import UsageError
from textgen.samplers.base import SamplerChain

LOG_DIR = "tensorboard"
SAMPLE_CHARS = 200  # per setting and epoch: enough to read, cheap to decode

Sampler = Callable[[], list[tuple[str, str]]]  # -> [(setting label, prompt + sample)]


def require_tensorboard() -> None:
    """tf.summary's writers live in the ``tensorboard`` package; say how to get it."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise UsageError("report.tensorboard needs the tensorboard package: "
                         "pip install 'textgen[tensorboard]' (or pip install tensorboard)"
                         ) from None


def learning_rate(optimizer: Any) -> float:
    """The optimizer's current rate (a schedule evaluated at its step count)."""
    rate = optimizer.learning_rate
    if callable(rate):  # a schedule object in some Keras versions
        rate = rate(optimizer.iterations)
    return float(keras.ops.convert_to_numpy(rate))


def tag(label: str) -> str:
    """A setting's label as a summary name: ``top_k(20) -> temperature(0.7)`` ->
    ``top_k_20_temperature_0.7`` (names allow letters, digits and ``_.-/``)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", label).strip("_")


def as_markdown(text: str) -> str:
    """TensorBoard renders text summaries as markdown: indent to show it verbatim."""
    return "    " + text.replace("\n", "\n    ")


class EpochSummaries(keras.callbacks.Callback):
    """Per epoch: ``held_out/val_bpc`` (and ``held_out/val_bpc_dynamic`` when logged),
    ``learning_rate``, and ``samples/<setting>`` text. Steps are epoch indices, as Keras'."""

    def __init__(self, log_dir: Path, sample: Sampler | None = None) -> None:
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "textgen"))
        self.sample = sample

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        with self.writer.as_default(step=epoch):
            for key in ("val_bpc", "val_bpc_dynamic"):
                if logs.get(key) is not None:
                    tf.summary.scalar(f"held_out/{key}", float(logs[key]))
            tf.summary.scalar("learning_rate", learning_rate(self.model.optimizer))
            for label, text in self.sample() if self.sample else []:
                tf.summary.text(f"samples/{label}", as_markdown(text))
        self.writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.writer.flush()


def log_final(run_dir: Path, step: int, scalars: dict[str, float | None]) -> None:
    """Scalars known only after training (dynamic-evaluation bpc, generation speed)."""
    require_tensorboard()
    writer = tf.summary.create_file_writer(str(Path(run_dir) / LOG_DIR / "textgen"))
    with writer.as_default(step=step):
        for key, value in scalars.items():
            if value is not None:
                tf.summary.scalar(key, float(value))
    writer.close()


def epoch_sampler(model: keras.Model, vocab: CharVocab, chains: list[SamplerChain], prompt: str,
                  seed: int, length: int = SAMPLE_CHARS) -> Sampler:
    """A sample per setting from the model as it is now; the decoding loop compiles once and
    reads the current weights at every call."""
    from textgen.generation.engine import Decoder
    from textgen.generation.sampling import PAD, bind_vocabulary

    bind_vocabulary(chains, vocab)  # before the Decoder checks each chain
    decoder = Decoder(model, chains, statistics=False)
    rows = max(PAD, -(-len(chains) // PAD) * PAD)
    setting = np.arange(rows) % len(chains)
    ids = np.stack([vocab.encode(prompt, unknown="skip")] * rows)

    def sample() -> list[tuple[str, str]]:
        tokens = decoder(ids, setting, np.full(rows, seed), length).tokens
        return [(f"{k}_{tag(chain.label())}", prompt + vocab.decode(tokens[k]))
                for k, chain in enumerate(chains)]

    return sample


def callbacks(run_dir: Path, sample: Sampler | None) -> list[keras.callbacks.Callback]:
    """Keras' TensorBoard callback (loss per epoch) and textgen's own summaries."""
    require_tensorboard()
    log_dir = Path(run_dir) / LOG_DIR
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False),
            EpochSummaries(log_dir, sample)]


def for_run(spec: Any, model: keras.Model, corpus: Any, run_dir: Path
            ) -> list[keras.callbacks.Callback]:
    """The callbacks a run with ``report.tensorboard`` trains with: samples are drawn from
    the run's first prompt (as generation will), one per sampler setting."""
    from textgen.corpus.prepare import draw_prompts, prepare_prompt

    g = spec.generation
    prompt = (prepare_prompt(spec, g.prompt) if g.prompt
              else draw_prompts(corpus.val_text, 1, g.prompt_length, spec.seed)[0])
    sampler = epoch_sampler(model, corpus.vocab, g.chains(), prompt, spec.seed,
                            min(SAMPLE_CHARS, g.length))
    return callbacks(run_dir, sampler)
