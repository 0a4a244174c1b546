"""The decoding loop's stage health check (NaN or an emptied row, per stage): its own cost
(health() on [batch, 57] with two stage outputs, 400 steps in a compiled while_loop) against
400 steps of the real decoding loop (LSTM 128, top_k(20) -> temperature(0.8)). Run: python
benchmarks/stage_health_cost.py"""
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
import numpy as np
import tensorflow as tf

from textgen.backbones.lstm import LSTMBackbone
from textgen.generation.engine import Decoder
from textgen.model import build_model
from textgen.samplers.build import build_chain

keras.utils.set_random_seed(0)
V, L = 57, 400
model = build_model(V, LSTMBackbone(units=128), None)
chain = build_chain([{"top_k": 20}, {"temperature": 0.8}])
for batch in (64, 1):
    x = tf.random.normal([batch, V])
    @tf.function(jit_compile=True)
    def health_loop(x):
        def body(t, acc):
            return t + 1, acc + chain.health(x + tf.cast(t, tf.float32), (x * tf.cast(t, tf.float32), x - tf.cast(2 * t, tf.float32)))
        return tf.while_loop(lambda t, _: t < L, body, (0, tf.zeros([batch], tf.int32)))[1]
    health_loop(x)
    hs = []
    for _ in range(20):
        t = time.perf_counter(); health_loop(x).numpy(); hs.append(time.perf_counter() - t)
    d = Decoder(model, [chain])
    args = (np.zeros((batch, 20), np.int32), np.zeros(batch), np.arange(batch), L)
    d(*args)
    ds = []
    for _ in range(8):
        t = time.perf_counter(); d(*args); ds.append(time.perf_counter() - t)
    print(f"batch {batch}: health x{L} {min(hs)*1e3:.2f} ms, decode {L} steps {min(ds)*1e3:.1f} ms "
          f"({batch*L/min(ds):.0f} chars/s): health is {100*min(hs)/min(ds):.1f}% of it", flush=True)
