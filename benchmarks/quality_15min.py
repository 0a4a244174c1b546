"""What held-out bpc does the project's best spec reach in 15 minutes of training here?

    python benchmarks/quality_15min.py [--spec experiments/nietzsche_fast.yaml] [--reuse]

Runs the spec (``training.max_seconds: 900``) as a child ``textgen run``, then reports the best
held-out bpc of the epochs whose training ended within 900 s of wall clock (earlier scoring
included), beside the target of 1.85. Writes ``benchmarks/results/quality_15min.{json,png}``.
"""

from __future__ import annotations

import argparse
import json
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

TARGET, BUDGET = 1.85, 900.0


def plot(history: list[dict], path: Path, label: str) -> None:
    fig, ax = bpc_axes("seconds", "Quality at a 15-minute budget, 2 CPU cores")
    ax.plot([r["elapsed_seconds"] for r in history], [r["val_bpc"] for r in history],
            marker="o", ms=3, label=f"{label} (wall clock)")
    ax.plot([r["train_seconds"] for r in history], [r["val_bpc"] for r in history],
            ls="--", alpha=0.6, label=f"{label} (train seconds)")
    ax.axhline(TARGET, color="grey", ls=":", lw=0.8, label=f"target {TARGET}")
    ax.axvline(BUDGET, color="red", ls=":", lw=0.8, label="15 minutes")
    save_figure(fig, ax, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "experiments/nietzsche_fast.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/bench")
    parser.add_argument("--reuse", action="store_true", help="report a finished run in --out")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    args = parser.parse_args()
    from textgen import rundir
    from textgen.training.callbacks import read_history

    run_dir = args.out.resolve() / args.spec.stem
    record = run_dir.with_suffix(".child.json")
    if args.reuse and record.is_file():
        child = json.loads(record.read_text())
    else:
        if not args.no_wait:
            wait_for_quiet()
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        console.print(f"training {args.spec} -> {run_dir} (15 minutes)")
        child = run_child([*textgen_cmd(), "run", str(args.spec.resolve()), "--output-dir",
                           str(run_dir), "--overwrite"], log=run_dir.with_suffix(".log"))
        if child["returncode"] != 0:
            raise SystemExit(f"{args.spec} failed; see {run_dir.with_suffix('.log')}")
        record.write_text(json.dumps(child, indent=2))
    history = read_history(run_dir / "history.csv")
    # An epoch counts if its training ended within the budget (its scoring may end just after).
    within = [r for r in history
              if r["elapsed_seconds"] - r.get("eval_seconds", 0.0) <= BUDGET + 1.0] or history[:1]
    best = min(within, key=lambda r: r["val_bpc"])
    metrics = rundir.load_metrics(run_dir)
    data = {"spec": str(args.spec.resolve().relative_to(ROOT)), "target_val_bpc": TARGET,
            "budget_seconds": BUDGET, "best_val_bpc": best["val_bpc"],
            "best_epoch": best["epoch"], "best_elapsed_seconds": best["elapsed_seconds"],
            "best_train_seconds": best["train_seconds"], "met": best["val_bpc"] <= TARGET,
            "epochs": len(history), "parameters": metrics.parameters,
            "train_chars_per_second": metrics.train_chars_per_second,
            "child": child, "history": history}
    plot(history, RESULTS / "quality_15min.png", args.spec.stem)
    table(f"Held-out bpc within {BUDGET:.0f} s of training (target {TARGET})",
          ["spec", "best bpc", "epoch", "wall s", "train s", "epochs", "chars/s", "peak MB",
           "met"],
          [[args.spec.stem, best["val_bpc"], best["epoch"], best["elapsed_seconds"],
            best["train_seconds"], len(history), data["train_chars_per_second"],
            child["peak_rss_mb"], data["met"]]])
    save("quality_15min", data)


if __name__ == "__main__":
    main()
