"""Beam search against greedy on a trained model, and what the regex stage costs.

    python benchmarks/decoding_strategies.py --run-dir runs/main/nietzsche_lstm [--no-wait]

Part 1, for a few held-out prompts: greedy, beam search (width 4 and 16) and stochastic beam
search (width 4), each 200 characters: total log-probability, bits per character, the share of
repeated 4-grams, and whether the text ends in a loop (its shortest repeating tail). Part 2:
chars/s at batch 64, 400 characters, of ``temperature 0.8`` with and without a ``regex`` stage
in front, timed in turns, medians. Writes ``benchmarks/results/decoding_strategies.json``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np
from benchlib import console, save, table, wait_for_quiet

LENGTH, BATCH, SPEED_LENGTH = 200, 64, 400
PROMPTS = ["the philosopher who has to be made", "what is it that we love in",
           "the christian and the free spirit", "morality as the will to power is"]
REGEX = r"([a-z ,;'-]+\. )+"  # sentences of lowercase words: never complete, so rows run to
# the full length and the timing compares equal work
SETTINGS = {"greedy": "greedy", "beam 4": {"beam": 4}, "beam 16": {"beam": 16},
            "stochastic beam 4": {"stochastic_beam": 4}}


def loop_period(text: str, max_period: int = 60) -> int | None:
    """The shortest period p such that the last 3p characters repeat with period p."""
    for p in range(1, max_period + 1):
        tail = text[-3 * p:]
        if len(tail) == 3 * p and tail[:p] * 3 == tail:
            return p
    return None


def repeated_4grams(text: str) -> float:
    grams = [text[i:i + 4] for i in range(len(text) - 3)]
    return 1 - len(set(grams)) / max(len(grams), 1)


def compare_decoders(model, vocab) -> list[dict]:
    from textgen.generation.sampling import generate, plan_rows
    from textgen.samplers.build import build_chain

    chains = [build_chain(s) for s in SETTINGS.values()]
    rows = plan_rows(PROMPTS, len(chains), 1, seed=0, coupled=True)
    samples = generate(model, vocab, chains, rows, LENGTH)
    out = []
    for s in samples:
        total = float(sum(s.token_logprob))
        out.append({"setting": list(SETTINGS)[s.setting], "prompt": s.prompt, "text": s.text,
                    "total_logprob": total, "bits_per_char": -total / len(s.text) / math.log(2),
                    "repeated_4grams": repeated_4grams(s.text),
                    "loop_period": loop_period(s.text)})
    return out


def regex_speed(model, vocab, repeats: int) -> dict:
    from textgen.generation.engine import Decoder
    from textgen.samplers.build import build_chain

    settings = {"temperature 0.8": [{"temperature": 0.8}],
                "regex + temperature 0.8": [{"regex": REGEX}, {"temperature": 0.8}]}
    prompt = np.stack([vocab.encode(PROMPTS[0])] * BATCH)
    timings: dict[str, list[float]] = {name: [] for name in settings}
    cpu: dict[str, list[float]] = {name: [] for name in settings}  # robust to others' load
    decoders = {}
    for name, setting in settings.items():
        chain = build_chain(setting)
        for stage in chain.stages:
            stage.bind(vocab)
        decoders[name] = Decoder(model, [chain], statistics=False)
        decoders[name](prompt, np.zeros(BATCH), np.arange(BATCH), SPEED_LENGTH)  # compile
    for _ in range(repeats):
        for name, decoder in decoders.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            out = decoder(prompt, np.zeros(BATCH), np.arange(BATCH), SPEED_LENGTH)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
            assert not out.finish.any()  # every row ran the full length
            timings[name].append(BATCH * SPEED_LENGTH / seconds)
            cpu[name].append(BATCH * SPEED_LENGTH / cpu_seconds)
    medians = {name: statistics.median(v) for name, v in timings.items()}
    cpu_medians = {name: statistics.median(v) for name, v in cpu.items()}
    plain, constrained = medians.values()
    plain_cpu, constrained_cpu = cpu_medians.values()
    return {"chars_per_second": medians, "chars_per_cpu_second": cpu_medians, "all": timings,
            "all_cpu": cpu, "pattern": REGEX, "overhead": 1 - constrained / plain,
            "overhead_cpu": 1 - constrained_cpu / plain_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-wait", action="store_true", help="measure on a busy machine")
    parser.add_argument("--part", choices=["all", "beam", "regex"], default="all")
    args = parser.parse_args()
    from textgen import rundir

    _, model, vocab = rundir.load_trained(args.run_dir)
    results = compare_decoders(model, vocab) if args.part != "regex" else []
    table("Beam against greedy (200 chars)",
                        ["setting", "prompt", "total ln p", "bits/char", "rep. 4-grams", "loop"],
                        [[r["setting"], r["prompt"][:24], f"{r['total_logprob']:.1f}",
                          f"{r['bits_per_char']:.3f}", f"{r['repeated_4grams']:.2f}",
                          str(r["loop_period"] or "-")] for r in results])
    for r in results:
        console.print(f"[bold]{r['setting']}[/] | {r['prompt']}[dim]{r['text']}[/]",
                      highlight=False)
    if args.part == "beam":
        save("decoding_strategies_beam", {"run_dir": str(args.run_dir), "beam_vs_greedy": results})
        return
    if not args.no_wait:
        wait_for_quiet()
    speed = regex_speed(model, vocab, args.repeats)
    table("regex stage overhead (batch 64, 400 chars)", ["setting", "chars/s"],
          [[k, f"{v:,.0f}"] for k, v in speed["chars_per_second"].items()])
    console.print(f"overhead: {speed['overhead']:.1%} wall, {speed['overhead_cpu']:.1%} CPU time "
                  f"({speed['chars_per_cpu_second']})")
    name = "decoding_strategies" if results else "decoding_strategies_regex"
    save(name, {"run_dir": str(args.run_dir), "beam_vs_greedy": results, "regex_speed": speed})


if __name__ == "__main__":
    main()
