"""Real text read by the model as if it had written it: the per-character figures the
generation loop records (model entropy, log-probability of each character), for held-out text.

Teacher-forced forward passes over the pieces, 16 at a time, so the report's held-out row gets
its model columns the way the samples got theirs. No sampler drew this text, so it has no
sampling entropy. ``surprise_bits`` is the same pass for the API's ``score``: every character
scored with all of its text before it (unlike held-out bpc's fixed-context windows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from textgen.corpus.vocab import CharVocab
from textgen.model import mixture_of
from textgen.records import Sample

BUCKET = 64  # surprise_bits pads lengths up to a multiple: similar lengths share one program
READ_ROWS = 16  # read_texts' rows per pass: 64 rows of 460 at once peaked ~80 MB higher


def read_texts(model: keras.Model, vocab: CharVocab, pieces: Sequence[tuple[str, str]],
               label: str = "held-out text") -> list[Sample]:
    """One ``Sample`` per (prompt, text) piece, with ``model_entropy`` (bits) and
    ``token_logprob`` (nats) of every character of ``text`` given everything before it."""
    if not pieces:
        return []
    encoded = [vocab.encode(p + t) for p, t in pieces]
    width = max(len(ids) for ids in encoded)
    rows = -(-len(encoded) // READ_ROWS) * READ_ROWS  # whole passes: one traced shape
    batch = np.zeros((rows, width), np.int32)
    for row, ids in enumerate(encoded):
        batch[row, :len(ids)] = ids  # padding after the text cannot change a causal model
    read = [_reader(model)(tf.convert_to_tensor(batch[i:i + READ_ROWS]))
            for i in range(0, rows, READ_ROWS)]
    logprob = np.concatenate([lp.numpy() for lp, _ in read])
    entropy = np.concatenate([h.numpy() for _, h in read])
    out = []
    for row, (prompt, text) in enumerate(pieces):
        steps = slice(len(prompt) - 1, len(prompt) + len(text) - 1)  # predictions of text chars
        out.append(Sample(text=text, prompt=prompt, sampler=label, seed=row,
                          model_entropy=np.maximum(entropy[row, steps], 0).tolist(),
                          token_logprob=logprob[row, steps].tolist()))
    return out


def surprise_bits(model: keras.Model, sequences: Sequence[np.ndarray]) -> list[np.ndarray]:
    """For each id sequence, ``-log2 p(ids[i] | ids[:i])`` for ``i >= 1`` (length ``n - 1``),
    as one padded batch (padding comes after the text: a causal model's scores do not change).
    """
    longest = max(len(s) for s in sequences)
    width = max(BUCKET, -(-longest // BUCKET) * BUCKET)
    batch = np.zeros((len(sequences), width), np.int32)
    for row, ids in enumerate(sequences):
        batch[row, :len(ids)] = ids
    nats = -_reader(model)(tf.convert_to_tensor(batch))[0].numpy()
    return [nats[row, :len(ids) - 1] / math.log(2.0) for row, ids in enumerate(sequences)]


def forget_reader(model: keras.Model) -> None:
    """Drop the model's traced reader and the n-gram tensors it read (rebuilt if needed
    again), so what runs next reuses their memory instead of stacking on it."""
    model._textgen_reader = None
    mixture = mixture_of(model)
    if mixture is not None:
        mixture.release_tables()


def _reader(model: keras.Model):
    """The model's compiled reader, kept on the model so it is traced once per shape."""
    reader = getattr(model, "_textgen_reader", None)
    if reader is None:
        @tf.function(reduce_retracing=True)
        def reader(ids):
            logits = tf.cast(model(ids[:, :-1], training=False), tf.float32)
            logp = tf.nn.log_softmax(logits)
            token = tf.gather(logp, ids[:, 1:], batch_dims=2)
            entropy = -tf.reduce_sum(tf.exp(logp) * logp, axis=-1) / math.log(2.0)
            return token, entropy
        model._textgen_reader = reader
    return reader
