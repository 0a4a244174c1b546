"""What do the sample metrics cost next to generation? And how much do coupled pairs narrow the
interval of a difference between two settings?

    python benchmarks/metrics_cost.py --run-dir runs/main/nietzsche_lstm [--no-wait]

On a trained Nietzsche model, generates ``experiments/entropy_report.yaml``'s sweep (9 settings
x 4 prompts x 4 samples = 144 samples of 300 characters, coupled) as a run does, timing it
(decoder compile included, as in metrics.json; and warm), then times every metric part the run
adds: the training-text index (word vocabulary, copy windows, Kneser-Ney judge), the per-sample
rows of all settings with their summaries and paired comparisons, and the held-out row (the
model reading 64 pieces, then the same metrics). Each metric part is the median of 3 repeats.
Writes ``benchmarks/results/metrics_cost.json`` with the paired and unpaired (Welch) interval
widths of every comparison against temperature 0.8.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy beside TF: no BLAS thread fight

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from benchlib import ROOT, console, save, table, wait_for_quiet  # noqa: E402

REPEATS = 3


CPU: dict[str, float] = {}  # the CPU seconds of each part (this process, all threads)


def median_time(call, repeats: int = REPEATS, name: str = ""):
    """Median wall seconds of ``repeats`` calls and the last result; the median CPU seconds
    go to ``CPU[name]`` (on a busy machine wall time is inflated, CPU time much less)."""
    times, cpu, out = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = call()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    if name:
        CPU[name] = statistics.median(cpu)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a trained Nietzsche run")
    parser.add_argument("--spec", type=Path, default=ROOT / "experiments" / "entropy_report.yaml")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = parser.parse_args()
    if not args.no_wait:
        wait_for_quiet(max_load=1.5, poll_seconds=30, give_up_seconds=600)

    import textgen.backbones.lstm  # noqa: F401  (registers the class the saved model names)
    from textgen import rundir
    from textgen import spec as specs
    from textgen.corpus.prepare import draw_prompts, prepare_corpus
    from textgen.generation.engine import Decoder
    from textgen.generation.reading import read_texts
    from textgen.generation.sampling import generate, plan_rows
    from textgen.metrics import TrainingIndex, word_vocabulary
    from textgen.metrics.copying import CopyIndex
    from textgen.metrics.judge import fit_judge
    from textgen.metrics.summary import setting_rows
    from textgen.metrics.sweep import summarize_sweep
    from textgen.report.reference import held_out_pieces
    spec = specs.load(args.spec)
    corpus = prepare_corpus(spec)
    _, model, _ = rundir.load_trained(args.run_dir, corpus.vocab)
    g, r = spec.generation, spec.report
    chains = g.chains()
    prompts = draw_prompts(corpus.val_text, g.prompts, g.prompt_length, spec.seed)
    rows = plan_rows(prompts, len(chains), g.num_samples, spec.seed, g.coupled)

    start, start_cpu = time.perf_counter(), time.process_time()  # as experiment.run times it
    samples = generate(model, corpus.vocab, chains, rows, g.length, g.batch_size)
    gen_first = time.perf_counter() - start  # the decoder is built and compiled inside
    gen_first_cpu = time.process_time() - start_cpu
    decoder = Decoder(model, chains)
    generate(model, corpus.vocab, chains, rows, g.length, g.batch_size, decoder=decoder)
    gen_warm, _ = median_time(lambda: generate(model, corpus.vocab, chains, rows, g.length,
                                               g.batch_size, decoder=decoder), name="warm")

    train = corpus.train_text
    alphabet = "".join(corpus.vocab.chars)
    names = ["word vocabulary", "copy index (16-char windows)",
             f"judge fit (Kneser-Ney order {r.judge_order})"]
    parts = {
        names[0]: median_time(lambda: word_vocabulary(train), name=names[0])[0],
        names[1]: median_time(lambda: CopyIndex(train, r.copy_window), name=names[1])[0],
        names[2]: median_time(lambda: fit_judge(train, r.judge_order, alphabet),
                              name=names[2])[0],
    }
    index = TrainingIndex.build(train, r.copy_window, r.judge_order, alphabet,
                                r.self_bleu_samples)
    settings = [(c.label(), c.get_config()) for c in chains]
    name = f"{len(samples)} samples: rows, summaries, comparisons"
    parts[name], sweep = median_time(
        lambda: summarize_sweep(samples, settings, index, compare=spec.compare_pairs()),
        name=name)
    pieces = held_out_pieces(corpus.val_text, r.reference_pieces, g.prompt_length, g.length,
                             corpus.vocab)
    read_texts(model, corpus.vocab, pieces)  # trace once, as a run does
    name = f"held-out row: model reads {len(pieces)} pieces (traced)"
    parts[name], reference = median_time(lambda: read_texts(model, corpus.vocab, pieces),
                                         name=name)
    name = f"held-out row: metrics of {len(pieces)} pieces"
    parts[name] = median_time(lambda: setting_rows(reference, index), name=name)[0]
    samples_total = sum(v for k, v in parts.items() if not k.startswith("held-out"))
    samples_cpu = sum(v for k, v in CPU.items() if k in parts and not k.startswith("held-out"))
    total = sum(parts.values())
    total_cpu = sum(CPU[k] for k in parts)

    table("Metric cost (median of 3)", ["part", "wall s", "of generation", "CPU s",
                                        "of generation CPU"],
          [[k, v, v / gen_first, CPU[k], CPU[k] / gen_first_cpu] for k, v in parts.items()]
          + [["all sample metrics (index included)", samples_total, samples_total / gen_first,
              samples_cpu, samples_cpu / gen_first_cpu],
             ["everything, held-out row included", total, total / gen_first, total_cpu,
              total_cpu / gen_first_cpu]])
    table(f"Generation of the same {len(samples)} samples", ["", "wall s", "CPU s"],
          [["as a run times it (decoder built and compiled)", gen_first, gen_first_cpu],
           ["warm (compiled decoder)", gen_warm, CPU["warm"]]])

    widths = []
    for comp in sweep["comparisons"]:
        for key, (_, low, high) in comp["difference"].items():
            _, ulow, uhigh = comp["unpaired"][key]
            if any(v != v for v in (low, high, ulow, uhigh)) or uhigh - ulow <= 0:  # NaN
                continue
            widths.append({"setting": comp["setting"], "baseline": comp["baseline"],
                           "metric": key, "paired_half_width": (high - low) / 2,
                           "unpaired_half_width": (uhigh - ulow) / 2,
                           "ratio": (high - low) / (uhigh - ulow),
                           "paired_excludes_zero": low > 0 or high < 0,
                           "unpaired_excludes_zero": ulow > 0 or uhigh < 0})
    by_metric: dict[str, list[float]] = {}
    for w in widths:
        by_metric.setdefault(w["metric"], []).append(w["ratio"])
    table("Paired / unpaired interval width, over the settings compared with temperature 0.8",
          ["metric", "median ratio", "min", "max"],
          [[k, statistics.median(v), min(v), max(v)] for k, v in by_metric.items()])
    save("metrics_cost", {
        "run_dir": str(args.run_dir), "spec": str(args.spec), "samples": len(samples),
        "length": g.length, "generation_seconds_first": gen_first,
        "generation_cpu_seconds_first": gen_first_cpu, "generation_seconds_warm": gen_warm,
        "generation_cpu_seconds_warm": CPU["warm"], "parts_seconds": parts,
        "parts_cpu_seconds": {k: CPU[k] for k in parts},
        "sample_metrics_seconds": samples_total, "sample_metrics_cpu_seconds": samples_cpu,
        "total_seconds": total, "total_cpu_seconds": total_cpu,
        "sample_metrics_share_of_generation": samples_total / gen_first,
        "sample_metrics_cpu_share_of_generation_cpu": samples_cpu / gen_first_cpu,
        "total_share_of_generation": total / gen_first,
        "interval_widths": widths,
        "median_width_ratio": {k: statistics.median(v) for k, v in by_metric.items()}})
    console.print(f"all sample metrics: {samples_total:.2f} s = "
                  f"{100 * samples_total / gen_first:.1f}% of generation ({gen_first:.2f} s); "
                  f"CPU {samples_cpu:.2f} s = {100 * samples_cpu / gen_first_cpu:.1f}% of "
                  f"generation's {gen_first_cpu:.2f} s")


if __name__ == "__main__":
    main()
