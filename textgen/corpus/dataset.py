"""tf.data pipelines over encoded text: training windows and held-out scoring windows.

Windows are sliced on the fly from one int32 tensor, so memory stays at the size of the corpus
(the seed's corpus-sized one-hot array is never built).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import tensorflow as tf

Target = Literal["all", "last"]
SEED_STEP = 3  # the Keras example's stride between windows for target="last"


def split(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Hold out the last ``val_fraction`` of the text (by position) for validation."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(len(text) * val_fraction))
    if val_fraction > 0 and n_val == 0:
        raise ValueError(
            f"val_fraction={val_fraction} of a {len(text)}-character text holds nothing out; "
            "use a longer text or a larger fraction"
        )
    cut = len(text) - n_val
    return text[:cut], text[cut:]


def default_step(seq_len: int, target: Target) -> int:
    """Non-overlapping windows for ``"all"``; the seed's step of 3 for ``"last"``."""
    return seq_len if target == "all" else SEED_STEP


def _check(seq_len: int, step: int, target: str) -> None:
    if target not in ("all", "last"):
        raise ValueError(f"target must be 'all' or 'last', got {target!r}")
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")


def num_windows(n_ids: int, seq_len: int, step: int | None = None, target: Target = "all") -> int:
    """How many windows of ``seq_len`` inputs (plus their targets) fit in ``n_ids`` ids."""
    step = default_step(seq_len, target) if step is None else step
    _check(seq_len, step, target)
    # Both modes need seq_len inputs and one id after them: start + seq_len <= n_ids - 1.
    return (n_ids - seq_len - 1) // step + 1 if n_ids > seq_len else 0


def steps_per_epoch(n_ids: int, seq_len: int, batch_size: int, step: int | None = None,
                    target: Target = "all") -> int:
    """Batches per epoch (the last one may be short)."""
    return math.ceil(num_windows(n_ids, seq_len, step, target) / batch_size)


