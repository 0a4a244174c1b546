"""The network interpolated with a Kneser-Ney n-gram, as one Keras layer of the model.

    p(w | history) = weight * p_network(w | history) + (1 - weight) * p_ngram(w | last order-1)

The classic hybrid (Mikolov's RNN language models were reported interpolated with a KN 5-gram):
the n-gram remembers long exact strings of the training text, which a network of a million
weights cannot, and the network generalises where the n-gram backs off. On Nietzsche it gains
0.04-0.07 held-out bpc whatever the network (docs/performance.md). The layer stores the training
text's ids (one int32 weight, 2.2 MB for Nietzsche) and counts the n-grams from them when it is
built or loaded (~0.1 s with NumPy), so a saved model is whole without ~15-55 MB of counts.
Its output is log-probabilities, which every consumer of logits (scoring, dynamic evaluation,
samplers, beam search) takes as they are.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from textgen.baselines.ngram import adaptive_probability, check_order, count_levels

CHUNK = 2048  # rows mixed at a time: read whole, 64 x 460 characters took ~100 MB more


class NgramTables:
    """A Kneser-Ney model's counts as tensors: next-character distributions for a batch of
    histories inside a compiled graph (XLA included), the same estimate as
    :class:`textgen.baselines.ngram.KneserNey` in float32."""

    def __init__(self, ids: np.ndarray, vocab_size: int, order: int) -> None:
        self.vocab_size, self.order = vocab_size, order
        self.levels = []
        for lv in count_levels(ids, vocab_size, order):
            if not len(lv.keys):  # a text shorter than the order: no longer n-grams either
                break
            self.levels.append((tf.constant(lv.keys), tf.constant(lv.counts.astype(np.float32)),
                                tf.constant(lv.discounts.astype(np.float32))))

    def probs(self, history: tf.Tensor) -> tf.Tensor:
        """``history`` ``[n, order - 1]`` int32 ids, most recent last, -1 before the text ->
        ``[n, vocab]`` next-character probabilities."""
        v = self.vocab_size
        n = tf.shape(history)[0]
        p = tf.fill([n, v], 1.0 / v)
        ctx = tf.zeros([n], tf.int64)
        valid = tf.ones([n], tf.bool)
        rows = tf.range(n, dtype=tf.int64)[:, None] * v
        for k, (keys, counts, discounts) in enumerate(self.levels, start=1):
            if k > 1:  # prepend the next older character to every context
                older = tf.cast(history[:, -(k - 1)], tf.int64)
                valid &= older >= 0
                ctx += tf.where(valid, older, 0) * v ** (k - 2)
            count = _rows(keys, counts, ctx * v, v, rows)
            # C(h) and D1 N1(h.) + D2 N2(h.) + D3 N3+(h.) are sums over the context's row
            discount = tf.gather(discounts, tf.cast(tf.minimum(count, 3.0), tf.int32))
            total = tf.reduce_sum(count, axis=1, keepdims=True)
            backoff = tf.reduce_sum(discount, axis=1, keepdims=True)
            seen = valid[:, None] & (total > 0)
            p = tf.where(seen, (tf.maximum(count - discount, 0.0) + backoff * p)
                         / tf.where(seen, total, 1.0), p)
        return p


def _search(keys: tf.Tensor, query: tf.Tensor) -> tf.Tensor:
    """``tf.searchsorted(keys, query)`` (left) as a fixed number of halvings: XLA lowers
    searchsorted by comparing every query with every key (90 GB for the held-out text)."""
    n = int(keys.shape[0])

    def halve(i, lo, hi):
        mid = (lo + hi) // 2
        below = tf.gather(keys, tf.minimum(mid, n - 1)) < query
        return i + 1, tf.where(below, mid + 1, lo), tf.where(below, hi, mid)

    lo, hi = tf.zeros_like(query, dtype=tf.int32), tf.fill(tf.shape(query), n)
    _, lo, _ = tf.while_loop(lambda i, lo, hi: i < max(n, 1).bit_length(), halve, (0, lo, hi))
    return lo


def _rows(keys: tf.Tensor, counts: tf.Tensor, first: tf.Tensor, v: int,
          rows: tf.Tensor) -> tf.Tensor:
    """``[n, v]`` counts of the codes ``first[j] + w`` for every w: the n-grams sharing a
    context lie side by side in the sorted ``keys``, so one search finds each row's run."""
    start = _search(keys, first)
    at = start[:, None] + tf.range(v, dtype=start.dtype)[None, :]
    past = at >= tf.size(keys, out_type=at.dtype)
    at = tf.where(past, 0, at)
    w = tf.gather(keys, at) - first[:, None]
    inside = ~past & (w >= 0) & (w < v)
    values = tf.where(inside, tf.gather(counts, at), 0.0)
    slots = rows + tf.where(inside, w, 0)
    n = tf.shape(first, out_type=tf.int64)[0]
    return tf.reshape(tf.math.unsorted_segment_sum(values, slots, n * v), [-1, v])


