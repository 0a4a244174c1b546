"""The decoding loop's stage health check (NaN or an emptied row, per stage): its own cost.

``SamplerChain.health`` on ``[batch, 57]`` logits with two stage outputs, 400 steps in a compiled
``while_loop``, against 400 steps of the real decoding loop (LSTM 128, ``top_k(20) ->
temperature(0.8)``). Run: ``python benchmarks/stage_health_cost.py``.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from textgen.backbones.lstm import LSTMBackbone  # noqa: E402
from textgen.generation.engine import Decoder  # noqa: E402
from textgen.model import build_model  # noqa: E402
from textgen.samplers.base import SamplerChain  # noqa: E402
from textgen.samplers.build import build_chain  # noqa: E402

VOCAB, STEPS = 57, 400


def timed(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def health_loop(chain: SamplerChain, batch: int):
    """400 steps of the check alone; the outputs depend on the step so nothing is hoisted."""

    @tf.function(jit_compile=True)
    def run(x):
        def body(t, acc):
            f = tf.cast(t, tf.float32)
            return t + 1, acc + chain.health(x + f, (x * f, x - 2.0 * f))

        return tf.while_loop(lambda t, _: t < STEPS, body, (0, tf.zeros([batch], tf.int32)))[1]

    return run


def main() -> None:
    keras.utils.set_random_seed(0)
    model = build_model(VOCAB, LSTMBackbone(units=128), None)
    chain = build_chain([{"top_k": 20}, {"temperature": 0.8}])
    for batch in (64, 1):
        x = tf.random.normal([batch, VOCAB])
        check = health_loop(chain, batch)
        check(x)
        alone = timed(lambda check=check, x=x: check(x).numpy(), 20)
        decoder = Decoder(model, [chain])
        args = (np.zeros((batch, 20), np.int32), np.zeros(batch), np.arange(batch), STEPS)
        decoder(*args)
        decoding = timed(lambda decoder=decoder, args=args: decoder(*args), 8)
        print(f"batch {batch}: check x{STEPS} {alone * 1e3:.2f} ms, decoding {STEPS} steps "
              f"{decoding * 1e3:.1f} ms ({batch * STEPS / decoding:.0f} chars/s): the check is "
              f"{100 * alone / decoding:.1f}% of it", flush=True)


if __name__ == "__main__":
    main()
