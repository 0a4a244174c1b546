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

Defaults (segment 50, stride 50, lr 2e-3, decay 0.01) were chosen on the first 15,000
held-out characters with an LSTM 256 (static 1.981 there): lr 1e-3, 2e-3, 3e-3 gave -0.020,
-0.022, -0.013 bpc, lr 1e-2 +0.18; segment 20 no better than 50 at twice the cost; segments of
200 or 400 (several windows a batch, one update) only -0.003 to -0.011 though 2-4x cheaper;
adapting on the whole window (context included) -0.018; Krause's tiny ``eps`` worse than
static at every rate.

Cost: one forward and backward pass of a ``[segment / stride, context + stride]`` batch per
segment (the steps cannot be batched across segments: each depends on the previous), plus
``calibration_windows`` such passes on training text. With the defaults that is 1,200 passes
of a 110-character window over Nietzsche's held-out 60,089 characters.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from textgen.baselines.mixture import NgramMix
from textgen.corpus.dataset import scoring_windows
from textgen.model import mixture_of, network
from textgen.spec.schema import EvaluationSpec


def _loss(model: keras.Model, x: tf.Tensor, y: tf.Tensor, mask: tf.Tensor,
          ngram: tuple[NgramMix, tf.Tensor] | None = None) -> tuple:
    """Masked nats, count and mean; with ``ngram`` = (the mixture, the n-gram's probability of
    each ``y``) the nats are the mixture's."""
    logits = tf.cast(model(x, training=False), tf.float32)
    nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    if ngram is not None:
        mixture, p = ngram
        nll = -tf.math.log(mixture.blend(tf.exp(-nll), p))
    nats, count = tf.reduce_sum(nll * mask), tf.reduce_sum(mask)
    return nats, count, nats / tf.maximum(count, 1.0)


def _dense(grads: list) -> list[tf.Tensor]:
    return [tf.convert_to_tensor(g) for g in grads]  # the embedding's IndexedSlices


def mean_square_gradients(model: keras.Model, train_ids: np.ndarray, context: int,
                          stride: int, per_update: int, batches: int,
                          seed: int) -> list[tf.Tensor]:
    """Mean squared gradient of training segments shaped like the scoring ones: ``batches``
    draws of ``per_update`` random windows of ``context + stride`` characters."""
    width = context + stride + 1
    if len(train_ids) < width:
        raise ValueError(f"dynamic evaluation needs a training text of at least {width} "
                         f"characters (context + stride + 1), got {len(train_ids)}")
    weights = model.trainable_weights
    starts = np.random.default_rng(seed).integers(0, len(train_ids) - width + 1,
                                                  size=(batches, per_update))
    mask = tf.constant(np.broadcast_to(np.arange(width - 1) >= context,
                                       (per_update, width - 1)).astype(np.float32))

    @tf.function
    def square_grad(x, y):
        with tf.GradientTape() as tape:
            loss = _loss(model, x, y, mask)[2]
        return [tf.square(g) for g in _dense(tape.gradient(loss, weights))]

    total = [tf.zeros_like(w) for w in weights]
    for row in starts:
        w = train_ids[row[:, None] + np.arange(width)].astype(np.int32)
        total = [t + g for t, g in zip(total, square_grad(w[:, :-1], w[:, 1:]), strict=True)]
    return [t / batches for t in total]


def dynamic_scores(model: keras.Model, ids: np.ndarray, train_ids: np.ndarray, context: int,
                   segment: int = 50, stride: int = 50, learning_rate: float = 2e-3,
                   decay: float = 0.01, calibration_windows: int = 64, seed: int = 0,
                   ngram_recount: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Nats and character count of each segment, scored in order, adapting after each.

    ``ids`` is ``context`` characters of lead-in then the held-out ids, as for ``val_bpc``. A
    segment is ``segment // stride`` consecutive scoring windows, scored as one batch: each
    window scores ``stride`` characters after ``context`` ones. The model's weights are the same
    afterwards as before. A model mixed with an n-gram adapts that too: the n-gram counts the
    held-out text read so far, again every ``ngram_recount`` characters (0: never).
    """
    if segment % stride:
        raise ValueError(f"the dynamic segment ({segment}) must be a multiple of its stride "
                         f"({stride})")
    per_update = segment // stride
    mixture, net = mixture_of(model), network(model)
    weights = net.trainable_weights
    static = [tf.identity(w) for w in weights]
    try:  # calibrated on the network's own loss: the n-gram has seen the training text
        ms = mean_square_gradients(net, train_ids, context, stride, per_update,
                                   calibration_windows, seed)
        rms = [tf.sqrt(m) for m in ms]
        mean_rms = tf.add_n([tf.reduce_sum(r) for r in rms]) / sum(int(tf.size(r)) for r in rms)
        pull = [decay * tf.minimum(r / mean_rms, 1.0 / decay) if decay > 0 else tf.zeros_like(r)
                for r in rms]
        scale = [learning_rate / (r + mean_rms) for r in rms]

        @tf.function
        def score_then_adapt(x, y, mask, p_ngram):
            with tf.GradientTape() as tape:
                nats, count, loss = _loss(net, x, y, mask, None if mixture is None
                                          else (mixture, p_ngram))
            grads = _dense(tape.gradient(loss, weights))
            for w, g, s, p, w0 in zip(weights, grads, scale, pull, static, strict=True):
                w.assign_sub(s * g - p * (w0 - w))
            return nats, count

        x, y, mask = scoring_windows(ids, context, stride)
        p_ngram = _ngram_probs(mixture, ids, context, stride, ngram_recount)
        pad = -len(x) % per_update  # whole batches: one traced shape; padding scores nothing
        x, y, mask, p_ngram = (np.concatenate([a, np.zeros((pad, a.shape[1]), a.dtype)])
                               for a in (x, y, mask, p_ngram))
        updates = len(x) // per_update
        nats, counts = np.zeros(updates), np.zeros(updates)
        for k in range(updates):
            rows = slice(k * per_update, (k + 1) * per_update)
            n, c = score_then_adapt(x[rows], y[rows], mask[rows], p_ngram[rows])
            nats[k], counts[k] = float(n), float(c)
        return nats, counts
    finally:
        for w, w0 in zip(weights, static, strict=True):
            w.assign(w0)


def _ngram_probs(mixture: NgramMix | None, ids: np.ndarray, context: int, stride: int,
                 recount: int) -> np.ndarray:
    """The n-gram's probability of each target of :func:`scoring_windows`, shaped like its
    ``y`` (the network's updates never change it, so it is looked up once, counting the text
    read so far every ``recount`` characters); ones without a mixture."""
    p = np.ones(len(ids), np.float32)  # p[0] (never a target) also stands for the padding
    if mixture is not None:  # every target has >= context ids before it
        p[context:] = mixture.next_probs(ids, context, recount)
    _, targets, _ = scoring_windows(np.arange(len(ids)), context, stride)  # their positions
    return p[targets]


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
                       stride=d.stride, learning_rate=d.learning_rate, decay=d.decay,
                       calibration_windows=d.calibration_windows, seed=seed,
                       ngram_recount=d.ngram_recount)
