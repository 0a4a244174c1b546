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

With ``carry_state`` (a backbone that carries a state, as training's ``carry_state``) the text
is one stream instead: each segment continues from the state the last one ended in, computed
by the weights of that time, and the gradient stops at the segment's start (Krause et al.'s
own reading). No context is read twice, so a segment of 50 costs 50 sequential steps, not 110;
but the windows of a longer segment run side by side in one batch, so against segments of 200
(four windows) the stream takes more steps. On nietzsche_fast's LSTM 512 (static 1.7669):
windows of segment 200 at lr 4e-3 1.7267; the stream, segment 50 at 2.5e-3, 1.7246 for ~1.45x
the time (docs/performance.md, "Tries of 2026-12-08").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from textgen.baselines.mixture import NgramMix
from textgen.corpus.dataset import scoring_windows
from textgen.model import mixture_of, network, parts
from textgen.spec.schema import EvaluationSpec


def _loss(model: keras.Model, x: tf.Tensor, y: tf.Tensor, mask: tf.Tensor,
          ngram: tuple[NgramMix, tf.Tensor] | None = None) -> tuple:
    """Masked nats, count and mean of ``model``'s predictions from ``x`` (see :func:`_nats`)."""
    return _nats(model(x, training=False), y, mask, ngram)


def _nats(logits: tf.Tensor, y: tf.Tensor, mask: tf.Tensor,
          ngram: tuple[NgramMix, tf.Tensor] | None = None) -> tuple:
    """Masked nats, count and mean; with ``ngram`` = (the mixture, the n-gram's probability of
    each ``y``) the nats are the mixture's."""
    logits = tf.cast(logits, tf.float32)
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
                   ngram_recount: int = 500,
                   carry_state: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Nats and character count of each segment, scored in order, adapting after each.

    ``ids`` is ``context`` characters of lead-in then the held-out ids, as for ``val_bpc``. A
    segment is ``segment // stride`` consecutive scoring windows, scored as one batch: each
    window scores ``stride`` characters after ``context`` ones. With ``carry_state`` there are
    no windows: the text is read as one stream, each segment of ``segment`` characters starting
    from the state the last one ended in (``stride`` unused), as Krause et al. read it. The
    model's weights are the same afterwards as before. A model mixed with an n-gram adapts
    that too: the n-gram counts the held-out text read so far, again every ``ngram_recount``
    characters (0: never).
    """
    if not carry_state and segment % stride:
        raise ValueError(f"the dynamic segment ({segment}) must be a multiple of its stride "
                         f"({stride})")
    mixture, net = mixture_of(model), network(model)
    backbone = parts(net)[1]
    if carry_state and not backbone.carries_state:
        raise ValueError(f"{type(backbone).__name__} has no state to carry from one segment "
                         f"to the next")
    weights = net.trainable_weights
    static = [tf.identity(w) for w in weights]
    try:  # calibrated on the network's own loss: the n-gram has seen the training text
        shape = (segment, 1) if carry_state else (stride, segment // stride)
        ms = mean_square_gradients(net, train_ids, context, *shape, calibration_windows, seed)
        rms = [tf.sqrt(m) for m in ms]
        mean_rms = tf.add_n([tf.reduce_sum(r) for r in rms]) / sum(int(tf.size(r)) for r in rms)
        pull = [decay * tf.minimum(r / mean_rms, 1.0 / decay) if decay > 0 else tf.zeros_like(r)
                for r in rms]
        scale = [learning_rate / (r + mean_rms) for r in rms]

        def adapt(loss: tf.Tensor, tape: tf.GradientTape) -> None:
            grads = _dense(tape.gradient(loss, weights))
            for w, g, s, p, w0 in zip(weights, grads, scale, pull, static, strict=True):
                w.assign_sub(s * g - p * (w0 - w))

        p_ngram = (np.ones(len(ids) - context, np.float32) if mixture is None else
                   mixture.next_probs(ids, context, ngram_recount).astype(np.float32))
        if carry_state:
            return _stream(net, mixture, adapt, ids, p_ngram, context, segment)
        return _windows(net, mixture, adapt, ids, p_ngram, context, segment, stride)
    finally:
        for w, w0 in zip(weights, static, strict=True):
            w.assign(w0)


Adapt = Callable[[tf.Tensor, tf.GradientTape], None]  # one step on a segment's mean loss


def _windows(net: keras.Model, mixture: NgramMix | None, adapt: Adapt, ids: np.ndarray,
             p_ngram: np.ndarray, context: int, segment: int,
             stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Each segment as ``segment // stride`` scoring windows, each from a zero state."""
    per_update = segment // stride

    @tf.function
    def score_then_adapt(x, y, mask, p):
        with tf.GradientTape() as tape:
            nats, count, loss = _loss(net, x, y, mask, None if mixture is None else (mixture, p))
        adapt(loss, tape)
        return nats, count

    x, y, mask = scoring_windows(ids, context, stride)
    _, targets, _ = scoring_windows(np.arange(len(ids)), context, stride)  # their positions
    p = np.ones(len(ids), np.float32)  # p[0] (never a target) also stands for the padding
    p[context:] = p_ngram
    p = p[targets]
    pad = -len(x) % per_update  # whole batches: one traced shape; padding scores nothing
    x, y, mask, p = (np.concatenate([a, np.zeros((pad, a.shape[1]), a.dtype)])
                     for a in (x, y, mask, p))
    updates = len(x) // per_update
    nats, counts = np.zeros(updates), np.zeros(updates)
    for k in range(updates):
        rows = slice(k * per_update, (k + 1) * per_update)
        n, c = score_then_adapt(x[rows], y[rows], mask[rows], p[rows])
        nats[k], counts[k] = float(n), float(c)
    return nats, counts


def _stream(net: keras.Model, mixture: NgramMix | None, adapt: Adapt, ids: np.ndarray,
            p_ngram: np.ndarray, context: int, segment: int) -> tuple[np.ndarray, np.ndarray]:
    """The held-out text as one stream of ``segment``-character pieces, each starting from the
    state the last one ended in (no gradient through it); the lead-in only sets the state."""
    embed, backbone, head = parts(net)

    @tf.function
    def score_then_adapt(x, y, mask, p, state):
        with tf.GradientTape() as tape:
            features, last = backbone.run(embed(x), state, training=False)
            nats, count, loss = _nats(head(features), y, mask,
                                      None if mixture is None else (mixture, p))
        adapt(loss, tape)
        return nats, count, last

    state = backbone.initial_cache(1)
    if context > 1:  # the lead-in before the first target's input
        state = backbone.run(embed(ids[None, :context - 1]), state, training=False)[1]
    x, y = ids[context - 1:-1], ids[context:]
    n = len(y)
    pad = -n % segment  # whole segments: one traced shape; padding scores nothing
    x, y = (np.concatenate([a, np.zeros(pad, a.dtype)]).astype(np.int32)[None] for a in (x, y))
    p = np.concatenate([p_ngram, np.ones(pad, np.float32)])[None]
    mask = (np.arange(n + pad) < n).astype(np.float32)[None]
    updates = (n + pad) // segment
    nats, counts = np.zeros(updates), np.zeros(updates)
    for k in range(updates):
        cols = slice(k * segment, (k + 1) * segment)
        a, c, state = score_then_adapt(x[:, cols], y[:, cols], mask[:, cols], p[:, cols], state)
        nats[k], counts[k] = float(a), float(c)
    return nats, counts


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
                       ngram_recount=d.ngram_recount, carry_state=d.carry_state)
