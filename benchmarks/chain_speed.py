"""How much do the heavy sampler stages cost? chars/s of the compiled decoder at batch 64 with
the heaviest chain of issue 16 (DRY + XTC + top-n-sigma + temperature) against plain
temperature, and each of those stages alone, on the same model.

    python benchmarks/chain_speed.py [--run-dir RUN] [--no-wait] [--repeats 7]

``--run-dir`` takes a finished nietzsche_lstm run (its model and vocabulary); without it an
untrained model of the same shape is timed (speed does not depend on the weights). The settings
are timed in turns (plain, heavy, ... plain, heavy), so a change in the machine's load hits them
alike; the median of each is reported. Writes ``benchmarks/results/chain_speed.json``
(``chain_speed_statistics.json`` with ``--statistics``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from benchlib import console, save, table, wait_for_quiet

BATCH, LENGTH, PROMPT = 64, 400, 60
TARGET = 0.5  # the target: the heavy chain at least half as fast as plain temperature
SETTINGS = {
    "temperature 0.8 (plain)": [{"temperature": 0.8}],
    "dry + xtc + top_n_sigma + temperature": [
        {"dry": {"multiplier": 0.8, "allowed_length": 8}}, {"xtc": 0.5}, {"top_n_sigma": 1.0},
        {"temperature": 0.8}],
    "dry + temperature": [{"dry": {"multiplier": 0.8, "allowed_length": 8}},
                          {"temperature": 0.8}],
    # llama.cpp's default allowed_length 2: some 3-character repeat nearly every step, so DRY's
    # scatter runs nearly every step (with 8 it mostly skips it): the worst case
    "dry (allowed_length 2) + temperature": [{"dry": {"multiplier": 0.8}},
                                             {"temperature": 0.8}],
    "xtc + temperature": [{"xtc": 0.5}, {"temperature": 0.8}],
    "top_n_sigma + temperature": [{"top_n_sigma": 1.0}, {"temperature": 0.8}],
}


def load(run_dir: Path | None):
    """(model, vocabulary characters): a trained run's, or an untrained LSTM(128) emb 32."""
    if run_dir is not None:
        from textgen.rundir import load_trained

        _, model, vocab = load_trained(run_dir)
        return model, list(vocab.chars)
    import keras

    from textgen.backbones.lstm import LSTMBackbone
    from textgen.model import build_model

    chars = [chr(c) for c in range(32, 32 + 57)]
    keras.utils.set_random_seed(0)
    model = build_model(len(chars), LSTMBackbone(units=128), 32)
    model(np.zeros((1, PROMPT), np.int32))
    return model, chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="a finished nietzsche_lstm run")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--statistics", action="store_true",
                        help="also compute per-character entropies (as `textgen run` does)")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = parser.parse_args()
    if not args.no_wait:
        wait_for_quiet()

    from textgen.generation.engine import Decoder
    from textgen.generation.sampling import bind_vocabulary
    from textgen.samplers.build import build_chain

    model, chars = load(args.run_dir)
    rows = np.random.default_rng(0).integers(0, len(chars), size=(BATCH, PROMPT)).astype(np.int32)
    seeds, setting = np.arange(BATCH), np.zeros(BATCH, np.int32)
    decoders = {}
    for name, stages in SETTINGS.items():
        chain = build_chain(stages)
        bind_vocabulary([chain], chars)
        decoder = Decoder(model, [chain], statistics=args.statistics)
        start = time.perf_counter()
        decoder(rows, setting, seeds, LENGTH)  # trace, compile, run once
        decoders[name] = (decoder, time.perf_counter() - start)
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(args.repeats):  # in turns, so load changes hit every setting alike
        for name, (decoder, _) in decoders.items():
            start = time.perf_counter()
            decoder(rows, setting, seeds, LENGTH)
            times[name].append(time.perf_counter() - start)
    plain = BATCH * LENGTH / statistics.median(times["temperature 0.8 (plain)"])
    results, out = [], {}
    for name, ts in times.items():
        rate = BATCH * LENGTH / statistics.median(ts)
        out[name] = {"chars_per_second": rate, "relative_to_plain": rate / plain,
                     "first_call_seconds": decoders[name][1], "times": ts}
        results.append((name, rate, rate / plain, decoders[name][1]))
    table(f"chars/s at batch {BATCH}, {LENGTH} chars, statistics={args.statistics}",
          ["setting", "chars/s", "x plain", "first call s"], results)
    heavy = out["dry + xtc + top_n_sigma + temperature"]["relative_to_plain"]
    verdict = "meets" if heavy >= TARGET else "misses"
    console.print(f"heavy chain at {heavy:.2f} x plain temperature: {verdict} the target "
                  f"({TARGET:.1f} x)")
    name = "chain_speed_statistics" if args.statistics else "chain_speed"
    save(name, {"batch": BATCH, "length": LENGTH, "prompt": PROMPT, "repeats": args.repeats,
                "statistics": args.statistics,
                "run_dir": str(args.run_dir) if args.run_dir else None,
                "target_relative": TARGET, "settings": out})


if __name__ == "__main__":
    main()
