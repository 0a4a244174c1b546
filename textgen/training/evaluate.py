"""Held-out bits per character: every held-out character, each with enough context before it."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from textgen.corpus.dataset import scoring_dataset


def held_out_bpc(model: keras.Model, ids: np.ndarray, context: int, stride: int,
                 batch_size: int) -> float:
    """Mean bits per held-out character. ``ids`` is ``context`` chars of lead-in, then the split."""
    score = _scorer(model)
    nats, count = 0.0, 0.0
    for x, y, mask in scoring_dataset(ids, context, stride, batch_size):
        batch_nats, batch_count = score(x, y, mask)
        nats += float(batch_nats)
        count += float(batch_count)
    return nats / max(count, 1.0) / math.log(2.0)


def _scorer(model: keras.Model):
    scorer = getattr(model, "_textgen_scorer", None)
    if scorer is None:
        @tf.function(reduce_retracing=True)
        def scorer(x, y, mask):
            logits = tf.cast(model(x, training=False), tf.float32)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            mask = tf.cast(mask, tf.float32)
            return tf.reduce_sum(nll * mask), tf.reduce_sum(mask)
        model._textgen_scorer = scorer
    return scorer
