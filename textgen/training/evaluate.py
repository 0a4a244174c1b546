"""Held-out bits per character: every held-out character, each with enough context before it."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from textgen.corpus.dataset import scoring_dataset
from textgen.model import mixture_of, network


def held_out_bpc(model: keras.Model, ids: np.ndarray, context: int, stride: int,
                 batch_size: int) -> float:
    """Mean bits per held-out character. ``ids`` is ``context`` chars of lead-in, then the split."""
    return held_out_scores(model, ids, context, stride, batch_size)["val_bpc"]


def held_out_scores(model: keras.Model, ids: np.ndarray, context: int, stride: int,
                    batch_size: int) -> dict[str, float]:
    """``val_bpc``, and for a model mixed with an n-gram also ``val_bpc_network`` (the network
    alone), from one pass.

    A mixture is scored character by character: the network's probability of each held-out
    character beside the n-gram's (NumPy lookups of the known characters, ~0.1 s, not the
    layer's whole distributions).
    """
    mixture = mixture_of(model)
    if mixture is None:
        score = _scorer(model)
        nats, count = 0.0, 0.0
        for x, y, mask in scoring_dataset(ids, context, stride, batch_size):
            batch_nats, batch_count = score(x, y, mask)
            nats += float(batch_nats)
            count += float(batch_count)
        return {"val_bpc": nats / max(count, 1.0) / math.log(2.0)}
    bits = held_out_bits(network(model), ids, context, stride, batch_size)
    p = mixture.blend(2.0 ** -bits, mixture.next_probs(ids, context))
    return {"val_bpc": float(-np.log2(p).mean()), "val_bpc_network": float(bits.mean())}


def held_out_bits(model: keras.Model, ids: np.ndarray, context: int, stride: int,
                  batch_size: int) -> np.ndarray:
    """Bits of each held-out character in text order, scored as :func:`held_out_bpc` scores
    them (``model`` taken as it is: pass ``network(model)`` for a mixture's network)."""
    score = _scorer(model, per_char=True)
    kept = [tf.boolean_mask(score(x, y, mask), mask > 0).numpy()
            for x, y, mask in scoring_dataset(ids, context, stride, batch_size)]
    return np.concatenate(kept).astype(np.float64) / math.log(2.0)


def _scorer(model: keras.Model, per_char: bool = False):
    """A traced scorer kept on the model: masked nats and count, or each position's nats."""
    attribute = "_textgen_char_scorer" if per_char else "_textgen_scorer"
    scorer = getattr(model, attribute, None)
    if scorer is None:
        @tf.function(reduce_retracing=True)
        def scorer(x, y, mask):
            logits = tf.cast(model(x, training=False), tf.float32)
            nll = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            if per_char:
                return nll
            mask = tf.cast(mask, tf.float32)
            return tf.reduce_sum(nll * mask), tf.reduce_sum(mask)
        setattr(model, attribute, scorer)
    return scorer
