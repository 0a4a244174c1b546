"""``textgen baseline SPEC``: reference models on the spec's split, beside finished runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from textgen.cli import _debug_option, cli, console


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run", "run_dirs", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A finished run on the same corpus to list beside them (repeatable).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the rows to this JSON file.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Change one spec value before validation, as for `run` (repeatable).")
@_debug_option
def baseline(spec_path: Path, run_dirs: tuple[Path, ...], json_path: Path | None,
             overrides: tuple[str, ...]) -> None:
    """Score SPEC_PATH's held-out text with a Kneser-Ney n-gram and compressors.

    The same characters as the runs' val_bpc: the compressors are conditioned on the training
    text (size(train + held-out) - size(train)); runs given with --run join the table.
    """
    from rich.table import Table

    from textgen.baselines.references import Reference, all_references
    from textgen.corpus.prepare import prepare_corpus
    from textgen.spec.overrides import load_with_overrides

    spec = load_with_overrides(spec_path, overrides)
    corpus = prepare_corpus(spec)
    context = spec.evaluation.context
    held_out = corpus.vocab.decode(corpus.scoring_ids[context:])
    rows = all_references(corpus.train_text, held_out, context)
    rows += [row for run_dir in run_dirs for row in _run_rows(run_dir, spec)]

    table = Table(title=f"held-out bits per character: {spec.corpus.name or spec.corpus.path}, "
                        f"{len(held_out):,} characters, each with >= {context} before it")
    for column in ("reference", "held-out bpc", "seconds", "kind", "note"):
        table.add_column(column, justify="right" if column in ("held-out bpc", "seconds")
                         else "left")
    for row in sorted(rows, key=lambda r: (r.bpc is None, r.bpc or 0.0)):
        table.add_row(row.name, "-" if row.bpc is None else f"{row.bpc:.4f}",
                      f"{row.seconds:.1f}", row.kind, row.note)
    console.print(table)
    if json_path is not None:
        payload = {"spec": spec.name, "held_out_chars": len(held_out), "context": context,
                   "rows": [Reference.as_dict(r) for r in rows]}
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        console.print(f"Wrote {json_path}")


def _run_rows(run_dir: Path, spec) -> list:
    """A finished run's static and dynamic figures, checked to come from the same split."""
    from textgen import rundir
    from textgen.baselines.references import Reference
    from textgen.errors import RunError

    run_spec = rundir.load_spec(run_dir)
    if (run_spec.corpus, run_spec.evaluation.context) != (spec.corpus, spec.evaluation.context):
        raise RunError(f"{run_dir} was scored on another corpus, split or context than "
                       f"{spec.name}; its val_bpc would not compare.")
    m = rundir.load_metrics(run_dir)
    if m.val_bpc is None or m.train_wall_seconds is None:
        raise RunError(f"{run_dir}'s metrics.json has no held-out bpc or training time.")
    mixed = f", with a {run_spec.ngram.order}-gram" if run_spec.ngram is not None else ""
    rows = [Reference(f"textgen {run_spec.name}", m.val_bpc, m.train_wall_seconds, "static",
                      f"{m.epochs} epochs{mixed}")]
    if m.val_bpc_network is not None:
        rows.append(Reference(f"textgen {run_spec.name}, network alone", m.val_bpc_network,
                              m.train_wall_seconds, "static", f"{m.epochs} epochs"))
    if m.val_bpc_dynamic is not None:
        rows.append(Reference(f"textgen {run_spec.name}, dynamic", m.val_bpc_dynamic,
                              m.train_wall_seconds, "adapts", "dynamic evaluation"))
    return rows