def _as_ids(ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
        raise ValueError(f"ids must be a 1-D integer array, got shape {ids.shape} {ids.dtype}")
    return ids.astype(np.int32, copy=False)


def training_dataset(ids: np.ndarray, seq_len: int, batch_size: int, step: int | None = None,
                     target: Target = "all", shuffle: bool = True, seed: int = 0,
                     epochs: int = 1, first_epoch: int = 0) -> tf.data.Dataset:
    """Batches of ``(x [B, seq_len], y)``: ``y`` is x shifted by one (``"all"``) or the next id.

    Window ``k`` starts at ``k * step``. The dataset holds epochs ``first_epoch`` to
    ``epochs - 1`` back to back; with ``shuffle`` each epoch's window order is a function of
    ``(seed, epoch)`` alone, so a run resumed at epoch e sees exactly the batches it would have.
    """
    ids = _as_ids(ids)
    step = default_step(seq_len, target) if step is None else step
    count = num_windows(len(ids), seq_len, step, target)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if count == 0:
        raise ValueError(
            f"a text of {len(ids)} ids is too short for windows of seq_len={seq_len} "
            "(it needs at least seq_len + 1); use a longer text or a shorter seq_len"
        )
    data = tf.constant(ids, dtype=tf.int32)
    offsets = tf.range(seq_len + 1, dtype=tf.int64)

    def windows(starts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        w = tf.gather(data, starts[:, None] * step + offsets)  # [B, seq_len + 1]
        return w[:, :-1], (w[:, 1:] if target == "all" else w[:, -1])

    def epoch_starts(epoch: tf.Tensor) -> tf.data.Dataset:
        starts = tf.range(count, dtype=tf.int64)
        if shuffle:
            key = tf.stack([tf.constant(seed, tf.int64), epoch])
            starts = tf.random.experimental.stateless_shuffle(starts, seed=key)
        return tf.data.Dataset.from_tensor_slices(starts).batch(batch_size)

    ds = tf.data.Dataset.range(first_epoch, max(epochs, first_epoch + 1)).flat_map(epoch_starts)
    ds = ds.map(windows, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def stream_steps(n_ids: int, seq_len: int, batch_size: int) -> int:
    """Batches per epoch of :func:`stream_dataset`: each row reads one ``batch_size``-th of the
    text, less up to ``seq_len`` ids of random start."""
    if seq_len < 1 or batch_size < 1:
        raise ValueError(f"seq_len and batch_size must be at least 1, got {seq_len} and "
                         f"{batch_size}")
    steps = ((n_ids - 1) // batch_size - seq_len) // seq_len
    if steps < 1:
        raise ValueError(f"a text of {n_ids} ids is too short to read as {batch_size} streams "
                         f"of {seq_len}-character windows (it needs at least "
                         f"{batch_size * 2 * seq_len + 1}); use a longer text, a smaller "
                         f"batch_size or a shorter seq_len")
    return steps


def stream_dataset(ids: np.ndarray, seq_len: int, batch_size: int, seed: int = 0,
                   epochs: int = 1, first_epoch: int = 0) -> tf.data.Dataset:
    """Batches of ``(x [B, seq_len], y)`` in which row ``i`` of each batch continues the text
    where row ``i`` of the batch before it stopped: the text cut into ``B`` streams, read in
    order (for training that carries a recurrent state from one window to the next).

    Each epoch starts its streams ``offset`` ids later, ``0 <= offset < seq_len`` drawn from
    ``(seed, epoch)`` alone, so windows fall differently every epoch and a resumed run sees
    the batches it would have.
    """
    ids = _as_ids(ids)
    steps = stream_steps(len(ids), seq_len, batch_size)
    data = tf.constant(ids, dtype=tf.int32)
    stream_starts = tf.range(batch_size, dtype=tf.int64) * ((len(ids) - 1) // batch_size)
    offsets = tf.range(seq_len + 1, dtype=tf.int64)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        offset = tf.random.stateless_uniform([], seed=tf.stack([tf.constant(seed, tf.int64),
                                                                  epoch]),
                                             minval=0, maxval=seq_len, dtype=tf.int64)
        return tf.data.Dataset.range(steps).map(
            lambda k: tf.gather(data, (stream_starts + offset + k * seq_len)[:, None] + offsets))

    ds = tf.data.Dataset.range(first_epoch, max(epochs, first_epoch + 1)).flat_map(epoch_batches)
    return ds.map(lambda w: (w[:, :-1], w[:, 1:])).prefetch(tf.data.AUTOTUNE)


def with_context(train_ids: np.ndarray, val_ids: np.ndarray, context: int) -> np.ndarray:
    """The last ``context`` training ids followed by the held-out ids (input to scoring)."""
    train_ids, val_ids = _as_ids(train_ids), _as_ids(val_ids)
    if len(train_ids) < context:
        raise ValueError(
            f"need {context} ids of context but the training text has {len(train_ids)}"
        )
    return np.concatenate([train_ids[len(train_ids) - context:], val_ids])


def scoring_windows(ids: np.ndarray, context: int,
                    stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, y, mask)`` that score every id after the first ``context`` exactly once.

    Window ``k`` covers ids ``[k*stride, k*stride + context + stride)``; x is all but its last id,
    y all but its first, and the mask (float32) is 1 on y's last ``stride`` positions, so each
    scored id has at least ``context`` ids before it. The last window is zero-padded, mask 0.
    """
    ids = _as_ids(ids)
    if context < 1 or stride < 1:
        raise ValueError(f"context and stride must be at least 1, got {context} and {stride}")
    held_out = len(ids) - context
    if held_out < 1:
        raise ValueError(
            f"{len(ids)} ids hold nothing to score after {context} ids of context; "
            "pass the context followed by the held-out ids"
        )
    count = math.ceil(held_out / stride)
    width = context + stride
    index = np.arange(count)[:, None] * stride + np.arange(width)[None, :]  # [count, width]
    padded = np.zeros(index.max() + 1, dtype=np.int32)
    padded[: len(ids)] = ids
    tokens = padded[index]
    scored = (index[:, 1:] < len(ids)) & (np.arange(1, width) >= context)[None, :]
    return tokens[:, :-1], tokens[:, 1:], scored.astype(np.float32)


def scoring_dataset(ids: np.ndarray, context: int, stride: int,
                    batch_size: int) -> tf.data.Dataset:
    """Batches of ``(x, y, mask)`` from :func:`scoring_windows`, in text order."""
    x, y, mask = scoring_windows(ids, context, stride)
    ds = tf.data.Dataset.from_tensor_slices((x, y, mask)).batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)
