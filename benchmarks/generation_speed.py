"""How fast is generation? The compiled incremental decoder against the seed's per-character
``model.predict`` loop on the same trained model, both backbones, cached against recomputed conv.

    python benchmarks/generation_speed.py [--run-dir RUN] [--no-wait]

``--run-dir`` takes a finished run of an LSTM(128) one-hot model (``seed_replica.yaml``); the
seed-style path gets its weights. Without it an untrained model of the same shape is timed
(speed does not depend on the weights). Writes ``benchmarks/results/generation_speed.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from benchlib import console, save, table, timed, wait_for_quiet

LENGTH, PROMPT, SEED_CHARS = 400, 60, 40
MODELS = {  # name -> (backbone type, params, embedding)
    "lstm128 one-hot (seed)": ("lstm", {"units": 128}, None),
    "lstm512 emb32 (nietzsche_fast)": ("lstm", {"units": 512}, 32),
    "conv128 rf128": (
        "conv", {"filters": 128, "kernel_size": 2, "dilations": [1, 2, 4, 8, 16, 32, 64]}, 32),
}


def load_models(run_dir: Path | None, vocab_size: int) -> dict:
    import keras

    from textgen.model import build_model
    from textgen.plugins import registry

    models = {}
    for name, (kind, params, embedding) in MODELS.items():
        keras.utils.set_random_seed(0)
        backbone = registry().backbone(kind).from_params(params, name="backbone")
        model = build_model(vocab_size, backbone, embedding)
        model(np.zeros((1, PROMPT), np.int32))
        models[name] = model
    if run_dir is not None:
        from textgen.experiment import load_trained

        _, trained, _ = load_trained(run_dir)
        models["lstm128 one-hot (seed)"] = trained
    return models


def seed_model(model, vocab_size: int):
    """The seed's ``Sequential([LSTM(128), Dense(softmax)])`` holding ``model``'s weights."""
    import seed_original

    from textgen.model import parts

    seed = seed_original.build(vocab_size)
    _, backbone, head = parts(model)
    seed.layers[0].set_weights(backbone.lstms[0].get_weights())
    seed.layers[1].set_weights(head.get_weights())
    return seed


def seed_path(model, prompt: np.ndarray, chars: list[str]) -> dict:
    """The seed's loop on ~40 chars: seconds per char, extrapolated to a 400-char sample."""
    import seed_original

    seed = seed_model(model, len(chars))
    text = "".join(chars[i] for i in prompt)
    window = np.zeros((1, PROMPT, len(chars)), np.float32)
    window[0, np.arange(PROMPT), prompt] = 1
    ours = np.asarray(model(prompt[None]))[0, -1]
    theirs = seed.predict(window, verbose=0)[0]  # also the warm-up (traces predict)
    same = float(np.abs(theirs - np.exp(ours - ours.max()) / np.exp(ours - ours.max()).sum()).max())
    times = []
    for _ in range(3):
        start = time.perf_counter()
        seed_original.generate(seed, text, chars, SEED_CHARS, temperature=1.0)
        times.append((time.perf_counter() - start) / SEED_CHARS)
    per_char = statistics.median(times)
    return {"chars_timed": SEED_CHARS, "repeats": 3, "seconds_per_char": per_char,
            "chars_per_second": 1 / per_char, "sample_400_seconds_extrapolated": 400 * per_char,
            "max_prob_difference_vs_ours": same}


def model_step_only(model):
    """The decoding loop with nothing but the model step and an argmax: the floor."""
    import tensorflow as tf

    from textgen.model import parts, step_logits

    backbone = parts(model)[1]

    @tf.function(jit_compile=True)
    def run(prompt, length):
        cache = backbone.initial_cache(tf.shape(prompt)[0])

        def body(t, token, cache, acc):
            logits, cache = step_logits(model, token, cache)
            token = tf.argmax(logits, axis=-1, output_type=tf.int32)
            return t + 1, token, cache, acc + token

        init = (0, prompt[:, -1], cache, tf.zeros_like(prompt[:, -1]))
        return tf.while_loop(lambda t, *_: t < length, body, init)[-1]

    return lambda prompt: run(tf.constant(prompt), LENGTH + PROMPT - 1).numpy()


