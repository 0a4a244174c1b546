"""Decoder timing: a warm-up call (tracing and XLA compiling), then the median of timed calls.

Generation speed is measured with the compiled ``Decoder`` itself; ``recomputed_decoder`` is
the cache-free baseline (the whole model over each receptive field per character) that a
convolutional backbone's cached ``step`` avoids.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from textgen.generation.engine import Decoder
from textgen.model import parts


def timed(call: Callable[[], Any], repeats: int) -> dict:
    """One warm-up call (trace + compile + run), then the median of ``repeats`` timed calls."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"first_call_seconds": first, "seconds": median,
            "compile_seconds": max(first - median, 0.0), "times": times}


def recomputed_decoder(model: Any, window: int,
                       jit_compile: bool = True) -> Callable[[np.ndarray, int], np.ndarray]:
    """Greedy decoding without a cache: the whole model over the last ``window`` ids per char.

    The baseline the conv backbone's cached ``step`` avoids. Prompts need ``>= window`` ids, so
    every window holds real characters and the result equals the cached decoder's.
    """
    def run(context: tf.Tensor, length: int) -> tf.Tensor:
        def body(t, ctx, out):
            token = tf.argmax(model(ctx, training=False)[:, -1], axis=-1, output_type=tf.int32)
            return t + 1, tf.concat([ctx[:, 1:], token[:, None]], axis=1), out.write(t, token)

        out = tf.TensorArray(tf.int32, size=length)
        *_, out = tf.while_loop(lambda t, *_: t < length, body, (0, context, out))
        return tf.transpose(out.stack())

    compiled = tf.function(run, jit_compile=jit_compile)

    def decode(prompt_ids: np.ndarray, length: int) -> np.ndarray:
        ids = np.asarray(prompt_ids, np.int32)
        if ids.ndim != 2 or ids.shape[1] < window:
            raise ValueError(f"recomputed decoding needs prompts [batch, >= {window}] ids (the "
                             f"receptive field), got shape {ids.shape}")
        return compiled(tf.constant(ids[:, -window:]), int(length)).numpy()

    return decode


def _speed(timing: dict, chars: int) -> dict:
    return {**timing, "chars_per_second": chars / timing["seconds"]}


def decoding_speed(model: Any, chains: list, prompt_ids: np.ndarray, batch: int, length: int,
                   repeats: int = 3, jit_compile: bool = True) -> dict:
    """Steady-state chars/s of the compiled decoder at ``batch`` rows, settings taking turns."""
    decoder = Decoder(model, chains, jit_compile=jit_compile)
    prompt = np.repeat(np.asarray(prompt_ids, np.int32)[None], batch, axis=0)
    setting, seeds = np.arange(batch) % len(chains), np.arange(batch)
    return _speed(timed(lambda: decoder(prompt, setting, seeds, length), repeats), batch * length)


def cached_vs_recomputed(model: Any, prompt_ids: np.ndarray, length: int, repeats: int = 3,
                         jit_compile: bool = True) -> dict:
    """Batch-1 greedy speed of the cached decoder against recomputing each receptive field."""
    from textgen.samplers.build import build_chain  # the sampler library, by registered name

    window = parts(model)[1].receptive_field
    if window is None:
        raise ValueError("recomputed decoding needs a backbone with a finite receptive field")
    prompt = np.asarray(prompt_ids, np.int32)[None, -window:]
    decoder = Decoder(model, [build_chain("greedy")], jit_compile=jit_compile)
    recompute = recomputed_decoder(model, window, jit_compile)
    zero = np.zeros(1, np.int32)
    cached = _speed(timed(lambda: decoder(prompt, zero, zero, length), repeats), length)
    full = _speed(timed(lambda: recompute(prompt, length), repeats), length)
    same = np.array_equal(decoder(prompt, zero, zero, length).tokens, recompute(prompt, length))
    return {"window": window, "length": length, "cached": cached, "recomputed": full,
            "speedup": cached["chars_per_second"] / full["chars_per_second"],
            "same_text": bool(same)}


class CompileTimer:
    """A ``Decoder`` that times its calls and tells compiling apart from decoding.

    The first call of each shape (batch, prompt length, output length) traces and XLA-compiles
    before it decodes; later calls of that shape only decode. ``compile_seconds()`` is, per
    shape, the first call's time minus the median time of a warm call of the same shape (one
    extra call is made for a shape that was never called again), so a run's generation speed
    can count steady-state decoding alone.
    """

    def __init__(self, decoder: Decoder) -> None:
        self.decoder = decoder
        self.calls: list[tuple[tuple, float, bool]] = []  # (shape, seconds, first of its shape)
        self._first: dict[tuple, tuple] = {}

    def __getattr__(self, name: str) -> Any:  # everything else is the decoder's
        return getattr(self.__dict__["decoder"], name)

    def __call__(self, prompt_ids: np.ndarray, setting: np.ndarray, seeds: np.ndarray,
                 length: int, **options: Any) -> Any:
        shape = (np.shape(prompt_ids), int(length))
        cold = shape not in self._first
        if cold:
            self._first[shape] = (prompt_ids, setting, seeds, length)
        start = time.perf_counter()
        out = self.decoder(prompt_ids, setting, seeds, length, **options)  # stops=
        self.calls.append((shape, time.perf_counter() - start, cold))
        return out

    def compile_seconds(self) -> float:
        """Seconds spent tracing and compiling, summed over the shapes called so far."""
        total = 0.0
        for shape, args in self._first.items():
            warm = [s for k, s, cold in self.calls if k == shape and not cold]
            if not warm:
                start = time.perf_counter()
                self.decoder(*args)
                warm = [time.perf_counter() - start]
            first = next(s for k, s, cold in self.calls if k == shape and cold)
            total += max(first - statistics.median(warm), 0.0)
        return total
