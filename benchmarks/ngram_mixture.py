"""Held-out bpc of a finished run's network mixed with Kneser-Ney n-grams of several orders
and weights: how `ngram.order` and `ngram.weight` of the specs were chosen.

    python benchmarks/ngram_mixture.py RUN_DIR [RUN_DIR ...] [--orders 7 10]
        [--weights 0.5 0.55 0.6 0.65 0.7 0.75 0.8 0.85]

Each held-out character is scored as the run's ``val_bpc`` scores it: the network alone once,
then ``weight * p_network + (1 - weight) * p_ngram`` for every order and weight (the n-gram
counted on the run's training text). Writes ``benchmarks/results/ngram_mixture.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from benchlib import save, table


def mixtures(run_dir: Path, orders: list[int], weights: list[float]) -> dict:
    from textgen.baselines.mixture import NgramMix
    from textgen.corpus.prepare import prepare_corpus
    from textgen.model import network
    from textgen.rundir import load_trained
    from textgen.training.evaluate import held_out_bits

    spec, model, _ = load_trained(run_dir)
    corpus = prepare_corpus(spec)
    e = spec.evaluation
    p_network = 2.0 ** -held_out_bits(network(model), corpus.scoring_ids, e.context, e.stride,
                                      e.batch_size)
    grid = {}
    for order in orders:
        ngram = NgramMix(len(corpus.vocab), order, 0.5, len(corpus.train_ids))
        ngram.set_text(corpus.train_ids)
        p_ngram = ngram.next_probs(corpus.scoring_ids, e.context)
        grid[order] = {"ngram_alone": float(-np.log2(p_ngram).mean()),
                       **{str(w): float(-np.log2(w * p_network + (1 - w) * p_ngram).mean())
                          for w in weights}}
    return {"run": str(run_dir), "network_alone": float(-np.log2(p_network).mean()),
            "orders": grid}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--orders", type=int, nargs="+", default=[7, 10])
    parser.add_argument("--weights", type=float, nargs="+",
                        default=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85])
    args = parser.parse_args()
    results = [mixtures(run, args.orders, args.weights) for run in args.runs]
    rows = []
    for r in results:
        for order, scores in r["orders"].items():
            best = min(args.weights, key=lambda w: scores[str(w)])
            rows.append([r["run"], f"{r['network_alone']:.4f}", str(order),
                         f"{scores['ngram_alone']:.4f}", f"{scores[str(best)]:.4f}", str(best)])
    table("network mixed with a Kneser-Ney n-gram (held-out bpc)",
          ["run", "network", "order", "n-gram", "mixed", "best weight"], rows)
    save("ngram_mixture", {"results": results})


if __name__ == "__main__":
    main()
