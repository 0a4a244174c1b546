"""Dynamic evaluation (Krause et al. 2018): a model that keeps learning while it is scored.

The held-out text is read in order, one segment at a time. Each segment is first scored with
the weights as they are (every character once, with at least ``context`` characters before it:
the same windows as the static ``val_bpc``), and only then the weights take one step on that
segment's loss. So no character is ever scored by weights that saw it, and the figure is
comparable with an adaptive compressor's. The update is Krause et al.'s "RMS with a global
prior" rule::

    theta <- theta - lr * g / (rms + mean_rms) + decay * min(rms / mean_rms, 1 / decay)
                                                  * (theta_static - theta)

where ``g`` is the gradient of the segment's mean loss, ``rms`` the root mean square gradient
of single training windows of the same shape (measured once, before scoring) and ``mean_rms``
its mean over all weights: weights that move more in training also return to the static model
faster. Krause et al. divide by ``rms + eps`` with a tiny ``eps``; here a weight that the
calibration windows barely moved (the embedding of a rare character) would then take a huge
step, which made every setting worse than static, so the floor is the mean RMS instead. The
model's weights are restored afterwards: generation and saving use the static model.

Defaults (segment 50, lr 2e-3, decay 0.01) were chosen on the first 15,000 held-out
characters with the LSTM 256 model: lr 1e-3 -> 2e-3 -> 3e-3 gave -0.020, -0.022, -0.013 bpc;
segment 20 was no better than 50 at twice the cost; adapting on the whole window (context
included) and a tiny ``eps`` were worse.

Cost: one forward and backward pass of a ``[1, context + segment]`` window per segment (the
steps cannot be batched: each depends on the previous), plus ``calibration_windows`` passes.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from textgen.corpus.dataset import scoring_windows
from textgen.spec.schema import EvaluationSpec


def _loss(model: keras.Model, x: tf.Tensor, y: tf.Tensor, mask: tf.Tensor) -> tuple:
    logits = tf.cast(model(x, training=False), tf.float32)
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    nats, count = tf.reduce_sum(nll * mask), tf.reduce_sum(mask)
    return nats, count, nats / tf.maximum(count, 1.0)


def _dense(grads: list) -> list[tf.Tensor]:
    return [tf.convert_to_tensor(g) for g in grads]  # the embedding's IndexedSlices


def mean_square_gradients(model: keras.Model, train_ids: np.ndarray, context: int,
                          segment: int, windows: int, seed: int) -> list[tf.Tensor]:
    """Mean squared gradient of single training windows shaped like the scoring ones."""
    width = context + segment + 1
    if len(train_ids) < width:
        raise ValueError(f"dynamic evaluation needs a training text of at least {width} "
                         f"characters (context + segment + 1), got {len(train_ids)}")
    weights = model.trainable_weights
    starts = np.random.default_rng(seed).integers(0, len(train_ids) - width + 1, size=windows)
    mask = tf.constant((np.arange(width - 1) >= context)[None, :].astype(np.float32))

    @tf.function
    def square_grad(x, y):
        with tf.GradientTape() as tape:
            loss = _loss(model, x, y, mask)[2]
        return [tf.square(g) for g in _dense(tape.gradient(loss, weights))]

    total = [tf.zeros_like(w) for w in weights]
    for s in starts:
        w = train_ids[s:s + width][None, :].astype(np.int32)
        total = [t + g for t, g in zip(total, square_grad(w[:, :-1], w[:, 1:]), strict=True)]
    return [t / windows for t in total]


def dynamic_scores(model: keras.Model, ids: np.ndarray, train_ids: np.ndarray, context: int,
                   segment: int = 50, learning_rate: float = 2e-3, decay: float = 0.01,
                   calibration_windows: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Nats and character count of each segment, scored in order, adapting after each.

    ``ids`` is ``context`` characters of lead-in then the held-out ids, as for ``val_bpc``.
    The model's weights are the same afterwards as before.
    """
    weights = model.trainable_weights
    static = [tf.identity(w) for w in weights]
    try:
        ms = mean_square_gradients(model, train_ids, context, segment, calibration_windows,
                                   seed)
        rms = [tf.sqrt(m) for m in ms]
        mean_rms = tf.add_n([tf.reduce_sum(r) for r in rms]) / sum(int(tf.size(r)) for r in rms)
        pull = [decay * tf.minimum(r / mean_rms, 1.0 / decay) if decay > 0 else tf.zeros_like(r)
                for r in rms]
        scale = [learning_rate / (r + mean_rms) for r in rms]

        @tf.function
        def score_then_adapt(x, y, mask):
            with tf.GradientTape() as tape:
                nats, count, loss = _loss(model, x, y, mask)
            grads = _dense(tape.gradient(loss, weights))
            for w, g, s, p, w0 in zip(weights, grads, scale, pull, static, strict=True):
                w.assign_sub(s * g - p * (w0 - w))
            return nats, count

        x, y, mask = scoring_windows(ids, context, segment)
        nats, counts = np.zeros(len(x)), np.zeros(len(x))
        for k in range(len(x)):
            n, c = score_then_adapt(x[k:k + 1], y[k:k + 1], mask[k:k + 1])
            nats[k], counts[k] = float(n), float(c)
        return nats, counts
    finally:
        for w, w0 in zip(weights, static, strict=True):
            w.assign(w0)


def dynamic_bpc(model: keras.Model, ids: np.ndarray, train_ids: np.ndarray, context: int,
                **settings) -> float:
    """Held-out bits per character under dynamic evaluation (see :func:`dynamic_scores`)."""
    nats, counts = dynamic_scores(model, ids, train_ids, context, **settings)
    return float(nats.sum() / max(counts.sum(), 1.0) / math.log(2.0))


def spec_dynamic_bpc(model: keras.Model, train_ids: np.ndarray, scoring_ids: np.ndarray,
                     evaluation: EvaluationSpec, seed: int) -> float | None:
    """``val_bpc_dynamic`` as a spec's ``evaluation.dynamic`` asks; None when it is off."""
    d = evaluation.dynamic
    if d is None:
        return None
    return dynamic_bpc(model, scoring_ids, train_ids, evaluation.context, segment=d.segment,
                       learning_rate=d.learning_rate, decay=d.decay,
                       calibration_windows=d.calibration_windows, seed=seed)
