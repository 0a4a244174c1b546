"""Beam search and stochastic beam search, each one compiled loop batched over prompts.

Every prompt keeps ``width`` hypotheses; each step expands all of them by every character
(``width * vocab`` candidates per prompt), keeps the best, and reorders the model's cache by
beam with one gather. Hypotheses that end (a stop string, or the last step) move to a pool of
the ``n_best`` finished ones, ranked by score:

- beam search: ``total log-prob / length ** length_penalty`` (transformers' ``BeamHypotheses``
  rule; the length counts generated characters). Without stop strings every hypothesis has the
  same length and the penalty changes nothing.
- stochastic beam search (Kool, Van Hoof and Welling 2019, "Stochastic Beams and Where to Find
  Them"): candidates are ranked by Gumbel perturbations of their log-probabilities, each
  conditioned on its parent's perturbed value (the paper's appendix B, numerically stable
  form). The ``n_best`` finished sequences are then a sample *without replacement* from the
  model's distribution over sequences, in the order of a Plackett-Luce draw.

The noise is counter-based (``noise.uniform``) from each prompt row's seed, so a row's samples
depend on its own seed only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from textgen.generation.noise import uniform
from textgen.generation.stops import StopAutomaton
from textgen.model import initial_cache, step_logits

Cache = tuple[Any, ...]
StepFn = Callable[[Any, Cache], tuple[Any, Cache]]
NEG_INF = float("-inf")


@dataclass
class Beams:
    """The ``n`` best finished hypotheses of each prompt row, best first.

    ``lengths`` counts the characters kept (a stop string is cut off); rows whose pool could
    not be filled have ``logprob = -inf`` in the unfilled places.
    """

    tokens: np.ndarray         # [batch, n, length] int32 (only the first ``lengths`` count)
    lengths: np.ndarray        # [batch, n] int32
    stopped: np.ndarray        # [batch, n] bool: ended at a stop string
    logprob: np.ndarray        # [batch, n] total ln p of the kept characters
    score: np.ndarray          # [batch, n] the ranking: normalised log-prob, or perturbed
    token_logprob: np.ndarray  # [batch, n, length] ln p of each character under the model
    model_entropy: np.ndarray  # [batch, n, length] bits, of the model's distribution


def _log1mexp(a: tf.Tensor) -> tf.Tensor:
    """``log(1 - exp(a))`` for ``a <= 0``, accurate at both ends (Maechler 2012)."""
    return tf.where(a > -math.log(2.0), tf.math.log(-tf.math.expm1(a)),
                    tf.math.log1p(-tf.exp(a)))


def conditioned_gumbel(parent: tf.Tensor, children: tf.Tensor) -> tf.Tensor:
    """Perturbed children ``G_i`` (``[..., V]``) shifted so their maximum is ``parent``
    (``[...]``): ``-log(exp(-T) - exp(-Z) + exp(-G_i))`` in Kool et al.'s stable form."""
    z = tf.reduce_max(children, axis=-1, keepdims=True)
    t = parent[..., None]
    v = t - children + _log1mexp(tf.minimum(children - z, 0.0))
    shifted = t - tf.nn.relu(v) - tf.math.log1p(tf.exp(-tf.abs(v)))
    return tf.where(tf.math.is_finite(t) & tf.math.is_finite(children), shifted, NEG_INF)


