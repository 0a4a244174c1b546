"""What could this machine do? FLOPs per character of each backbone against the GFLOP/s a TF
matmul reaches on the same shapes here, and the fraction our training and generation reach.

    python benchmarks/physical_limit.py [--no-wait] [--seconds 20]

A multiply-add counts 2 FLOPs; training costs ~3x the forward pass (forward, then gradients for
activations and for weights). Writes ``benchmarks/results/physical_limit.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from benchlib import ROOT, save, table, wait_for_quiet

V = 57  # Nietzsche's lowercased vocabulary (training split)
SPECS = ["experiments/seed_replica.yaml", "experiments/nietzsche_lstm.yaml",
         "experiments/nietzsche_fast.yaml"]


def spec_config(path: str) -> tuple:
    """(backbone, params with defaults, embedding, batch, seq_len, target, step, XLA)."""
    from textgen import spec as specs
    from textgen.plugins import registry

    spec = specs.load(ROOT / path)
    kind = spec.backbone.type
    params = registry().backbone(kind).Params(**spec.backbone.params).model_dump()
    t = spec.training
    jit = t.jit_compile is True  # Keras's "auto" is off on a CPU-only machine
    return (kind, params, spec.backbone.embedding_dim, t.batch_size, t.seq_len, t.target,
            t.step, jit)


def lstm_flops(units: int, inputs: int, vocab: int = V, layers: int = 1) -> int:
    """Forward FLOPs per character: per layer four gates over [input, h], then the head."""
    gates = sum(2 * 4 * units * ((inputs if i == 0 else units) + units) for i in range(layers))
    return gates + 2 * units * vocab


def conv_flops(filters: int, blocks: int, kernel: int, inputs: int, vocab: int = V,
               gated: bool = False) -> int:
    """Forward FLOPs per character: input projection, per block a k-tap conv (twice as wide
    when gated) and a 1x1 mix, then the softmax head."""
    conv = 2 * kernel * filters * filters * (2 if gated else 1)
    return 2 * inputs * filters + blocks * (conv + 2 * filters * filters) + 2 * filters * vocab


def forward_flops(kind: str, params: dict, embedding: int | None) -> int:
    inputs = embedding or V
    if kind == "lstm":
        return lstm_flops(params["units"], inputs, layers=params.get("layers", 1))
    blocks = len(params["dilations"]) * params.get("repeats", 1)
    return conv_flops(params["filters"], blocks, params["kernel_size"], inputs,
                      gated=params.get("activation") == "gated")


def matmul_gflops(m: int, k: int, n: int, seconds: float = 1.0) -> float:
    """GFLOP/s of ``[m, k] @ [k, n]`` repeated inside one XLA loop (no dispatch per matmul)."""
    import tensorflow as tf

    a = tf.random.normal([m, k])
    b = tf.random.normal([k, n])
    flops = 2 * m * k * n

    @tf.function(jit_compile=True)
    def loop(a, b, count):
        def body(i, acc):
            return i + 1, acc + tf.reduce_sum(tf.matmul(a + tf.cast(i, a.dtype), b))
        return tf.while_loop(lambda i, _: i < count, body, (0, 0.0))[1]

    count = 8
    loop(a, b, count)  # compile
    while True:
        start = time.perf_counter()
        loop(a, b, count).numpy()
        took = time.perf_counter() - start
        if took > seconds / 4:
            break
        count *= 4
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        loop(a, b, count).numpy()
        runs.append(time.perf_counter() - start)
    return flops * count / float(np.median(runs)) / 1e9


def training_chars_per_second(kind, params, embedding, batch, seq_len, target, step, jit,
                              seconds: float) -> float:
    """Steady-state training throughput (targets/s) of one spec through Keras ``fit``."""
    import keras

    from textgen.corpus.dataset import training_dataset
    from textgen.model import build_model, training_model
    from textgen.plugins import registry

    keras.utils.set_random_seed(0)
    ids = np.random.default_rng(0).integers(0, V, 600_000).astype(np.int32)
    backbone = registry().backbone(kind).from_params(params, name="backbone")
    model = training_model(build_model(V, backbone, embedding), target)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit)
    ds = training_dataset(ids, seq_len, batch, step, target, epochs=1000)
    model.fit(ds, steps_per_epoch=5, epochs=1, verbose=0)  # compile
    steps = 10
    while True:
        start = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        took = time.perf_counter() - start
        if took > seconds:
            break
        steps = int(steps * max(2.0, 1.2 * seconds / took))
    return steps * batch * (seq_len if target == "all" else 1) / took


def generation_chars_per_second(kind, params, embedding) -> dict:
    """The engine's steady-state chars/s at batch 1 and 64 (400 chars, temperature 1)."""
    import keras

    from textgen.generation.engine import Decoder
    from textgen.model import build_model
    from textgen.plugins import registry
    from textgen.samplers.base import SamplerChain
    from textgen.samplers.builtin import TemperatureSampler

    keras.utils.set_random_seed(0)
    backbone = registry().backbone(kind).from_params(params, name="backbone")
    model = build_model(V, backbone, embedding)
    decoder = Decoder(model, [SamplerChain([TemperatureSampler(temperature=1.0)])])
    out = {}
    for batch in (1, 64):
        prompt = np.zeros((batch, 60), np.int32)
        args = (prompt, np.zeros(batch), np.arange(batch), 400)
        decoder(*args)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            decoder(*args)
            times.append(time.perf_counter() - start)
        out[f"generate b{batch}"] = batch * 400 / float(np.median(times))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per training measurement")
    parser.add_argument("--no-wait", action="store_true")
    args = parser.parse_args()
    if not args.no_wait:
        wait_for_quiet()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    peak = {"square 1024": matmul_gflops(1024, 1024, 1024)}
    rows, data = [], {"peak_gflops": peak, "configs": {}}
    for path in SPECS:
        if not (ROOT / path).is_file():
            continue
        kind, params, emb, batch, seq_len, target, step, jit = spec_config(path)
        name = Path(path).stem
        fwd = forward_flops(kind, params, emb)
        inputs = emb or V
        if kind == "lstm":  # per time step: [batch, input + h] @ [input + h, 4 units]
            units = params["units"]
            shapes = {"train": (batch, inputs + units, 4 * units),
                      "generate b1": (1, inputs + units, 4 * units),
                      "generate b64": (64, inputs + units, 4 * units)}
        else:  # per block over the whole batch: [batch * time, k filters] @ [k filters, filters]
            f, k = params["filters"], params["kernel_size"]
            shapes = {"train": (batch * seq_len, k * f, f), "generate b1": (1, k * f, f),
                      "generate b64": (64, k * f, f)}
        gflops = {key: matmul_gflops(*shape) for key, shape in shapes.items()}
        # The seed predicts one char per 60-char window: 60 LSTM steps per target.
        train_flops = 3 * fwd * (seq_len if target == "last" else 1)
        rates = {"train": training_chars_per_second(kind, params, emb, batch, seq_len, target,
                                                    step, jit, args.seconds),
                 **generation_chars_per_second(kind, params, emb)}
        entry = {"forward_flops_per_char": fwd, "train_flops_per_target": train_flops,
                 "xla_training": jit, "matmul_gflops": gflops, "shapes": shapes, "modes": {}}
        for mode, rate in rates.items():
            flops = train_flops if mode == "train" else fwd
            achieved = rate * flops / 1e9
            entry["modes"][mode] = {
                "per_second": rate, "achieved_gflops": achieved,
                "fraction_of_shape_matmul": achieved / gflops[mode],
                "fraction_of_peak": achieved / peak["square 1024"],
                "limit_per_second": gflops[mode] * 1e9 / flops}
            rows.append([name, mode, flops, rate, achieved, gflops[mode],
                         achieved / gflops[mode], gflops[mode] * 1e9 / flops])
        data["configs"][name] = entry
    table(f"Physical limit: FLOPs against matmul GFLOP/s on the same shapes (peak "
          f"{peak['square 1024']:.0f} GFLOP/s at 1024^3)",
          ["spec", "mode", "FLOP/char", "chars/s", "GFLOP/s", "matmul", "fraction",
           "limit chars/s"], rows)
    save("physical_limit", data)


if __name__ == "__main__":
    main()
