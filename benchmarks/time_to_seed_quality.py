"""How long until our LSTM spec matches the seed's best held-out score, and at what memory?

Runs ``seed_replica.yaml`` and the project's LSTM spec one after the other, each as a child
process (``textgen run``) on the same corpus split, then the seed's original script (one-hot
numpy arrays) for its memory and epoch time. Peak memory comes from each child's own rusage.

    python benchmarks/time_to_seed_quality.py [--ours experiments/nietzsche_lstm.yaml]
        [--out runs/bench] [--reuse] [--original-epochs 1] [--no-wait]

Time to quality counts ``train_seconds`` (time in training steps, no scoring or checkpoints);
wall clock is reported beside it. Writes ``benchmarks/results/time_to_seed_quality.{json,png}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
from pathlib import Path

from benchlib import (
    RESULTS,
    ROOT,
    bpc_axes,
    console,
    python_cmd,
    run_child,
    save,
    save_figure,
    table,
    textgen_cmd,
    wait_for_quiet,
)


def read_history(run_dir: Path) -> list[dict]:
    from textgen.training.callbacks import read_history as read

    return read(run_dir / "history.csv")


def train_run(spec: Path, run_dir: Path, reuse: bool) -> dict:
    """``textgen run`` as a child, or the record of an earlier one with ``--reuse``."""
    record = run_dir.with_suffix(".child.json")
    if reuse and record.is_file() and (run_dir / "metrics.json").is_file():
        console.print(f"[dim]reusing {run_dir}[/]")
        return json.loads(record.read_text())
    console.print(f"training {spec} -> {run_dir}")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    child = run_child([*textgen_cmd(), "run", str(spec), "--output-dir", str(run_dir),
                       "--overwrite"], log=run_dir.with_suffix(".log"))
    if child["returncode"] != 0:
        raise SystemExit(f"{spec} failed; see {run_dir.with_suffix('.log')}")
    record.write_text(json.dumps(child, indent=2))
    return child


def original_run(out: Path, epochs: int, reuse: bool) -> dict:
    record = out / "seed_original.child.json"
    if reuse and record.is_file():
        return json.loads(record.read_text())
    result = out / "seed_original.json"
    console.print(f"seed's original script, {epochs} epoch(s)")
    child = run_child([*python_cmd(), str(ROOT / "benchmarks" / "seed_original.py"),
                       "--epochs", str(epochs), "--json", str(result)],
                      log=out / "seed_original.log")
    if child["returncode"] != 0:
        raise SystemExit(f"seed_original.py failed; see {out / 'seed_original.log'}")
    child["result"] = json.loads(result.read_text())
    record.write_text(json.dumps(child, indent=2))
    return child


def summary(history: list[dict], window_chars: int) -> dict:
    best = min(history, key=lambda r: r["val_bpc"])
    seconds = [r["train_seconds"] for r in history]
    last = history[-1]
    return {"epochs": len(history), "best_val_bpc": best["val_bpc"], "best_epoch": best["epoch"],
            "best_train_seconds": best["train_seconds"],
            "best_elapsed_seconds": best["elapsed_seconds"],
            "train_seconds": last["train_seconds"], "elapsed_seconds": last["elapsed_seconds"],
            "targets_per_second": last["chars"] / last["train_seconds"],
            "chars_through_model_per_second": last["chars"] * window_chars
            / last["train_seconds"],
            "epoch_train_seconds_median": statistics.median(
                b - a for a, b in itertools.pairwise([0.0, *seconds]))}


def first_at(history: list[dict], target: float) -> dict | None:
    """The first epoch whose held-out score is at or below ``target``."""
    return next((r for r in history if r["val_bpc"] <= target), None)


def plot(runs: dict[str, list[dict]], target: float, path: Path) -> None:
    fig, ax = bpc_axes("seconds (log scale)", "Held-out bpc against training time, 2 CPU cores")
    for name, history in runs.items():
        line, = ax.plot([r["train_seconds"] for r in history], [r["val_bpc"] for r in history],
                        marker="o", ms=3, label=f"{name} (train seconds)")
        ax.plot([r["elapsed_seconds"] for r in history], [r["val_bpc"] for r in history],
                ls="--", color=line.get_color(), alpha=0.5, label=f"{name} (wall clock)")
    ax.axhline(target, color="grey", lw=0.8, ls=":", label=f"seed's best {target:.3f}")
    ax.set_xscale("log")
    save_figure(fig, ax, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-spec", type=Path, default=ROOT / "experiments/seed_replica.yaml")
    parser.add_argument("--ours", type=Path, default=ROOT / "experiments/nietzsche_lstm.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/bench")
    parser.add_argument("--original-epochs", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep finished runs in --out")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    parser.add_argument("--only", choices=["seed_replica", "ours", "seed_original"],
                        help="run just this part (later runs with --reuse pick it up)")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    children, histories = {}, {}
    for name, spec in (("seed_replica", args.seed_spec), ("ours", args.ours)):
        if args.only and args.only != name:
            continue
        if not args.no_wait:
            wait_for_quiet()
        children[name] = train_run(spec.resolve(), out / name, args.reuse)
        histories[name] = read_history(out / name)
    if not args.no_wait and args.only in (None, "seed_original"):
        wait_for_quiet()
    if args.only in (None, "seed_original"):
        original = original_run(out, args.original_epochs, args.reuse)
    if args.only:
        return

    seed = summary(histories["seed_replica"], 60)
    ours = summary(histories["ours"], 1)
    target = seed["best_val_bpc"]
    hit = first_at(histories["ours"], target)
    reached = None
    if hit:
        reached = {"epoch": hit["epoch"], "val_bpc": hit["val_bpc"],
                   "train_seconds": hit["train_seconds"],
                   "elapsed_seconds": hit["elapsed_seconds"],
                   "speedup_train_seconds": seed["best_train_seconds"] / hit["train_seconds"],
                   "speedup_wall_clock": seed["best_elapsed_seconds"] / hit["elapsed_seconds"]}
    epochs = original["result"]["epochs"]
    memory = {"seed_original_mb": original["peak_rss_mb"],
              "seed_replica_mb": children["seed_replica"]["peak_rss_mb"],
              "ours_mb": children["ours"]["peak_rss_mb"]}
    memory["ours_over_seed_original"] = memory["ours_mb"] / memory["seed_original_mb"]
    data = {"seed_spec": str(args.seed_spec.relative_to(ROOT)),
            "ours_spec": str(args.ours.relative_to(ROOT)), "target_val_bpc": target,
            "seed_replica": {**seed, **children["seed_replica"]},
            "ours": {**ours, **children["ours"], "reached": reached},
            "seed_original": {**original, "epoch_seconds": [e["seconds"] for e in epochs]},
            "memory": memory, "histories": histories}
    png = RESULTS / "time_to_seed_quality.png"
    plot({"seed_replica": histories["seed_replica"], args.ours.stem: histories["ours"]},
         target, png)

    table(f"Time to the seed's best held-out bpc ({target:.3f}): the epoch that reached it and "
          "its seconds (train s exclude scoring)",
          ["run", "best bpc", "epoch", "train s", "wall s", "targets/s", "peak MB"],
          [["seed_replica", seed["best_val_bpc"], seed["best_epoch"],
            seed["best_train_seconds"], seed["best_elapsed_seconds"],
            seed["targets_per_second"], memory["seed_replica_mb"]],
           ["ours: " + args.ours.stem, ours["best_val_bpc"], hit["epoch"] if hit else None,
            hit["train_seconds"] if hit else None, hit["elapsed_seconds"] if hit else None,
            ours["targets_per_second"], memory["ours_mb"]],
           ["seed_original.py (1 epoch)", None, len(epochs),
            epochs[0]["seconds"] if epochs else None, original["wall_seconds"], None,
            memory["seed_original_mb"]]])
    if reached:
        console.print(f"speed-up to the seed's best: {reached['speedup_train_seconds']:.1f}x in "
                      f"train seconds, {reached['speedup_wall_clock']:.1f}x in wall clock; "
                      f"memory {memory['ours_over_seed_original']:.2f} of the original's")
    else:
        console.print(f"[red]{args.ours.stem} never reached {target:.3f} "
                      f"(best {ours['best_val_bpc']:.3f})[/]")
    save("time_to_seed_quality", data)


if __name__ == "__main__":
    main()
