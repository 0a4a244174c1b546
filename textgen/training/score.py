"""Per-character surprise of whole texts under a model: one compiled, batched forward pass.

Unlike held-out bpc (fixed-context windows over a corpus), every character here is scored with
all of the text before it as context, which is what a reader of one text wants to see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

BUCKET = 64  # pad lengths up to a multiple of this: texts of similar length share one program


def surprise_bits(model: keras.Model, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """For each id sequence, ``-log2 p(ids[i] | ids[:i])`` for ``i >= 1`` (length ``n - 1``).

    The sequences run as one padded batch through one ``tf.function`` (padding comes after the
    text, so a causal model's scores do not change).
    """
    longest = max(len(s) for s in sequences)
    width = max(BUCKET, -(-longest // BUCKET) * BUCKET)
    batch = np.zeros((len(sequences), width), np.int32)
    for row, ids in enumerate(sequences):
        batch[row, :len(ids)] = ids
    nats = _scorer(model)(tf.convert_to_tensor(batch)).numpy()
    return [nats[row, :len(ids) - 1] / math.log(2.0) for row, ids in enumerate(sequences)]


def _scorer(model: keras.Model):
    """The model's compiled scorer, kept on the model so it is traced once per shape."""
    scorer = getattr(model, "_textgen_surprise", None)
    if scorer is None:
        @tf.function(reduce_retracing=True)
        def scorer(ids):
            logits = tf.cast(model(ids[:, :-1], training=False), tf.float32)
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids[:, 1:],
                                                                  logits=logits)
        model._textgen_surprise = scorer
    return scorer
