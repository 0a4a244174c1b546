"""Where does a training step spend its time? Data pipeline, forward, backward, optimizer, and
the Keras ``fit`` loop around them, each timed alone for one model and batch shape.

    python benchmarks/train_profile.py [--units 128] [--embedding 32] [--batch 32]
        [--seq-len 32] [--backbone lstm] [--no-wait]

Each component runs as its own ``tf.function`` (XLA and plain graph) on a fixed batch; the
differences between them are the cost of each stage. Writes
``benchmarks/results/train_profile.json`` (``--name`` changes the file name).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from benchlib import save, table, wait_for_quiet

V = 57


def per_call(fn, seconds: float) -> float:
    """Median seconds per call of ``fn`` after a warm-up, over about ``seconds``."""
    fn()
    fn()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 5:
        fn()
        calls += 1
    per = (time.perf_counter() - start) / max(calls, 1)
    reps = max(3, int(seconds / 5 / per))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - start) / reps)
    return float(np.median(times))


def build(args):
    import keras

    from textgen.model import build_model
    from textgen.plugins import registry

    keras.utils.set_random_seed(0)
    params = {"units": args.units} if args.backbone == "lstm" else {
        "filters": args.units, "dilations": [1, 2, 4, 8, 16, 32, 64]}
    backbone = registry().backbone(args.backbone).from_params(params, name="backbone")
    return build_model(V, backbone, args.embedding)


def components(args) -> dict:
    """Seconds per step of each stage, XLA-compiled and not."""
    import keras
    import tensorflow as tf

    from textgen.corpus.dataset import training_dataset

    ids = np.random.default_rng(0).integers(0, V, 600_000).astype(np.int32)
    ds = training_dataset(ids, args.seq_len, args.batch, epochs=1000)
    it = iter(ds)
    x, y = next(it)
    out: dict = {"data pipeline (next batch)": per_call(lambda: next(it), args.seconds)}
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for jit in (False, True):
        tag = "XLA" if jit else "graph"
        for name, fn in stage_functions(build(args), loss_fn).items():
            compiled = tf.function(fn, jit_compile=jit)
            out[f"{name} ({tag})"] = per_call(lambda c=compiled: _block(c(x, y)), args.seconds)
        model = build(args)
        model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), loss=loss_fn,
                      jit_compile=jit)
        out[f"keras fit, data and per-batch loss read included ({tag})"] = fit_step(
            model, ds, args.seconds)
    return out


def stage_functions(model, loss_fn) -> dict:
    """Forward; forward and backward; the whole step with clipping and Adam."""
    import keras
    import tensorflow as tf

    opt = keras.optimizers.Adam(1e-3, clipnorm=1.0)
    opt.build(model.trainable_variables)
    variables = model.trainable_variables

    def forward(x, y):
        return loss_fn(y, model(x, training=True))

    def backward(x, y):
        with tf.GradientTape() as tape:
            loss = forward(x, y)
        return tape.gradient(loss, variables)

    def step(x, y):
        opt.apply(backward(x, y), variables)
        return variables[0]

    return {"forward": forward, "forward+backward": backward, "full step (+clip, Adam)": step}


def _block(result) -> None:
    import tensorflow as tf

    for t in tf.nest.flatten(result):
        if hasattr(t, "numpy"):
            t.numpy()
            return


def fit_step(model, ds, seconds: float) -> float:
    """Median seconds per step inside one long ``fit``, from per-batch timestamps; the probe
    reads the loss after every batch, as textgen's own callbacks do."""
    import keras

    class Stamps(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times: list[float] = []

        def on_train_batch_end(self, batch, logs=None):
            float((logs or {}).get("loss", 0.0))
            self.times.append(time.perf_counter())

    probe = Stamps()
    model.fit(ds, steps_per_epoch=20, epochs=1, verbose=0, callbacks=[probe])  # compile, warm
    per = float(np.median(np.diff(probe.times[5:]))) if len(probe.times) > 6 else 0.05
    stamps = Stamps()
    model.fit(ds, steps_per_epoch=max(30, int(seconds / max(per, 1e-4))), epochs=1, verbose=0,
              callbacks=[stamps])
    return float(np.median(np.diff(stamps.times[10:])))

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="lstm", choices=["lstm", "conv"])
    parser.add_argument("--units", type=int, default=128, help="LSTM units or conv filters")
    parser.add_argument("--embedding", type=int, default=32, help="0 for one-hot")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=4.0, help="per component")
    parser.add_argument("--name", default="train_profile")
    parser.add_argument("--no-wait", action="store_true")
    args = parser.parse_args()
    args.embedding = args.embedding or None
    if not args.no_wait:
        wait_for_quiet()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    times = components(args)
    chars = args.batch * args.seq_len
    table(f"Training step components: {args.backbone} {args.units}, embedding "
          f"{args.embedding or 'one-hot'}, batch {args.batch} x {args.seq_len}",
          ["component", "ms/step", "steps/s", "chars/s"],
          [[k, 1e3 * v, 1 / v, chars / v] for k, v in times.items()])
    save(args.name, {"config": vars(args), "seconds_per_step": times})


if __name__ == "__main__":
    main()
