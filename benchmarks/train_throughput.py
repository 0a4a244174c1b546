"""Which training shape runs fastest here? Updates/s and chars/s of Keras ``fit`` for batch
size x sequence length, with and without XLA, and under different thread settings.

    python benchmarks/train_throughput.py [--units 128] [--embedding 32] [--no-wait]

Each thread setting runs in its own child process (TensorFlow fixes its pools at start-up);
``OMP_NUM_THREADS`` and ``OPENBLAS_NUM_THREADS`` cap the numpy/BLAS threads that would
otherwise compete with TensorFlow's. Writes ``benchmarks/results/train_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchlib import ROOT, console, save, table, wait_for_quiet

SHAPES = [(16, 32), (32, 32), (64, 32), (128, 32), (32, 64), (64, 64), (128, 64), (32, 100),
          (128, 100)]
THREADS = {"default": {}, "intra 1 / inter 1": {"TF_NUM_INTRAOP_THREADS": "1",
                                                 "TF_NUM_INTEROP_THREADS": "1"},
           "intra 2 / inter 1": {"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1"},
           "intra 2 / inter 2, OMP 1": {"TF_NUM_INTRAOP_THREADS": "2",
                                        "TF_NUM_INTEROP_THREADS": "2", "OMP_NUM_THREADS": "1",
                                        "OPENBLAS_NUM_THREADS": "1"}}


def measure(units: int, embedding: int | None, shapes, jits, seconds: float) -> list[dict]:
    """Steady-state seconds per ``fit`` step for every (batch, seq_len) and XLA setting."""
    import keras
    import numpy as np
    import tensorflow as tf
    from train_profile import V, build, fit_step

    from textgen.corpus.dataset import training_dataset

    tf.get_logger().setLevel("ERROR")
    ids = np.random.default_rng(0).integers(0, V, 600_000).astype(np.int32)
    rows = []
    for batch, seq_len in shapes:
        for jit in jits:
            args = argparse.Namespace(backbone="lstm", units=units, embedding=embedding)
            model = build(args)
            model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=1.0), jit_compile=jit,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            ds = training_dataset(ids, seq_len, batch, epochs=1000)
            per_step = fit_step(model, ds, seconds)
            rows.append({"batch": batch, "seq_len": seq_len, "jit_compile": jit,
                         "seconds_per_step": per_step, "updates_per_second": 1 / per_step,
                         "chars_per_second": batch * seq_len / per_step})
    return rows


def child(units: int, embedding: int | None, env: dict, seconds: float) -> list[dict]:
    """One thread setting in a fresh process: the default shape, with XLA."""
    code = ("import json, sys; sys.path.insert(0, 'benchmarks'); from train_throughput import "
            f"measure; print('RESULT', json.dumps(measure({units}, {embedding}, [(32, 32)], "
            f"[True], {seconds})))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--embedding", type=int, default=32, help="0 for one-hot")
    parser.add_argument("--seconds", type=float, default=5.0, help="per configuration")
    parser.add_argument("--no-wait", action="store_true")
    args = parser.parse_args()
    embedding = args.embedding or None
    if not args.no_wait:
        wait_for_quiet()
    rows = measure(args.units, embedding, SHAPES, [False, True], args.seconds)
    table(f"Keras fit throughput, LSTM {args.units}, embedding {embedding or 'one-hot'} "
          "(median steady state)",
          ["batch x seq_len", "XLA", "ms/step", "updates/s", "chars/s"],
          [[f"{r['batch']} x {r['seq_len']}", r["jit_compile"], 1e3 * r["seconds_per_step"],
            r["updates_per_second"], r["chars_per_second"]] for r in rows])
    threads = {}
    for name, env in THREADS.items():
        threads[name] = {"env": env, **child(args.units, embedding, env, args.seconds)[0]}
        console.print(f"[dim]threads {name}: {threads[name]['chars_per_second']:,.0f} chars/s[/]")
    table("Thread settings (32 x 32, XLA), each in a fresh process",
          ["threads", "ms/step", "updates/s", "chars/s"],
          [[k, 1e3 * v["seconds_per_step"], v["updates_per_second"], v["chars_per_second"]]
           for k, v in threads.items()])
    save("train_throughput", {"units": args.units, "embedding": embedding, "shapes": rows,
                              "threads": threads})


if __name__ == "__main__":
    main()
