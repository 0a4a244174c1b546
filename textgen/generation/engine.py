"""The compiled decoding loop: prefill the prompt, then one model step and one draw per character.

Everything per character happens inside one ``tf.function`` (XLA where it pays): the model step,
every sampler setting's stages, the Gumbel-max draw, and the entropies the reports need. Rows of
a batch may use different sampler settings; each row draws only from its own setting's logits.
Rows never interact, so a large batch runs as equal shards on one thread per core.

Rows end independently: at the first stop string (an automaton over ids, ``stops.py``) or when a
stage says the row is complete (``stage.finished(state)``, the ``regex`` stage's full match).
``Decoded.finish`` marks the step; later ids are padding, and the loop ends once every row has.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from textgen.generation.noise import gumbel
from textgen.generation.stops import StopAutomaton
from textgen.model import initial_cache, step_logits
from textgen.samplers.base import SamplerChain, entropy_bits
from textgen.samplers.noise import stage_uniform

SHARD_ROWS = 8  # rows per shard at least: smaller shards cost more in threads than they save


@dataclass
class Decoded:
    """Per-row, per-generated-character results of one batch."""

    tokens: np.ndarray            # [batch, length] int32 ids
    model_entropy: np.ndarray     # [batch, length] bits, of the model's distribution
    sampling_entropy: np.ndarray  # [batch, length] bits, of the distribution drawn from
    token_logprob: np.ndarray     # [batch, length] ln p(token) under the model at T = 1
    finish: np.ndarray            # [batch, length] int32: STOP or ACCEPT where the row ended
    # With ``record_stages``: the model's probabilities and those after each stage.
    model_probs: np.ndarray | None = None   # [batch, length, vocab]
    stage_probs: np.ndarray | None = None   # [batch, length, stages, vocab]

    @classmethod
    def join(cls, parts: Sequence[Decoded], axis: int = 0, keep: int | None = None) -> Decoded:
        """Shards (``axis=0``, rows) or pieces (``axis=1``, steps) as one result, cut to the
        first ``keep`` steps."""
        def join(name: str) -> Any:
            arrays = [getattr(p, name) for p in parts]
            return None if arrays[0] is None else np.concatenate(arrays, axis=axis)[:, :keep]

        return cls(*(join(f.name) for f in fields(cls)))


STOP, ACCEPT = 1, 2  # finish codes: a stop string ended at this step; a stage accepted the row


def _stop_tables(stops: StopAutomaton | None, vocab_size: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The stop automaton's table (flattened) and match lengths; one inert state for none."""
    if stops is None:
        return tf.zeros([vocab_size], tf.int32), tf.zeros([1], tf.int32)
    return tf.constant(stops.table.reshape(-1)), tf.constant(stops.match)


