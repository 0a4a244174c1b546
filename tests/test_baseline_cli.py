"""``textgen baseline``: references and finished runs on one split, in one table."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from textgen import rundir
from textgen.cli import cli

SMOKE_SPEC = str(Path(__file__).resolve().parent.parent / "experiments" / "smoke.yaml")


def test_baseline_lists_references_and_the_run(tiny_run, tmp_path) -> None:
    out = tmp_path / "baseline.json"
    result = CliRunner().invoke(cli, ["baseline", SMOKE_SPEC, "--run", str(tiny_run),
                                      "--json", str(out), "--set", "training.epochs=1"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(out.read_text())["rows"]}
    kn = next(row for name, row in rows.items() if name.startswith("Kneser-Ney"))
    assert 0 < kn["bpc"] < 8 and kn["kind"] == "static"
    assert 0 < rows["bz2 -9 (Burrows-Wheeler)"]["bpc"] < 9
    assert rows["textgen smoke"]["bpc"] == rundir.load_metrics(tiny_run).val_bpc
    assert "Kneser-Ney" in result.output and "textgen smoke" in result.output


def test_a_run_on_another_split_is_refused(tiny_run) -> None:
    result = CliRunner().invoke(cli, ["baseline", SMOKE_SPEC, "--run", str(tiny_run),
                                      "--set", "evaluation.context=40"])
    assert result.exit_code == 2
    assert "would not compare" in result.output