def compiled(model, prompt: np.ndarray, batch: int, statistics_: bool, repeats: int,
             threads: int | None = None) -> dict:
    """The engine at temperature 1; batches of 16+ rows run on one thread per core unless
    ``threads`` says otherwise."""
    from textgen.generation.engine import Decoder
    from textgen.samplers.base import SamplerChain
    from textgen.samplers.builtin import TemperatureSampler

    decoder = Decoder(model, [SamplerChain([TemperatureSampler(temperature=1.0)])],
                      statistics=statistics_, threads=threads)
    rows = np.repeat(prompt[None], batch, axis=0)
    setting, seeds = np.zeros(batch, np.int32), np.arange(batch)
    t = timed(lambda: decoder(rows, setting, seeds, LENGTH), repeats)
    return {**t, "chars_per_second": batch * LENGTH / t["seconds"]}


def recomputed(model, prompt: np.ndarray, batch: int, repeats: int) -> dict:
    from textgen.generation.timing import recomputed_decoder
    from textgen.model import parts

    window = parts(model)[1].receptive_field
    decode = recomputed_decoder(model, window)
    rows = np.repeat(prompt[None], batch, axis=0)
    t = timed(lambda: decode(rows, LENGTH), repeats)
    return {**t, "window": window, "chars_per_second": batch * LENGTH / t["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="a finished seed_replica run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = parser.parse_args()
    if not args.no_wait:
        wait_for_quiet()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    from textgen.corpus.resolve import load_text
    from textgen.corpus.vocab import CharVocab

    text = load_text("nietzsche", None, None, None)
    vocab = CharVocab.from_text(text[: int(len(text) * 0.9)])
    chars = [vocab.decode([i]) for i in range(len(vocab))]
    prompt = vocab.encode(text[-2000:-2000 + 200], unknown="skip")[-128:].astype(np.int32)
    models = load_models(args.run_dir, len(vocab))

    results: dict = {"length": LENGTH, "prompt_length": PROMPT, "repeats": args.repeats,
                     "trained_seed_model": str(args.run_dir) if args.run_dir else None,
                     "models": {}}
    seed = seed_path(models["lstm128 one-hot (seed)"], prompt[-PROMPT:], chars)
    results["seed_path"] = seed
    rows = []
    for name, model in models.items():
        entry: dict = {"parameters": int(model.count_params())}
        short = prompt[-PROMPT:]
        for batch in args.batches:
            entry[f"batch{batch}"] = {
                "engine": compiled(model, short, batch, True, args.repeats),
                "engine, no stats": compiled(model, short, batch, False, args.repeats)}
            if batch >= 16:
                entry[f"batch{batch}"]["engine, 1 thread"] = compiled(
                    model, short, batch, True, args.repeats, threads=1)
            entry[f"batch{batch}"]["model step only, 1 thread"] = _floor(model, short, batch,
                                                                         args.repeats)
            if "conv" in name:
                entry[f"batch{batch}"]["recomputed"] = recomputed(model, prompt, batch,
                                                                  args.repeats)
            for variant, r in entry[f"batch{batch}"].items():
                rows.append([name, batch, variant, r["chars_per_second"],
                             1e6 * r["seconds"] / LENGTH,
                             r["compile_seconds"]])
        results["models"][name] = entry
        console.print(f"[dim]{name} done[/]")
    engine1 = results["models"]["lstm128 one-hot (seed)"]["batch1"]["engine"]
    results["ratio_batch1_vs_seed"] = engine1["chars_per_second"] / seed["chars_per_second"]
    table("Generation speed (400 chars after a 60-char prompt; median of timed calls)",
          ["model", "batch", "path", "chars/s", "us/step", "compile s"], rows)
    table("Seed-style path (model.predict per char, numpy sample)",
          ["chars timed", "s/char", "chars/s", "400-char sample s (extrapolated)",
           "compiled batch 1 / seed"],
          [[SEED_CHARS, seed["seconds_per_char"], seed["chars_per_second"],
            seed["sample_400_seconds_extrapolated"], results["ratio_batch1_vs_seed"]]])
    save("generation_speed", results)


def _floor(model, prompt: np.ndarray, batch: int, repeats: int) -> dict:
    run = model_step_only(model)
    rows = np.repeat(prompt[None], batch, axis=0)
    t = timed(lambda: run(rows), repeats)
    # The floor loop steps over the prompt too (LENGTH + PROMPT - 1 steps, like the engine).
    return {**t, "chars_per_second": batch * LENGTH / t["seconds"]}


if __name__ == "__main__":
    main()