def _gather_beams(x: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """``x[b, index[b, k]]`` for ``x`` ``[batch, beams, ...]`` and ``index`` ``[batch, k]``."""
    return tf.gather(x, index, batch_dims=1)


class BeamDecoder:
    """Compiles (stochastic) beam search for one model and fixed settings.

    ``step(ids [rows], cache) -> (logits [rows, vocab], cache)`` and ``initial_cache(rows)``
    describe the model; :meth:`for_model` takes them from a textgen model.
    """

    def __init__(self, step: StepFn, initial_cache: Callable[[Any], Cache], vocab_size: int,
                 width: int, n_best: int, length_penalty: float = 1.0,
                 stochastic: bool = False, jit_compile: bool = True) -> None:
        if not 1 <= n_best <= width:
            raise ValueError(f"n_best must be between 1 and the beam width {width}, "
                             f"got {n_best}")
        self.step, self.initial_cache = step, initial_cache
        self.vocab_size, self.width, self.n_best = int(vocab_size), int(width), int(n_best)
        self.length_penalty, self.stochastic = float(length_penalty), bool(stochastic)
        self._fn = tf.function(self._decode, jit_compile=jit_compile)

    @classmethod
    def for_model(cls, model: keras.Model, **settings: Any) -> BeamDecoder:
        return cls(lambda ids, cache: step_logits(model, ids, cache),
                   lambda rows: initial_cache(model, rows),
                   int(model.output_shape[-1]), **settings)

    def __call__(self, prompt_ids: np.ndarray, seeds: np.ndarray, length: int,
                 stops: StopAutomaton | None = None) -> Beams:
        """Decode ``length`` characters after each row of ``prompt_ids`` ``[batch, >= 1]``."""
        prompt = np.asarray(prompt_ids, np.int32)
        if prompt.ndim != 2 or prompt.shape[1] == 0:
            raise ValueError(f"prompt_ids must be [batch, prompt_len >= 1], got {prompt.shape}")
        if stops is None:
            table, match = np.zeros((1, self.vocab_size), np.int32), np.zeros(1, np.int32)
        else:
            table, match = stops.table, stops.match
        out = self._fn(tf.constant(prompt), tf.constant(np.asarray(seeds, np.int64) & 0xFFFFFFFF),
                       tf.constant(table), tf.constant(match), int(length))
        return Beams(*(t.numpy() for t in out))

    def _decode(self, prompt, seeds, stop_table, stop_match, length: int):
        w, n, v = self.width, self.n_best, self.vocab_size
        batch = prompt.shape[0]  # static: one compiled program per batch size
        k = min(2 * w, w * v)  # candidates kept per step: w can go on if w of them end
        cache = self.initial_cache(batch)

        def prefill(i, cache):
            _, cache = self.step(prompt[:, i], cache)
            return i + 1, cache

        _, cache = tf.while_loop(lambda i, _: i < tf.shape(prompt)[1] - 1, prefill, (0, cache))
        cache = tuple(tf.repeat(c, w, axis=0) for c in cache)  # row b's beams are b*w .. b*w+w-1
        first = tf.concat([tf.zeros([batch, 1]), tf.fill([batch, w - 1], NEG_INF)], axis=1)
        zeros_h = tf.zeros([batch, w, length])
        alive = dict(logprob=first, key=first, stop=tf.zeros([batch, w], tf.int32),
                     tokens=tf.zeros([batch, w, length], tf.int32), lp=zeros_h, ent=zeros_h)
        pool = dict(score=tf.fill([batch, n], NEG_INF), logprob=tf.fill([batch, n], NEG_INF),
                    cut=tf.zeros([batch, n], tf.int32), length=tf.zeros([batch, n], tf.int32),
                    tokens=tf.zeros([batch, n, length], tf.int32),
                    lp=tf.zeros([batch, n, length]), ent=tf.zeros([batch, n, length]))
        row_seeds = tf.repeat(seeds, w)
        slot = tf.tile(tf.range(w), [batch])
        last = tf.repeat(prompt[:, -1], w)

        def body(t, last, cache, alive, pool):
            logits, cache = self.step(last, cache)
            logp = tf.reshape(tf.nn.log_softmax(tf.cast(logits, tf.float32)), [batch, w, v])
            p = tf.exp(logp)
            entropy = -tf.reduce_sum(tf.where(p > 0, p * logp, 0.0), -1) / math.log(2.0)
            total = alive["logprob"][..., None] + logp  # [batch, w, v]
            if self.stochastic:
                u = uniform(row_seeds, t * w + slot, v)
                perturbed = total + tf.reshape(-tf.math.log(-tf.math.log(u)), [batch, w, v])
                key = conditioned_gumbel(alive["key"], perturbed)
            else:
                key = tf.where(tf.math.is_finite(alive["logprob"])[..., None], total, NEG_INF)
            top_key, index = tf.math.top_k(tf.reshape(key, [batch, w * v]), k)
            beam, token = index // v, index % v
            cand_logprob = tf.gather(tf.reshape(total, [batch, w * v]), index, batch_dims=1)
            cand_lp = tf.gather(tf.reshape(logp, [batch, w * v]), index, batch_dims=1)
            stop = tf.gather(tf.reshape(stop_table, [-1]),
                             _gather_beams(alive["stop"], beam) * v + token)
            cut = tf.gather(stop_match, stop)
            ends = (cut > 0) | (t == length - 1)
            onehot = tf.one_hot(t, length, dtype=tf.float32)
            hist_tokens = (_gather_beams(alive["tokens"], beam)
                           + token[..., None] * tf.cast(onehot, tf.int32))
            hist_lp = _gather_beams(alive["lp"], beam) + cand_lp[..., None] * onehot
            hist_ent = (_gather_beams(alive["ent"], beam)
                        + _gather_beams(entropy, beam)[..., None] * onehot)

            # Finished: into the pool by score; keep the pool's n best.
            if self.stochastic:
                score = top_key
            else:
                score = cand_logprob / tf.cast(t + 1, tf.float32) ** self.length_penalty
            score = tf.where(ends & tf.math.is_finite(top_key), score, NEG_INF)
            merged = tf.concat([pool["score"], score], axis=1)
            best_score, pick = tf.math.top_k(merged, n)
            both = dict(logprob=(pool["logprob"], cand_logprob), cut=(pool["cut"], cut),
                        length=(pool["length"], tf.fill([batch, k], t + 1)),
                        tokens=(pool["tokens"], hist_tokens), lp=(pool["lp"], hist_lp),
                        ent=(pool["ent"], hist_ent))
            pool = {name: _gather_beams(tf.concat(pair, axis=1), pick)
                    for name, pair in both.items()}
            pool["score"] = best_score

            # Alive: the w best that did not end.
            go_key = tf.where(ends, NEG_INF, top_key)
            new_key, keep = tf.math.top_k(go_key, w)
            chosen = _gather_beams(beam, keep)
            alive = dict(key=new_key,
                         logprob=tf.where(tf.math.is_finite(new_key),
                                          _gather_beams(cand_logprob, keep), NEG_INF),
                         stop=_gather_beams(stop, keep), tokens=_gather_beams(hist_tokens, keep),
                         lp=_gather_beams(hist_lp, keep), ent=_gather_beams(hist_ent, keep))
            rows = tf.reshape(chosen + tf.range(batch)[:, None] * w, [-1])
            cache = tuple(tf.gather(c, rows) for c in cache)
            last = tf.reshape(_gather_beams(token, keep), [-1])
            return t + 1, last, cache, alive, pool

        *_, pool = tf.while_loop(lambda t, *_: t < length, body, (0, last, cache, alive, pool))
        kept = pool["length"] - pool["cut"]
        mask = tf.sequence_mask(kept, length, dtype=tf.float32)
        logprob = tf.reduce_sum(pool["lp"] * mask, -1)
        logprob = tf.where(tf.math.is_finite(pool["logprob"]), logprob, NEG_INF)
        return (pool["tokens"] * tf.cast(mask, tf.int32), kept, pool["cut"] > 0, logprob,
                pool["score"], pool["lp"] * mask, pool["ent"] * mask)
