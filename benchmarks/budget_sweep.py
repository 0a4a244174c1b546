"""Which recipe learns fastest per second? Held-out bpc against training seconds for several
backbone / batch / seq_len / learning-rate settings, each scored every few seconds.

    python benchmarks/budget_sweep.py [--seconds 60] [--base experiments/nietzsche_lstm.yaml]
        [--config 'units=128 batch=32 seq_len=32 lr=1e-2' ...] [--no-wait]

Each setting trains in its own child process with a constant learning rate (no schedule, so
settings compare at every point of the curve), on the spec's corpus split, scored by the
spec's evaluation rule. Writes ``benchmarks/results/budget_sweep.{json,png}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from benchlib import RESULTS, ROOT, bpc_axes, console, save, save_figure, table, wait_for_quiet

DEFAULT = ["units=256 batch=32 seq_len=64 lr=3e-3", "units=256 batch=32 seq_len=64 lr=1e-2",
           "units=256 batch=32 seq_len=32 lr=1e-2", "units=128 batch=32 seq_len=64 lr=1e-2",
           "units=128 batch=32 seq_len=32 lr=1e-2", "units=128 batch=16 seq_len=32 lr=1e-2",
           "units=128 batch=64 seq_len=32 lr=1e-2", "units=128 batch=32 seq_len=16 lr=1e-2",
           "units=128 batch=32 seq_len=32 lr=3e-3"]


def parse(config: str) -> dict:
    """``'units=128 batch=32'`` -> ``{'units': 128, 'batch': 32}``; other keys than batch,
    seq_len and lr are backbone fields (``type=conv filters=128 dilations=[1,2,4]``)."""
    out = {}
    for item in config.split():
        key, value = item.split("=", 1)
        out[key] = json.loads(value) if value[:1] in "[{" else float(value) if key in (
            "lr", "dropout") else int(value) if value.isdigit() else value
    return out


def one(base: str, config: dict, seconds: float) -> dict:
    """Train one setting for ``seconds`` of step time; score at growing intervals."""
    import keras
    import tensorflow as tf

    from textgen import spec as specs
    from textgen.corpus.dataset import training_dataset
    from textgen.corpus.prepare import prepare_corpus
    from textgen.experiment import build
    from textgen.training.evaluate import held_out_bpc

    tf.get_logger().setLevel("ERROR")
    spec = specs.load(ROOT / base)
    data = spec.model_dump()
    backbone = {k: v for k, v in config.items() if k not in ("batch", "seq_len", "lr")}
    if backbone.get("type", data["backbone"]["type"]) != data["backbone"]["type"]:
        data["backbone"] = {"embedding": data["backbone"]["embedding"]}  # another kind's fields
    data["backbone"].update(backbone)
    spec = specs.Spec(**data)
    keras.utils.set_random_seed(spec.seed)
    corpus = prepare_corpus(spec)
    model = build(spec, len(corpus.vocab))
    batch, seq_len = config.get("batch", 32), config.get("seq_len", 64)
    model.compile(optimizer=keras.optimizers.Adam(config.get("lr", 3e-3), clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=True)
    batches = iter(training_dataset(corpus.train_ids, seq_len, batch, epochs=10_000,
                                    seed=spec.seed))
    e = spec.evaluation
    trained, steps, next_score, curve = 0.0, 0, 5.0, []
    while trained < seconds:
        start = time.perf_counter()
        x, y = next(batches)
        model.train_on_batch(x, y)
        trained += time.perf_counter() - start
        steps += 1
        if trained >= next_score or trained >= seconds:
            bpc = held_out_bpc(model, corpus.scoring_ids, e.context, e.stride, e.batch_size)
            curve.append({"train_seconds": trained, "steps": steps,
                          "chars": steps * batch * seq_len, "val_bpc": bpc})
            next_score = trained * 1.25
    return {"config": config, "parameters": int(model.count_params()), "curve": curve,
            "updates_per_second": steps / trained,
            "chars_per_second": steps * batch * seq_len / trained}


def at(curve: list[dict], seconds: float) -> float | None:
    """Best held-out bpc scored by ``seconds`` of training."""
    seen = [p["val_bpc"] for p in curve if p["train_seconds"] <= seconds * 1.02]
    return min(seen) if seen else None


def plot(results: list[dict], path) -> None:
    fig, ax = bpc_axes("training seconds (scoring excluded)", size=(8, 5))
    for r in results:
        label = " ".join(f"{k}={v}" for k, v in r["config"].items())
        ax.plot([p["train_seconds"] for p in r["curve"]], [p["val_bpc"] for p in r["curve"]],
                marker=".", label=label)
    ax.set_ylim(top=3.2)
    save_figure(fig, ax, path, legend_size=7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="experiments/nietzsche_lstm.yaml")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--config", action="append", help="repeatable; default: a grid")
    parser.add_argument("--name", default="budget_sweep")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child mode: a JSON config
    parser.add_argument("--no-wait", action="store_true")
    args = parser.parse_args()
    if args.one:
        print("RESULT", json.dumps(one(args.base, json.loads(args.one), args.seconds)))
        return
    results = []
    for config in args.config or DEFAULT:
        if not args.no_wait:
            wait_for_quiet()
        cmd = [sys.executable, __file__, "--one", json.dumps(parse(config)), "--base",
               args.base, "--seconds", str(args.seconds)]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
        results.append(json.loads(next(line for line in out.splitlines()
                                       if line.startswith("RESULT"))[7:]))
        r = results[-1]
        console.print(f"[dim]{config}: {at(r['curve'], args.seconds):.3f} bpc, "
                      f"{r['chars_per_second']:,.0f} chars/s[/]")
    marks = sorted({*(s for s in (15, 30, 60, 120) if s < args.seconds), args.seconds})
    table("Best held-out bpc by training seconds (constant learning rate, Adam, XLA)",
          ["setting", "params", "updates/s", "chars/s", *[f"{s:g} s" for s in marks]],
          [[" ".join(f"{k}={v}" for k, v in r["config"].items()), r["parameters"],
            r["updates_per_second"], r["chars_per_second"], *[at(r["curve"], s) for s in marks]]
           for r in results])
    plot(results, RESULTS / f"{args.name}.png")
    save(args.name, {"base": args.base, "seconds": args.seconds, "results": results})


if __name__ == "__main__":
    main()
