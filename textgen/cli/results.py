"""Commands that read: ``report``, ``validate`` and ``plugins``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from textgen.cli import _debug_option, cli, console


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@_debug_option
def report(run_dir: Path) -> None:
    """Re-render RUN_DIR's tables and report from its saved results (no recomputing)."""
    from textgen import rundir
    from textgen.report.markdown import write_report
    from textgen.report.tables import print_run

    spec = rundir.load_spec(run_dir)
    metrics = rundir.load_metrics(run_dir)
    samples = rundir.load_samples(run_dir)
    print_run(console, metrics, samples, spec)
    write_report(run_dir, metrics, samples, spec)


@cli.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Change one spec value before validation, as for `run` (repeatable).")
@_debug_option
def validate(spec_path: Path, overrides: tuple[str, ...]) -> None:
    """Check SPEC_PATH without running it: a spec, or a comparison file (one with `runs`)."""
    from rich.markup import escape

    from textgen.spec.comparison import is_comparison_file, load_comparison
    from textgen.spec.overrides import load_with_overrides

    if is_comparison_file(spec_path):
        comparison = load_comparison([spec_path], overrides)
        names = ", ".join(f"{s.name} ({s.backbone.type})" for s in comparison.specs)
        console.print(f"[green]ok[/] {escape(str(spec_path))}: comparison {comparison.name}, "
                      f"runs {names}")
        return
    spec = load_with_overrides(spec_path, overrides)
    chains = ", ".join(c.label() for c in spec.generation.chains())
    console.print(f"[green]ok[/] {escape(str(spec_path))}: {spec.name}, "
                  f"backbone {spec.backbone.type}, samplers {escape(chains)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_debug_option
def plugins(as_json: bool) -> None:
    """List backbones, samplers, decoders and metrics (plugins' and the report's built-in
    columns) with the distribution of each, and every plugin that failed to load, in full.

    With --strict-plugins (or TEXTGEN_STRICT_PLUGINS=1), any failure also makes the command
    exit with code 2, for a plugin's CI.
    """
    from textgen.metrics.summary import METRIC_INFO
    from textgen.plugins import DIST, KINDS, check_strict, registry
    from textgen.report.plugins import failures_text, plugins_table

    reg = registry(check=False)
    if as_json:
        data: dict = {kind: [{"name": e.name, "plugin": e.plugin, "dist": e.dist,
                              "version": e.version}
                             for (k, _), e in reg.entries.items() if k == kind]
                      for kind in KINDS}
        data["metrics"] += [{"name": name, "plugin": "(built-in report column)", "dist": DIST,
                             "version": ""} for name in METRIC_INFO]
        data["failures"] = [{"plugin": f.plugin, "dist": f.dist, "version": f.version,
                             "error": f.error} for f in reg.failures]
        click.echo(json.dumps(data, indent=2))
    else:
        console.print(plugins_table(reg, list(METRIC_INFO)))
        for line in failures_text(reg):
            console.print(line, highlight=False, soft_wrap=True)
    check_strict(reg)