@keras.saving.register_keras_serializable(package="textgen")
class NgramMix(keras.layers.Layer):
    """``(logits [batch, time, vocab], ids [batch, time])`` -> the mixture's log-probabilities
    of the character after each id. Set the training text with :meth:`set_text` (a loaded
    model has it already); the n-gram counts follow it."""

    def __init__(self, vocab_size: int, order: int, weight: float, text_length: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_order(order, vocab_size)
        if order < 2:
            raise ValueError(f"a mixed n-gram needs order >= 2 (a context), got {order}")
        if not 0.0 < weight < 1.0:
            raise ValueError(f"the network's weight in the mixture must be in (0, 1), got "
                             f"{weight}")
        self.vocab_size, self.order, self.weight = int(vocab_size), int(order), float(weight)
        self.text_length = int(text_length)
        self._tables: NgramTables | None = None  # counted on first use: training needs none
        self._has_text = False
        self.text = self.add_weight(name="text", shape=(self.text_length,), dtype="int32",
                                    initializer="zeros", trainable=False)

    def set_text(self, ids: np.ndarray) -> None:
        """The training text's ids, from which the n-grams are counted."""
        ids = np.asarray(ids, dtype=np.int32)
        if ids.shape != (self.text_length,):
            raise ValueError(f"the mixture was built for a {self.text_length}-character text, "
                             f"got {ids.shape}")
        self.text.assign(ids)
        self._tables, self._has_text = None, True

    def load_own_variables(self, store: Any) -> None:
        super().load_own_variables(store)
        self._tables, self._has_text = None, True

    def _text_ids(self) -> np.ndarray:
        if not self._has_text:
            raise ValueError("the n-gram mixture has no training text: call set_text first")
        with tf.init_scope():  # eager even while a tf.function is being traced
            return np.asarray(self.text.numpy())

    @property
    def tables(self) -> NgramTables:
        """The counts as tensors, for whole next-character distributions."""
        if self._tables is None:
            ids = self._text_ids()
            with tf.init_scope():  # constants outside any graph being traced
                self._tables = NgramTables(ids, self.vocab_size, self.order)
        return self._tables

    def blend(self, p_network: Any, p_ngram: Any) -> Any:
        """The mixture's probability from the two models' (NumPy arrays or tensors alike)."""
        return self.weight * p_network + (1.0 - self.weight) * p_ngram

    def release_tables(self) -> None:
        """Free the tensors of counts; the next whole distribution counts them again."""
        self._tables = None

    def next_probs(self, ids: np.ndarray, start: int, recount: int = 0) -> np.ndarray:
        """The n-gram's probability of each of ``ids[start:]`` given the ids before it, in
        NumPy: scoring a known text needs one entry a character, not a whole distribution.
        With ``recount`` > 0 it also counts the ids it has read since ``start``, again every
        ``recount`` characters (adaptive, as a compressor reads; for dynamic evaluation)."""
        # One block of every position, without recount: the training counts alone. Counted
        # again each call (~0.1 s) rather than 15-55 MB kept.
        every = recount or max(len(ids) - start, 1)
        return adaptive_probability(self._text_ids(), ids, start, self.vocab_size, self.order,
                                    every)

    def history(self, ids: Any) -> Any:
        """``[batch, time, order - 1]``: the ids up to each position, most recent last."""
        ids = tf.cast(ids, tf.int32)
        padded = tf.pad(ids, [[0, 0], [self.order - 2, 0]], constant_values=-1)
        time = tf.shape(ids)[1]
        return tf.stack([padded[:, j:j + time] for j in range(self.order - 1)], axis=-1)

    def mix(self, logits: Any, history: Any) -> Any:
        """Log-probabilities ``[n, vocab]`` from the network's ``logits`` ``[n, vocab]`` and
        the n-gram's view ``history`` ``[n, order - 1]``, ``CHUNK`` rows at a time."""
        logits = tf.cast(logits, tf.float32)
        if history.shape[0] is not None and history.shape[0] <= CHUNK:
            return self._mix((logits, history))
        n = tf.shape(history)[0]
        pad = -n % CHUNK
        chunks = (tf.reshape(tf.pad(logits, [[0, pad], [0, 0]]), [-1, CHUNK, self.vocab_size]),
                  tf.reshape(tf.pad(history, [[0, pad], [0, 0]], constant_values=-1),
                             [-1, CHUNK, self.order - 1]))
        out = tf.map_fn(self._mix, chunks, fn_output_signature=tf.TensorSpec(
            [CHUNK, self.vocab_size], tf.float32))
        return tf.reshape(out, [-1, self.vocab_size])[:n]

    def _mix(self, pair: tuple) -> Any:
        logits, history = pair
        ngram = self.tables.probs(history)
        network = tf.nn.log_softmax(logits)
        return tf.reduce_logsumexp(tf.stack([network + math.log(self.weight),
                                             tf.math.log(ngram) + math.log1p(-self.weight)]),
                                   axis=0)

    def call(self, logits: Any, ids: Any) -> Any:
        shape = tf.shape(logits)
        flat = self.mix(tf.reshape(logits, [-1, self.vocab_size]),
                        tf.reshape(self.history(ids), [-1, self.order - 1]))
        return tf.reshape(flat, shape)

    def compute_output_shape(self, logits_shape: Any, ids_shape: Any = None) -> tuple:
        return tuple(logits_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocab_size": self.vocab_size, "order": self.order,
                "weight": self.weight, "text_length": self.text_length}
