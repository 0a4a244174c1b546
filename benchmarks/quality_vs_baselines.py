"""Held-out bpc of textgen's specs beside a Kneser-Ney n-gram and compressors, on one split.

    python benchmarks/quality_vs_baselines.py [--spec experiments/nietzsche_lstm.yaml ...]
        [--reuse] [--no-wait] [--name quality_vs_baselines]

Scores the references (``textgen baseline``'s: the n-gram with its order tuned on the training
text, bz2, lzma, PPMd, zpaq when on PATH) on the first spec's split, then runs each spec as a
child ``textgen run`` (whole command: wall clock and peak resident memory) one after another,
and writes ``benchmarks/results/<name>.{json,png}``: every run's held-out bpc by epoch against
wall clock, its dynamic-evaluation figure, and the references as horizontal lines.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from benchlib import (
    RESULTS,
    ROOT,
    bpc_axes,
    console,
    run_child,
    save,
    save_figure,
    table,
    textgen_cmd,
    wait_for_quiet,
)

SPECS = ["experiments/nietzsche_lstm.yaml", "experiments/nietzsche_fast.yaml",
         "experiments/nietzsche_conv.yaml"]


def cpu_flags() -> str:
    """The vector extensions that matter for TensorFlow's CPU kernels."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                    if f in flags) or "none of avx2/avx512"


def references(spec_path: Path) -> list[dict]:
    from textgen.baselines.references import all_references
    from textgen.corpus.prepare import prepare_corpus
    from textgen.spec import load

    spec = load(spec_path)
    corpus = prepare_corpus(spec)
    context = spec.evaluation.context
    held_out = corpus.vocab.decode(corpus.scoring_ids[context:])
    return [r.as_dict() for r in all_references(corpus.train_text, held_out, context)]


def run_spec(spec: Path, out: Path, reuse: bool) -> dict:
    """One whole ``textgen run`` of ``spec`` (or its recorded result with ``reuse``)."""
    from textgen import rundir
    from textgen.training.callbacks import read_history

    run_dir = out / spec.stem
    record = run_dir.with_suffix(".child.json")
    if reuse and record.is_file():
        child = json.loads(record.read_text())
    else:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"running {spec} -> {run_dir}")
        load_before = os.getloadavg()
        child = run_child([*textgen_cmd(), "run", str(spec), "--output-dir", str(run_dir),
                           "--overwrite"], log=run_dir.with_suffix(".log"))
        child["load_before"], child["load_after"] = load_before, os.getloadavg()
        if child["returncode"] != 0:
            raise SystemExit(f"{spec} failed; see {run_dir.with_suffix('.log')}")
        record.write_text(json.dumps(child, indent=2))
    metrics = rundir.load_metrics(run_dir)
    return {"spec": str(spec.relative_to(ROOT)), "name": spec.stem,
            "val_bpc": metrics.val_bpc, "val_bpc_dynamic": metrics.val_bpc_dynamic,
            "epochs": metrics.epochs, "parameters": metrics.parameters,
            "train_seconds": metrics.train_seconds, "child": child,
            "history": read_history(run_dir / "history.csv")}


def plot(refs: list[dict], runs: list[dict], path: Path) -> None:
    fig, ax = bpc_axes("wall-clock seconds (whole command: training, scoring, generation)",
                       "Held-out bpc against wall clock, with reference models", size=(9, 5))
    for run in runs:
        h = run["history"]
        line, = ax.plot([r["elapsed_seconds"] for r in h], [r["val_bpc"] for r in h],
                        marker="o", ms=3, label=f"{run['name']} (static, by epoch)")
        if run["val_bpc_dynamic"] is not None:
            ax.plot([run["child"]["wall_seconds"]], [run["val_bpc_dynamic"]], marker="*",
                    ms=12, ls="", color=line.get_color(), label=f"{run['name']} dynamic")
    for i, ref in enumerate(r for r in refs if r["bpc"] is not None):
        ax.axhline(ref["bpc"], color=f"C{(i + 4) % 10}", ls=":" if ref["kind"] == "adapts"
                   else "--", lw=1, label=f"{ref['name']} ({ref['kind']})")
    low = min([r["bpc"] for r in refs if r["bpc"] is not None]
              + [r["val_bpc"] for r in runs] + [1.7])
    ax.set_ylim(low - 0.05, 2.5)
    save_figure(fig, ax, path, legend_size=7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, action="append",
                        help=f"a spec to run (repeatable; default {', '.join(SPECS)})")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/bench")
    parser.add_argument("--name", default="quality_vs_baselines", help="results file name")
    parser.add_argument("--reuse", action="store_true", help="report finished runs in --out")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = parser.parse_args()
    specs = [(ROOT / s).resolve() for s in (args.spec or SPECS)]

    refs = references(specs[0])
    runs = []
    for spec in specs:
        if not args.no_wait and not args.reuse:
            wait_for_quiet()
        runs.append(run_spec(spec, args.out.resolve(), args.reuse))

    table("references (same held-out characters)", ["reference", "held-out bpc", "seconds",
                                                    "kind", "note"],
          [[r["name"], r["bpc"], r["seconds"], r["kind"], r["note"]] for r in refs])
    table("textgen runs (whole command)", ["spec", "epochs", "static bpc", "dynamic bpc",
                                           "train s", "wall s", "peak MB", "load before"],
          [[r["name"], r["epochs"], r["val_bpc"], r["val_bpc_dynamic"], r["train_seconds"],
            r["child"]["wall_seconds"], r["child"]["peak_rss_mb"],
            r["child"].get("load_before", [None])[0]] for r in runs])
    plot(refs, runs, RESULTS / f"{args.name}.png")
    save(args.name, {"cpu_flags": cpu_flags(), "references": refs, "runs": runs})


if __name__ == "__main__":
    main()