def release_freed_memory() -> None:
    """Hand heap pages freed by earlier stages (training) back to the OS, where glibc allows it.

    glibc keeps freed memory in its arenas; XLA's compile then adds its own peak on top. Trimming
    first lowered nietzsche_lstm's peak resident memory from 911 to 868 MB here. A no-op on
    other C libraries.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class Decoder:
    """Compiles decoding for one model and a fixed list of sampler settings.

    Retraces once per batch shape, prompt length and output length; call it with padded,
    fixed-size batches to reuse one compiled program.
    """

    def __init__(self, model: keras.Model, settings: Sequence[SamplerChain],
                 jit_compile: bool = True, statistics: bool = True,
                 threads: int | None = None, record_stages: bool = False) -> None:
        """``statistics=False`` skips the per-character entropies and log-probabilities (they
        come back as NaN): bulk generation that only needs the text runs faster. Batches of at
        least ``2 * SHARD_ROWS`` rows run as equal shards on up to ``threads`` threads (default:
        one per core); rows never interact, so the result is the same, only sooner.
        ``record_stages`` (one setting of stages) also returns the model's probabilities and
        those after each stage, at every step (``Decoded.model_probs``, ``stage_probs``)."""
        if record_stages and (len(settings) != 1 or not settings[0].stages):
            raise ValueError("record_stages needs exactly one setting, a chain of stages")
        self.model = model
        self.statistics = statistics or record_stages
        self.record_stages = record_stages
        self.threads = threads or os.cpu_count() or 1
        self._pool: ThreadPoolExecutor | None = None
        self.settings = list(settings)
        self.vocab_size = int(model.output_shape[-1])
        for chain in self.settings:  # a broken stage fails now, naming itself, not mid-sweep
            if getattr(chain, "stages", None):
                chain.check(self.vocab_size)
        self._fn = tf.function(self._decode, jit_compile=jit_compile)
        self._start_fn = tf.function(self._start, jit_compile=jit_compile)
        self._steps_fn = tf.function(self._steps, jit_compile=jit_compile)
        release_freed_memory()  # before the compile: its peak then stacks on what is in use

    def __call__(self, prompt_ids: np.ndarray, setting: np.ndarray, seeds: np.ndarray,
                 length: int, stops: StopAutomaton | None = None) -> Decoded:
        """Generate ``length`` ids after each row of ``prompt_ids`` ``[batch, prompt_len >= 1]``;
        a row ends early at the first of ``stops`` or when a stage accepts it."""
        rows = self._rows(prompt_ids, setting, seeds)
        shards = self._shards(len(rows[0]))
        if shards == 1:
            return self._run(*rows, length, stops)
        p, s, seed = (np.split(a, shards) for a in rows)
        return Decoded.join(self._on_shards(
            lambda i: self._run(p[i], s[i], seed[i], length, stops), shards))

    def stream(self, prompt_ids: np.ndarray, setting: np.ndarray, seeds: np.ndarray,
               length: int, chunk: int, stops: StopAutomaton | None = None
               ) -> Iterator[Decoded]:
        """Like ``__call__``, as pieces of at most ``chunk`` ids: the cache and the samplers'
        states carry from one piece to the next, so memory does not grow with ``length``, and
        the noise takes the absolute step, so the ids are those ``__call__`` gives."""
        rows = self._rows(prompt_ids, setting, seeds)
        n = self._shards(len(rows[0]))
        shards = [tuple(a[i] for a in (np.split(r, n) for r in rows)) for i in range(n)]
        table, match = _stop_tables(stops, self.vocab_size)
        carries = [self._start_fn(*map(tf.convert_to_tensor, shard[:2])) for shard in shards]
        for start in range(0, length, chunk):
            step = tf.constant(start, tf.int32)

            def piece(i: int, step: tf.Tensor = step) -> Decoded:
                _, setting_i, seeds_i = shards[i]
                out, carries[i] = self._steps_fn(carries[i], tf.convert_to_tensor(setting_i),
                                                 tf.convert_to_tensor(seeds_i), step, chunk,
                                                 table, match)
                self._check_health(setting_i, carries[i][-1])
                return self._decoded(out)

            yield Decoded.join(self._on_shards(piece, n), keep=min(chunk, length - start))

    def _on_shards(self, work: Callable[[int], Decoded], shards: int) -> list[Decoded]:
        """``work(i)`` for every shard: one on this thread, more on the decoding threads (rows
        never interact; 1.6x at 64 rows here)."""
        if shards == 1:
            return [work(0)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="textgen-decode")
        return list(self._pool.map(work, range(shards)))

    def _rows(self, prompt_ids: np.ndarray, setting: np.ndarray,
              seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        prompt = np.asarray(prompt_ids, np.int32)
        if prompt.ndim != 2:
            raise ValueError(f"prompt_ids must be [batch, prompt_len], got shape {prompt.shape}")
        if prompt.shape[1] == 0:
            raise ValueError("the prompt is empty: generation needs at least one character")
        return prompt, np.asarray(setting, np.int32), np.asarray(seeds, np.int64) & 0xFFFFFFFF

    def _shards(self, batch: int) -> int:
        """The most equal shards of at least ``SHARD_ROWS`` rows, one per thread at most."""
        n = min(self.threads, batch // SHARD_ROWS)
        while n > 1 and batch % n:
            n -= 1
        return max(n, 1)

    def _run(self, prompt: np.ndarray, setting: np.ndarray, seeds: np.ndarray,
             length: int, stops: StopAutomaton | None = None) -> Decoded:
        out, health = self._fn(tf.convert_to_tensor(prompt), tf.convert_to_tensor(setting),
                               tf.convert_to_tensor(seeds), int(length),
                               *_stop_tables(stops, self.vocab_size))
        self._check_health(setting, health)
        return self._decoded(out)

    def _check_health(self, setting: np.ndarray, health: tuple) -> None:
        """Raise the StageFailure of the row that failed first (``SamplerChain.health``)."""
        code, step = (np.asarray(h) for h in health)
        if code.any():
            row = int(np.argmin(np.where(code > 0, step, np.iinfo(np.int32).max)))
            raise self.settings[int(np.asarray(setting)[row])].failure(int(code[row]),
                                                                       int(step[row]))

    def _decoded(self, out: tuple) -> Decoded:
        tokens, finish = out[0].numpy(), out[1].numpy()
        if not self.statistics:
            nan = np.full(tokens.shape, np.nan, np.float32)
            return Decoded(tokens, nan, nan.copy(), nan.copy(), finish)
        entropy, drawn, logprob, *probs = (t.numpy() for t in out[2:])
        return Decoded(tokens, entropy, drawn, logprob, finish, *probs)

    def _decode(self, prompt: tf.Tensor, setting: tf.Tensor, seeds: tf.Tensor, length: int,
                stop_table: tf.Tensor, stop_match: tf.Tensor):
        out, carry = self._steps(self._start(prompt, setting), setting, seeds, tf.constant(0),
                                 length, stop_table, stop_match)
        return out, carry[-1]

    def _finished(self, states: tuple, setting: tf.Tensor) -> tf.Tensor:
        """``[batch]`` bool: rows that a stage of their own setting declares complete."""
        done = tf.zeros(tf.shape(setting), tf.bool)
        for k, (chain, chain_states) in enumerate(zip(self.settings, states, strict=True)):
            for stage, state in zip(chain.stages, chain_states, strict=True):
                ends = stage.finished(state)
                if ends is not None:
                    done |= (setting == k) & ends
        return done

    def _start(self, prompt: tf.Tensor, setting: tf.Tensor) -> tuple:
        """Prefill all but the prompt's last id: the carry ``(token, cache, states, stop
        state, done)`` that decoding starts from."""
        batch = tf.shape(prompt)[0]
        cache = initial_cache(self.model, batch)

        def prefill(i, cache):
            _, cache = step_logits(self.model, prompt[:, i], cache)
            return i + 1, cache

        _, cache = tf.while_loop(lambda i, _: i < tf.shape(prompt)[1] - 1, prefill, (0, cache))
        states = tuple(chain.initial_state(batch, self.vocab_size) for chain in self.settings)
        return (prompt[:, -1], cache, states, tf.zeros([batch], tf.int32),
                self._finished(states, setting),
                (tf.zeros([batch], tf.int32), tf.zeros([batch], tf.int32)))  # health, its step

    def _steps(self, carry: tuple, setting: tf.Tensor, seeds: tf.Tensor, start: tf.Tensor,
               length: int, stop_table: tf.Tensor, stop_match: tf.Tensor
               ) -> tuple[tuple, tuple]:
        """Up to ``length`` decoding steps from ``carry``, the first at absolute step ``start``
        (fewer once every row has finished): the per-step outputs ``[batch, length]`` (token,
        finish, then the statistics), zero after the last step, and the carry after it."""
        token, cache, states, stop, done, health = carry
        shapes = [token.shape] * (5 if self.statistics else 2)
        if self.record_stages:  # the model's probabilities, then each stage's
            stages = len(self.settings[0].stages)
            shapes += [token.shape + [self.vocab_size], token.shape + [stages, self.vocab_size]]
        dtypes = (tf.int32, tf.int32) + (tf.float32,) * (len(shapes) - 2)
        arrays = tuple(tf.TensorArray(dtype, size=length, element_shape=shape)
                       for dtype, shape in zip(dtypes, shapes, strict=True))

        def body(t, token, cache, states, stop, done, health, arrays):
            logits, cache = step_logits(self.model, token, cache)
            logits = tf.cast(logits, tf.float32)
            final, outputs, warped_states = None, [], []

            def noise(position, draws, t=t):  # each stage's coins: its own stream per row seed
                return stage_uniform(seeds, t, position, draws)

            code = tf.zeros_like(token)
            for k, (chain, state) in enumerate(zip(self.settings, states, strict=True)):
                warped, outs, state = chain.warp(logits, state, noise)
                outputs.append(outs)
                warped_states.append(state)
                code = tf.where(setting == k, chain.health(logits, outs), code)
                final = warped if final is None else tf.where(
                    (setting == k)[:, None], warped, final)
            first = (health[0] == 0) & (code > 0) & ~done  # NaN or an emptied row: remember
            health = (tf.where(first, code, health[0]), tf.where(first, t, health[1]))
            token = tf.argmax(final + gumbel(seeds, t, self.vocab_size), axis=-1,
                              output_type=tf.int32)
            states = tuple(chain.update(state, token, outs) for chain, state, outs
                           in zip(self.settings, warped_states, outputs, strict=True))
            stop = tf.gather(stop_table, stop * self.vocab_size + token)
            finish = tf.where(tf.gather(stop_match, stop) > 0, STOP,
                              tf.where(self._finished(states, setting), ACCEPT, 0))
            finish = tf.where(done, 0, finish)
            done = done | (finish > 0)
            values: tuple = (token, finish)
            if self.statistics:
                logp = tf.nn.log_softmax(logits)
                values += (entropy_bits(logits), entropy_bits(final),
                           tf.gather(logp, token, batch_dims=1))
            if self.record_stages:
                values += (tf.nn.softmax(logits),
                           tf.stack([tf.nn.softmax(out) for out in outputs[0]], axis=1))
            arrays = tuple(a.write(t - start, v) for a, v in zip(arrays, values, strict=True))
            return t + 1, token, cache, states, stop, done, health, arrays

        def going(t, token, cache, states, stop, done, health, arrays):
            return (t < start + length) & ~tf.reduce_all(done)

        loop = (start, token, cache, states, stop, done, health, arrays)
        _, token, cache, states, stop, done, health, arrays = tf.while_loop(going, body, loop)
        def batch_first(stacked: tf.Tensor) -> tf.Tensor:  # [steps, batch, ...] -> [batch, ...]
            return tf.transpose(stacked, [1, 0, *range(2, stacked.shape.rank)])

        return (tuple(batch_first(a.stack()) for a in arrays),
                (token, cache, states, stop, done, health))
