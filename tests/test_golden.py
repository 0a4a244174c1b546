"""Golden samples: the smoke spec's run gives these exact texts for its fixed seeds.

A refactor must leave them unchanged; a change that is meant to alter what a seed generates
(the model, the noise, a sampler's arithmetic) regenerates the file on purpose:
``TEXTGEN_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and says why in its commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from textgen.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "experiments" / "smoke.yaml"
GOLDEN = Path(__file__).parent / "golden" / "smoke_samples.json"


@pytest.mark.parametrize("xla", ["true", "false"])
def test_the_smoke_run_generates_the_golden_samples(tmp_path, xla):
    """With or without XLA, the decoding loop draws the same characters."""
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(SMOKE), "--output-dir", str(out),
                                      "--set", f"generation.jit_compile={xla}"])
    assert result.exit_code == 0, result.output
    lines = (out / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    got = [{key: json.loads(line)[key] for key in ("sampler", "seed", "prompt", "text")}
           for line in lines]
    if os.environ.get("TEXTGEN_UPDATE_GOLDEN") and xla == "true":
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(GOLDEN.read_text(encoding="utf-8"))
